// 8-bit stash kernels of the crsc CUDA backend: runtime/cpu quant.go's
// QuantizeRows and DequantizeRows, bit for bit. One block per row of the
// last axis (a power of two of threads, at most QUANT_BLOCK); the row's
// largest |x| is a maximum over float bits (those of non-negative floats
// order as the floats do and every NaN's are above +Inf's), so a NaN
// reaches the scale as on the CPU. Codes are bytes of the packed int32
// words (little-endian, as ir.Int8Rows lays them out).

#define QUANT_BLOCK 256

typedef signed char i8;

// quantize_rows_f32: scale[o] = m/127 and codes rint(x·(127/m)) clamped
// to ±127 (0 for a NaN product), m = max|x| over row o (scale and factor
// 0 when m is 0). Block 0 also clears the padding bytes of the last word.
KERNEL void quantize_rows_f32(const float* x, i8* codes, float* scale, i64 d, i64 n, i64 padded) {
    __shared__ u32 buf[QUANT_BLOCK];
    __shared__ float inv_s;
    i64 o = blockIdx.x;
    const float* xr = x + o * d;
    u32 m = 0;
    for (i64 j = threadIdx.x; j < d; j += blockDim.x) {
        u32 b = __float_as_uint(xr[j]) & 0x7fffffffu;
        m = b > m ? b : m;
    }
    buf[threadIdx.x] = m;
    __syncthreads();
    for (u32 s = blockDim.x / 2; s > 0; s >>= 1) {
        if (threadIdx.x < s && buf[threadIdx.x + s] > buf[threadIdx.x]) buf[threadIdx.x] = buf[threadIdx.x + s];
        __syncthreads();
    }
    if (threadIdx.x == 0) {
        float mx = __uint_as_float(buf[0]);
        float sc = 0, inv = 0;
        if (mx != 0) {
            sc = mx / 127.0f;
            inv = 127.0f / mx;
        }
        scale[o] = sc;
        inv_s = inv;
        if (o == 0) {
            for (i64 k = n; k < padded; k++) codes[k] = 0;
        }
    }
    __syncthreads();
    float inv = inv_s;
    i8* cr = codes + o * d;
    for (i64 j = threadIdx.x; j < d; j += blockDim.x) {
        float q = xr[j] * inv;
        i8 c = 0;
        if (q == q) {
            q = q > 127.0f ? 127.0f : (q < -127.0f ? -127.0f : q);
            c = (i8)rintf(q);
        }
        cr[j] = c;
    }
}

// dequantize_rows_f32: y = float(code)·scale of its row.
KERNEL void dequantize_rows_f32(const i8* codes, const float* scale, float* y, i64 d, i64 n) {
    i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) y[i] = (float)codes[i] * scale[i / d];
}
