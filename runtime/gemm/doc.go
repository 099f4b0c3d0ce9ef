// Package gemm is the float32 matrix multiply (C = alpha·op(A)·op(B) + beta·C,
// row-major) behind the CPU runtime's MatMul, Gemm and attention ops.
//
// It follows the GotoBLAS/BLIS design. A naive triple loop is memory-bound;
// to run at the FMA units' peak the inner loop must find its operands in
// cache and in registers. So blocks of A and B are first packed into
// contiguous buffers sized for L2 and L1, in the exact order a small
// register-blocked micro-kernel consumes them. Packing also absorbs
// transposes, so NN, NT, TN and TT all run at the same speed.
//
// The micro-kernels are Go assembly because the Go compiler neither
// vectorises nor keeps a register tile live across the depth loop:
//
//   - avx512: a 12×32 tile in 24 ZMM accumulators (kernel512_amd64.s),
//     chosen when the CPU has AVX-512F. On Zen 4, whose FMA units are
//     256 bits wide, it has the same peak as AVX2 but needs fewer loads
//     and instructions per FMA, so more of the peak survives.
//   - avx2: a 6×16 tile in 12 YMM accumulators (kernel_amd64.s), chosen
//     with AVX2 and FMA.
//   - generic: a pure-Go kernel with the 6×16 layout, used everywhere else
//     and with the purego build tag; the assembly is tested against the
//     same reference.
//
// Each implementation carries its own tile and cache blocking (type impl).
//
// The environment variable CRSC_GEMM, read once at start-up, forces a path:
// avx512, avx2 or generic select that kernel (falling back to the best one
// the CPU has if it cannot run it), and openblas makes Sgemm call OpenBLAS,
// loaded at run time without cgo (see OpenBLAS), when the library loads.
// Unset or anything else means the fastest built-in kernel. Impl reports
// the choice. OpenBLAS is also the yardstick of the benchmarks
// (BenchmarkSgemmRotate runs it and each kernel in rotation).
//
// Work is spread over SetThreads goroutines (default GOMAXPROCS), each with
// an independent part of the GEMM and its own pooled packing buffers: slabs
// of rows or of columns of C, or, for a small C with a long depth (weight
// gradients), slices of the depth whose partial products are summed at the
// end; the split that packs least is chosen. SgemmBatched instead runs small
// GEMMs of a batch in parallel.
package gemm
