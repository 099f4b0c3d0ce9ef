// crsc CUDA prelude: prepended to every kernel source, compiled by NVRTC for
// a GPU and by g++ for the CPU emulator (which defines CRSC_EMU and supplies
// its own definitions of the CUDA built-ins). Kernel sources use only:
//   KERNEL void name(params)      an extern "C" __global__ entry point
//   DEVICE                        a __device__ helper function
//   SHARED_ARRAY(T, name)         the dynamic shared memory of the launch
//   __shared__ static arrays, __syncthreads(), atomicAdd(float*, float)
//   blockIdx, blockDim, threadIdx, gridDim (x, y, z)
//   expf logf sqrtf rsqrtf tanhf erff powf fabsf fmaxf fminf floorf rintf
//   __umulhi, __float_as_uint, __uint_as_float
//   i64, u64, u32 (integer types), INFINITY
// and no warp intrinsics (the emulator cannot run them).
#ifndef CRSC_EMU
#define KERNEL extern "C" __global__
#define DEVICE __device__ __forceinline__
#define SHARED_ARRAY(T, name) extern __shared__ T name[]
typedef long long i64;
typedef unsigned long long u64;
typedef unsigned int u32;
#ifndef INFINITY
#define INFINITY __int_as_float(0x7f800000)
#endif
#endif
