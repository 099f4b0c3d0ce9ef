// Elementwise kernels of runtime/gpu: unary math, broadcasting binary
// arithmetic, comparisons, logic, Where and Cast. Each matches the CPU
// kernel of the same op in runtime/cpu (NaN handling included).
//
// Broadcasting: the Go side collapses the output shape and the inputs'
// element strides (0 along broadcast dims) and passes them as one small
// device array m = [rank, dims[rank], strides of input 0[rank], ...].

typedef unsigned char u8;

// bcast_off returns input k's element offset for output element i.
DEVICE i64 bcast_off(const i64* m, int k, i64 i) {
  int r = (int)m[0];
  return view_off(m + 1, m + 1 + (i64)r * (k + 1), r, i);
}

// ---- unary

enum {
  U_ABS, U_NEG, U_SQRT, U_RECIP, U_EXP, U_LOG, U_TANH, U_ERF, U_RELU,
  U_SIGMOID, U_CEIL, U_FLOOR, U_SIGN
};

DEVICE float unary_f(int op, float x) {
  switch (op) {
    case U_ABS: return fabsf(x);
    case U_NEG: return -x;
    case U_SQRT: return sqrtf(x);
    case U_RECIP: return 1.0f / x;
    case U_EXP: return expf(x);
    case U_LOG: return logf(x);
    case U_TANH: return tanhf(x);
    case U_ERF: return erff(x);
    // max(x, 0) in Go keeps NaN and maps -0 to +0.
    case U_RELU: return x != x ? x : (x > 0.0f ? x : 0.0f);
    case U_SIGMOID:
      // Evaluated on the side where exp cannot overflow, as the CPU does.
      if (x >= 0.0f) return 1.0f / (1.0f + expf(-x));
      else {
        float e = expf(x);
        return e / (1.0f + e);
      }
    case U_CEIL: return -floorf(-x);  // floorf is in the prelude vocabulary
    case U_FLOOR: return floorf(x);
    case U_SIGN: return x > 0.0f ? 1.0f : (x < 0.0f ? -1.0f : x);
  }
  return x;
}

KERNEL void unary_f32(float* y, const float* x, i64 n, int op) {
  i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) y[i] = unary_f(op, x[i]);
}

template <class T>
DEVICE T unary_int(int op, T x) {
  switch (op) {
    case U_ABS: return x < 0 ? -x : x;
    case U_NEG: return -x;
    case U_RELU: return x > 0 ? x : 0;
    case U_SIGN: return x > 0 ? 1 : (x < 0 ? -1 : 0);
  }
  return x;  // Ceil, Floor: the identity on integers
}

KERNEL void unary_i64(i64* y, const i64* x, i64 n, int op) {
  i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) y[i] = unary_int<i64>(op, x[i]);
}

KERNEL void unary_i32(int* y, const int* x, i64 n, int op) {
  i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) y[i] = unary_int<int>(op, x[i]);
}

KERNEL void not_u8(u8* y, const u8* x, i64 n) {
  i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) y[i] = x[i] ? 0 : 1;
}

// ---- binary arithmetic

enum { B_ADD, B_SUB, B_MUL, B_DIV, B_MAX, B_MIN, B_POW };

// pow_f matches the CPU's float32 Pow: exact special cases for the common
// exponents, powf otherwise.
DEVICE float pow_f(float x, float e) {
  if (e == 2.0f) return x * x;
  if (e == 3.0f) return x * x * x;
  if (e == 1.0f) return x;
  if (e == 0.5f) return sqrtf(x);
  if (e == -1.0f) return 1.0f / x;
  return powf(x, e);
}

template <class T>
DEVICE T arith(int op, T x, T y) {
  switch (op) {
    case B_ADD: return x + y;
    case B_SUB: return x - y;
    case B_MUL: return x * y;
    case B_DIV: return x / y;
    // NaN in x propagates, as the CPU's arith does.
    case B_MAX: return (x > y || x != x) ? x : y;
    case B_MIN: return (x < y || x != x) ? x : y;
  }
  return x;
}

KERNEL void binary_f32(float* y, const float* a, const float* b, const i64* m, i64 n, int op) {
  i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  float x = a[bcast_off(m, 0, i)], z = b[bcast_off(m, 1, i)];
  y[i] = op == B_POW ? pow_f(x, z) : arith<float>(op, x, z);
}

KERNEL void binary_i64(i64* y, const i64* a, const i64* b, const i64* m, i64 n, int op) {
  i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) y[i] = arith<i64>(op, a[bcast_off(m, 0, i)], b[bcast_off(m, 1, i)]);
}

KERNEL void binary_i32(int* y, const int* a, const int* b, const i64* m, i64 n, int op) {
  i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) y[i] = arith<int>(op, a[bcast_off(m, 0, i)], b[bcast_off(m, 1, i)]);
}

// ---- comparison and logic (bool outputs are bytes 0/1)

enum { C_EQ, C_LT, C_GT, C_LE, C_GE };

