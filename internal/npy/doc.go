// Package npy reads and writes NumPy .npy files as ir.Tensor values.
//
// It exists so that tensors can cross the boundary between crsc and Python
// tooling (reference outputs, `crsc run` results) without a Python
// dependency: NumPy's own format is the lingua franca there. Only what that
// exchange needs is supported: little-endian f4/f8/i8/i4/b1/u1/i1/f2, C
// order, format versions 1.0 to 3.0. Anything else is rejected with a
// one-line error rather than guessed at.
package npy
