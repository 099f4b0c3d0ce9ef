#!/usr/bin/env bash
# The test command (README; .ci/run calls it). Runs vet and every test in the
# default pure-Go build, then the ONNX Runtime oracle tests (build tag `ort`,
# cgo) when the ORT library is available. On CI (CI set) the oracle is
# mandatory: a missing library fails the run instead of skipping.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== go vet (CGO_ENABLED=0)"
CGO_ENABLED=0 go vet ./...
echo "== go test (CGO_ENABLED=0)"
CGO_ENABLED=0 go test -count=1 ./...

lib=""
if [[ -n ${CRSC_ORT_LIB:-} ]]; then
	lib=$CRSC_ORT_LIB
elif compgen -G ".cache/ort/libonnxruntime.so*" >/dev/null; then
	lib=$(ls .cache/ort/libonnxruntime.so* | head -1)
fi
if [[ -z $lib ]]; then
	if [[ -n ${CI:-} ]]; then
		echo "ONNX Runtime library missing on CI: run scripts/fetch-ort.sh" >&2
		exit 1
	fi
	echo "== skipping ONNX Runtime oracle tests: run scripts/fetch-ort.sh to enable them"
	exit 0
fi
echo "== go test -tags ort (ONNX Runtime oracle: $lib)"
CGO_ENABLED=1 go test -count=1 -tags ort ./internal/ortoracle ./training/optim ./training/train ./runtime/...
