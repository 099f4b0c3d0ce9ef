// Package shapes holds the shape semantics of ONNX ops shared by every
// backend (runtime/cpu, runtime/gpu), so that the CPU and GPU cannot
// disagree on them: broadcasting, strides, axis normalization, Slice
// clamping, Reshape/Squeeze/Unsqueeze/Flatten, Transpose permutations,
// Concat/Split/Tile/Gather output shapes, MatMul batch broadcasting,
// reduction and normalization layouts.
//
// Every function is pure arithmetic on []int shapes and int64 attribute
// values; none allocates a tensor. Errors are plain and do not name the
// node: the CPU backend wraps them in its node-naming errf, so their words
// are the CPU's error messages; the GPU backend treats any error as "let
// the CPU kernel run (and report it)".
package shapes
