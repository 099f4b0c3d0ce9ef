#!/usr/bin/env bash
# Regenerates onnx/onnxpb/onnx.pb.go from Debian's onnx.proto (libonnx-dev).
# Builds do not need this: the generated file is committed.
#   apt-get install -y libonnx-dev protobuf-compiler
#   go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
proto=${ONNX_PROTO:-/usr/include/onnx/onnx.proto}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Drop the lite-runtime option (Go has no lite runtime) and add our go_package.
sed -e '/optimize_for = LITE_RUNTIME/d' "$proto" > "$tmp/onnx.proto"
printf '\noption go_package = "crsc/onnx/onnxpb";\n' >> "$tmp/onnx.proto"
PATH="$(go env GOPATH)/bin:$PATH" protoc -I "$tmp" --go_out="$tmp" --go_opt=paths=source_relative "$tmp/onnx.proto"
mv "$tmp/onnx.pb.go" "$root/onnx/onnxpb/onnx.pb.go"
echo "wrote onnx/onnxpb/onnx.pb.go from $proto"
