// Package gemm is the float32 matrix multiply (C = alpha·op(A)·op(B) + beta·C,
// row-major) behind the CPU runtime's MatMul, Gemm and attention ops.
//
// It follows the GotoBLAS/BLIS design. A naive triple loop is memory-bound;
// to run at the FMA units' peak the inner loop must find its operands in
// cache and in registers. So blocks of A and B are first packed into
// contiguous buffers sized for L2 and L1 (see blockMC/blockKC/blockNC), in the
// exact order a small register-blocked micro-kernel consumes them. Packing
// also absorbs transposes, so NN, NT, TN and TT all run at the same speed.
//
// The micro-kernel (6×16 tile, 12 YMM accumulators, VFMADD231PS with
// broadcast A) is Go assembly because the Go compiler neither vectorises nor
// keeps a 6×16 tile in registers; it is chosen at run time when the CPU has
// AVX2 and FMA. Everywhere else, or with CRSC_GEMM=generic or the purego
// build tag, a pure-Go kernel with the same packed layout is used, which is
// also what the assembly is tested against.
//
// Work is spread over SetThreads goroutines (default GOMAXPROCS) by rows of C
// sharing one packed B; SgemmBatched instead runs small GEMMs of a batch in
// parallel. Packing buffers are pooled.
//
// OpenBLAS can be loaded at run time without cgo (OpenBLAS, via purego); it is
// the yardstick in the benchmarks and is used by Sgemm only when
// CRSC_GEMM=openblas is set and the library loads.
package gemm
