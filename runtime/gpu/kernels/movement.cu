// Data-movement kernels of runtime/gpu, by element size (1, 4 or 8 bytes:
// the values are only moved, so one kernel serves every dtype of a size).
//
//   strided_E  Transpose, Slice, Expand, Tile: the contiguous output read
//              from x at base + Σ index_d · stride_d, with m = [rank,
//              dims[rank], strides[rank]] (strides may be 0 or negative)
//   block_E    Concat and Split: rows of blk elements copied between two
//              row-major layouts, y[o·ys + yo + j] = x[o·xs + xo + j]
//   gather_E_I Gather along an axis with int64 (I = i64) or int32 indices
//   fill_E     ConstantOfShape (the value passed as its bit pattern)

typedef unsigned char u8;

DEVICE i64 strided_off(const i64* m, i64 i) {
  int r = (int)m[0];
  return view_off(m + 1, m + 1 + r, r, i);
}

// gather_E_I: index type IT (i64 or int) named I in the kernel's name.
#define GATHER_KERNEL(E, T, I, IT)                                                    \
  KERNEL void gather_##E##_##I(T* y, const T* x, const IT* idx, i64 k, i64 inner,     \
                               i64 dim, i64 n) {                                       \
    i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x;                                \
    if (i >= n) return;                                                                \
    i64 u = i / inner, o = u / k;                                                      \
    i64 v = idx[u % k];                                                                \
    if (v < 0) v += dim;                                                               \
    /* Out of range (checked on the host when it can be): write zeros. */              \
    y[i] = (v >= 0 && v < dim) ? x[(o * dim + v) * inner + i % inner] : (T)0;          \
  }

#define MOVE_KERNELS(E, T)                                                            \
  KERNEL void strided_##E(T* y, const T* x, const i64* m, i64 base, i64 n) {           \
    i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x;                                \
    if (i < n) y[i] = x[base + strided_off(m, i)];                                     \
  }                                                                                    \
  KERNEL void block_##E(T* y, const T* x, i64 rows, i64 blk, i64 ys, i64 yo, i64 xs,  \
                        i64 xo) {                                                      \
    i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x;                                \
    if (i >= rows * blk) return;                                                       \
    i64 o = i / blk, j = i % blk;                                                      \
    y[o * ys + yo + j] = x[o * xs + xo + j];                                           \
  }                                                                                    \
  GATHER_KERNEL(E, T, i64, i64)                                                       \
  GATHER_KERNEL(E, T, i32, int)                                                       \
  KERNEL void fill_##E(T* y, u64 bits, i64 n) {                                        \
    i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x;                                \
    if (i < n) y[i] = (T)bits; /* the value's bits, low bytes first */                 \
  }

MOVE_KERNELS(1, u8)
MOVE_KERNELS(4, u32)
MOVE_KERNELS(8, u64)
