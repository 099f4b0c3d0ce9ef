//go:build ort

// Package ortoracle runs ONNX models through ONNX Runtime so tests can
// compare crsc's results against an independent implementation.
//
// It is test-only tooling: it needs cgo and the ONNX Runtime shared library
// (scripts/fetch-ort.sh), so every file sits behind the `ort` build tag and
// ordinary builds (CGO_ENABLED=0 included) never see it.
package ortoracle
