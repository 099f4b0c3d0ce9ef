// Package cuda reaches an NVIDIA GPU without cgo: it loads the driver API
// (libcuda.so.1), cuBLAS and NVRTC at run time with purego, so the default
// CGO_ENABLED=0 binary runs everywhere and only touches a GPU when asked.
//
// Device is the interface the GPU runtime (runtime/gpu) programs against:
// memory, copies, kernels compiled from CUDA C at first use (cached on
// disk), launches and cuBLAS GEMMs. Open returns the real device; the
// cuda/emu package implements the same interface on the CPU by compiling the
// same kernel sources with g++, which is how the kernels are tested on
// machines without a GPU.
package cuda
