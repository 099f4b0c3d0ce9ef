#!/usr/bin/env bash
# Fetch the ONNX Runtime shared library used as the test oracle
# (internal/ortoracle, build tag `ort`) and print its path.
#
# The library comes from the onnxruntime-node npm tarball: `npm pack` only
# downloads the tarball, whereas `npm install` runs an install script that
# tries to download more at install time, which fails offline.
#
# Idempotent: does nothing but print the path when the library is present.
# Destination: $CRSC_CACHE if set, else <repo root>/.cache/ort/.
set -euo pipefail

ORT_VERSION=1.30.0
LIB_IN_TARBALL=package/bin/napi-v6/linux/x64/libonnxruntime.so.1

die() {
	echo "fetch-ort.sh: $*" >&2
	exit 1
}

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dest=${CRSC_CACHE:-$repo_root/.cache/ort}
lib=$dest/libonnxruntime.so.$ORT_VERSION

if [[ -s $lib ]]; then
	echo "$lib"
	exit 0
fi

case "$(uname -s)/$(uname -m)" in
Linux/x86_64) ;;
*) die "only linux/x86_64 is supported (got $(uname -s)/$(uname -m))" ;;
esac

command -v npm >/dev/null 2>&1 ||
	die "npm is required to fetch onnxruntime-node@$ORT_VERSION (apt-get install npm), or set CRSC_ORT_LIB to an existing libonnxruntime.so"
command -v tar >/dev/null 2>&1 || die "tar is required"

mkdir -p "$dest"
tmp=$(mktemp -d "$dest/.fetch.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

(cd "$tmp" && npm pack --silent "onnxruntime-node@$ORT_VERSION" >/dev/null) ||
	die "npm pack onnxruntime-node@$ORT_VERSION failed"
tarball=$(ls "$tmp"/onnxruntime-node-*.tgz 2>/dev/null | head -n1)
[[ -n $tarball ]] || die "npm pack produced no tarball"

tar -xzf "$tarball" -C "$tmp" "$LIB_IN_TARBALL" ||
	die "$LIB_IN_TARBALL not found in $(basename "$tarball")"
[[ -s $tmp/$LIB_IN_TARBALL ]] || die "$LIB_IN_TARBALL is empty"

# Rename into place last so a crash never leaves a half-written library
# that later runs would accept.
mv -f "$tmp/$LIB_IN_TARBALL" "$lib.part"
mv -f "$lib.part" "$lib"
ln -sfn "$(basename "$lib")" "$dest/libonnxruntime.so"

[[ -s $lib ]] || die "library missing after fetch: $lib"
echo "$lib"
