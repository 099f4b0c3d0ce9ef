// Package onnxpb holds the Go types generated from onnx.proto (ONNX 1.12,
// IR version 8, Debian's libonnx-dev) by scripts/genproto.sh. It is the only
// package in crsc that registers the onnx.* protobuf names.
package onnxpb
