// WTA-CRS sampling kernels of the crsc CUDA backend (runtime/cpu/sample.go).
// The row selection itself runs on the host (sample_select.go), with the
// multinomial's 64-bit Philox words (rng.Uint64) drawn there too, so no
// random number is generated here; these kernels compute the row norms the
// selection needs and move the chosen rows.

// row_sumsq_of is the float64 sum of squares of the d floats of xr,
// accumulated sequentially in column order by one thread, as runtime/cpu's
// normsOf does: the products of two floats are exact in float64, so the
// sums (and the norms, square-rooted on the host or in row_norms) are the
// CPU's bit for bit, and the rows SampleRows picks from them are too.
DEVICE double row_sumsq_of(const float* xr, i64 d) {
    double s = 0;
    for (i64 j = 0; j < d; j++) s += (double)xr[j] * (double)xr[j];
    return s;
}

// row_sumsq writes the sum of squares of each of rows rows of d floats.
KERNEL void row_sumsq(const float* x, double* out, i64 rows, i64 d) {
    i64 r = (i64)blockIdx.x * blockDim.x + threadIdx.x;
    if (r >= rows) return;
    out[r] = row_sumsq_of(x + r * d, d);
}

// row_norms is RowNorms: float32(sqrt(sum of squares)), with the float64
// square root (correctly rounded, as Go's math.Sqrt).
KERNEL void row_norms_f32(const float* x, float* out, i64 rows, i64 d) {
    i64 r = (i64)blockIdx.x * blockDim.x + threadIdx.x;
    if (r >= rows) return;
    out[r] = (float)sqrt(row_sumsq_of(x + r * d, d));
}

// scaled_rows writes row t of block b of xs ([B, k, d]) as
// float32(weight·X[b, idx[b, t]]) computed in float64 (runtime/cpu
// writeScaledRows); weight-0 rows are 0 even where X holds Inf or NaN.
KERNEL void scaled_rows_f32(const float* x, const i64* idx, const double* weight, float* xs,
                            i64 B, i64 N, i64 k, i64 d) {
    i64 q = (i64)blockIdx.x * blockDim.x + threadIdx.x;
    if (q >= B * k * d) return;
    i64 r = q / d, c = q % d;
    double w = weight[r];
    if (w == 0) {
        xs[q] = 0.0f;
        return;
    }
    xs[q] = (float)(w * (double)x[((r / k) * N + idx[r]) * d + c]);
}

// gather_rows_* is GatherRows: out[b, t, :] = X[b, idx[b, t], :] for an
// element type of 8, 4 or 1 bytes (the host has checked the indices).
#define GATHER_ROWS_KERNEL(name, T)                                              \
    KERNEL void name(const T* x, const i64* idx, T* out, i64 B, i64 N, i64 k, i64 d) { \
        i64 q = (i64)blockIdx.x * blockDim.x + threadIdx.x;                      \
        if (q >= B * k * d) return;                                              \
        i64 r = q / d, c = q % d;                                                \
        out[q] = x[((r / k) * N + idx[r]) * d + c];                              \
    }
GATHER_ROWS_KERNEL(gather_rows_8, u64)
GATHER_ROWS_KERNEL(gather_rows_4, u32)
GATHER_ROWS_KERNEL(gather_rows_1, unsigned char)
