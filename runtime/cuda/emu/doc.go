// Package emu is a CPU emulator of cuda.Device, so the GPU kernels and the
// GPU runtime (runtime/gpu) can be tested on machines without a GPU, CI
// included.
//
// It compiles the same CUDA C kernel sources that NVRTC compiles for a GPU,
// with g++ instead: cuda.Prelude is prepended as usual, and emu.h (defined
// first, with CRSC_EMU) supplies the CUDA built-ins the prelude allows. A
// launch runs the grid's blocks one after another; the threads of a block
// run as cooperative fibers on the calling OS thread, so __syncthreads is a
// real barrier (a switch back to the block scheduler), atomicAdd is
// trivially atomic and results are deterministic. A kernel that cannot
// reach __syncthreads (none in its body, none in the source's helpers) runs
// its threads as plain calls, one after another, which is several times
// faster.
//
// Device memory is C heap memory owned by a small runtime library
// (runtime.inc), so cuda.Ptr values are host addresses that kernels use
// directly. Gemm is a plain CPU loop with double accumulation: a reference,
// not a benchmark. Fresh allocations and dynamic shared memory are filled
// with 0xff bytes (NaN as float32), so code that reads memory it never
// wrote fails in tests instead of only on a GPU.
//
// Compiled objects are cached by a hash of everything that goes into them
// in $CRSC_CACHE_DIR/emu (default: the user cache directory's crsc/emu).
// The compiler is g++, or $CRSC_EMU_CXX. Everything is loaded with purego,
// so the package builds with CGO_ENABLED=0.
//
// Launch arguments are checked against the kernel's parameter types, which
// the real driver cannot do (an int32 passed for an i64 reads garbage on a
// GPU); the kernel list and parameter types come from scanning the
// preprocessed source.
//
// Limits: at most 1024 threads per block, 227 KiB of dynamic shared memory,
// 128 KiB of stack per CUDA thread (with a guard page) in kernels that use
// __syncthreads, no warp intrinsics. Launches are serialised process-wide.
package emu