template <class T>
DEVICE u8 cmp(int op, T x, T y) {
  switch (op) {
    case C_EQ: return x == y;
    case C_LT: return x < y;
    case C_GT: return x > y;
    case C_LE: return x <= y;
    case C_GE: return x >= y;
  }
  return 0;
}

#define CMP_KERNEL(name, T)                                                        \
  KERNEL void name(u8* y, const T* a, const T* b, const i64* m, i64 n, int op) {   \
    i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x;                            \
    if (i < n) y[i] = cmp<T>(op, a[bcast_off(m, 0, i)], b[bcast_off(m, 1, i)]);    \
  }
CMP_KERNEL(cmp_f32, float)
CMP_KERNEL(cmp_i64, i64)
CMP_KERNEL(cmp_i32, int)
CMP_KERNEL(cmp_u8, u8)

enum { L_AND, L_OR, L_XOR };

KERNEL void logic_u8(u8* y, const u8* a, const u8* b, const i64* m, i64 n, int op) {
  i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  u8 x = a[bcast_off(m, 0, i)] != 0, z = b[bcast_off(m, 1, i)] != 0;
  y[i] = op == L_AND ? (x & z) : (op == L_OR ? (x | z) : (x ^ z));
}

// ---- Where, by element size (the values are only moved)

#define WHERE_KERNEL(name, T)                                                           \
  KERNEL void name(T* y, const u8* c, const T* a, const T* b, const i64* m, i64 n) {    \
    i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x;                                 \
    if (i < n) y[i] = c[bcast_off(m, 0, i)] ? a[bcast_off(m, 1, i)] : b[bcast_off(m, 2, i)]; \
  }
WHERE_KERNEL(where_1, u8)
WHERE_KERNEL(where_4, u32)
WHERE_KERNEL(where_8, u64)

// ---- Cast between float32, float64, int64, int32 and bool. Floats go to
// integers by truncation toward zero (f32 → i32 through i64, as the CPU).

#define CAST_KERNEL(name, S, D, EXPR)                       \
  KERNEL void name(D* y, const S* x, i64 n) {               \
    i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x;     \
    if (i < n) { S v = x[i]; y[i] = (D)(EXPR); }            \
  }
CAST_KERNEL(cast_f32_f64, float, double, v)
CAST_KERNEL(cast_f32_i64, float, i64, (i64)v)
CAST_KERNEL(cast_f32_i32, float, int, (int)(i64)v)
CAST_KERNEL(cast_f32_u8, float, u8, v != 0.0f)
CAST_KERNEL(cast_f64_f32, double, float, v)
CAST_KERNEL(cast_f64_i64, double, i64, (i64)v)
CAST_KERNEL(cast_f64_i32, double, int, (int)(i64)v)
CAST_KERNEL(cast_f64_u8, double, u8, v != 0.0)
CAST_KERNEL(cast_i64_f32, i64, float, (float)v)
CAST_KERNEL(cast_i64_f64, i64, double, (double)v)
CAST_KERNEL(cast_i64_i32, i64, int, (int)v)
CAST_KERNEL(cast_i64_u8, i64, u8, v != 0)
CAST_KERNEL(cast_i32_f32, int, float, (float)v)
CAST_KERNEL(cast_i32_f64, int, double, (double)v)
CAST_KERNEL(cast_i32_i64, int, i64, (i64)v)
CAST_KERNEL(cast_i32_u8, int, u8, v != 0)
CAST_KERNEL(cast_u8_f32, u8, float, v ? 1.0f : 0.0f)
CAST_KERNEL(cast_u8_f64, u8, double, v ? 1.0 : 0.0)
CAST_KERNEL(cast_u8_i64, u8, i64, v ? 1 : 0)
CAST_KERNEL(cast_u8_i32, u8, int, v ? 1 : 0)

// ---- bfloat16 (stashes kept for backward, passes.Stash), stored packed
// two per 32-bit word: element i is the i-th 16-bit half. Narrowing has
// exactly the CPU's bits (ir.BF16FromFloat32, AVX-512's VCVTNEPS2BF16):
// ties to even, NaN made quiet, subnormals to a signed zero. With an odd
// n the thread of the last element also clears the unused half.
typedef unsigned short u16;
KERNEL void cast_f32_bf16(u16* y, const float* x, i64 n) {
  i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  unsigned b = __float_as_uint(x[i]), a = b & 0x7fffffffu;
  u16 h;
  if (a > 0x7f800000u) h = (u16)((b >> 16) | 0x40u);
  else if (a < 0x00800000u) h = (u16)((b >> 16) & 0x8000u);
  else h = (u16)((b + 0x7fffu + ((b >> 16) & 1u)) >> 16);
  y[i] = h;
  if (i == n - 1 && (n & 1)) y[n] = 0;
}
KERNEL void cast_bf16_f32(float* y, const u16* x, i64 n) {
  i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) y[i] = __uint_as_float((unsigned)x[i] << 16);
}
