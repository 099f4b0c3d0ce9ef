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
//
// The libraries are searched in CRSC_CUDA_LIBS, the loader's path, the CUDA
// toolkit's folders and the site-packages of Python CUDA wheels (the
// python3 on PATH is asked where they are; loader.go). Open prefers an
// NVRTC and a cuBLAS of the driver's CUDA major version or older, and says
// plainly when the driver is too old for the ones found (version.go).
// Kernels compile with --fmad=false, so their float arithmetic is the
// CPU's (target.go).
package cuda
