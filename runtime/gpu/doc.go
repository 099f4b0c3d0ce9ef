// Package gpu is crsc's CUDA backend: a runtime.DeviceBackend whose
// tensors live in device memory (ir.Tensor.Device) and whose kernels are
// CUDA C sources (kernels/*.cu) compiled at first use through cuda.Device.
//
// The package programs only against the cuda.Device interface, so the same
// code runs on a real GPU (cuda.Open) and on the CPU emulator (cuda/emu),
// which compiles the same kernel sources with g++: that is how the kernels
// are tested on machines without a GPU (go test ./runtime/gpu/).
//
// Layout:
//
//	backend.go   Backend: New, Run (GPU kernel or CPU fallback), StartNode,
//	             Release, ToHost, Stats, Close
//	memory.go    device buffers: a planned arena (memplan slots, placed as
//	             runtime/arena.go does on the CPU), a size-class pool with
//	             reference counts for views, per-run uploads of host tensors
//	ctx.go       what a kernel sees: outputs, scratch, uploads, launches
//	registry.go  op → kernel lookup (coreKernels here, nnKernels from the
//	             neural-network/training files nn*.go, sample*.go, grad*.go)
//	cases.go     single-node test cases and Check, shared by the tests and
//	             `crsc selftest --device cuda`
//	the rest     one file per op family with its kernels/*.cu source
//
// Generic ops on the GPU (coreKernels): elementwise math (Abs, Neg, Sqrt,
// Reciprocal, Exp, Log, Tanh, Erf, Relu, Sigmoid, Ceil, Floor, Sign),
// broadcasting Add/Sub/Mul/Div/Pow/Sum/Max/Min, comparisons, And, Or, Xor,
// Not, Where, Cast, the views Identity/Reshape/Flatten/Squeeze/Unsqueeze
// (no copy: the output shares the input's reference-counted block),
// Transpose, Expand, Tile, Slice, Concat, Split, Gather, ConstantOfShape,
// Shape, Size, ReduceSum/Mean/Max/Min, MatMul, ai.crsc.MatMul and Gemm
// (cuBLAS). Constant and Range run their CPU kernel and upload the result
// by design (Stats.HostOps). A kernel sends dtypes it has no code for back
// to the CPU (float64 arithmetic, integer Div, integer reductions, Cast to
// float16/int8/uint8, non-float32 matrix products).
//
// Every op without a GPU kernel still runs: Run copies its inputs to the
// host, runs the runtime/cpu kernel and uploads the outputs, counting the
// fallback per op (Stats) so that missing kernels show up in profiles
// instead of as failures. The CPU kernels are also the oracle the GPU
// kernels are tested against (Check).
//
// Device storage follows ir.DType.Storage: float32 for Float32 and Float16,
// float64 for Float64, int64 for Int64, int32 for Int32, Int8 and Uint8,
// one byte (0 or 1) per Bool.
package gpu
