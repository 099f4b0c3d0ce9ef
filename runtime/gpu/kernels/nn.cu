// Neural-network, training and memory-rewrite kernels of the crsc CUDA
// backend that reduce within a block. Each mirrors a runtime/cpu kernel of
// the same op; comments name it and say where the arithmetic follows it
// (float64 accumulation, the same polynomial exp) so results agree with
// the CPU to the last bit or a few float32 ulps. Row kernels run one block
// per row, of a power-of-two size up to NN_BLOCK threads, and reduce
// through shared memory (no warp intrinsics: the CPU emulator runs these
// sources too).

#define NN_BLOCK 256

// exp32 (softmax's float32 path) comes from fastmath.cuh, prepended.


// ---- block reductions (blockDim.x a power of two, at most NN_BLOCK) ----

// block_sum returns the sum of every thread's v to every thread. The
// trailing barrier lets the caller reuse buf right away.
DEVICE double block_sum(double v, double* buf) {
    buf[threadIdx.x] = v;
    __syncthreads();
    for (u32 s = blockDim.x / 2; s > 0; s >>= 1) {
        if (threadIdx.x < s) buf[threadIdx.x] += buf[threadIdx.x + s];
        __syncthreads();
    }
    double r = buf[0];
    __syncthreads();
    return r;
}

DEVICE float block_max(float v, float* buf) {
    buf[threadIdx.x] = v;
    __syncthreads();
    for (u32 s = blockDim.x / 2; s > 0; s >>= 1) {
        if (threadIdx.x < s) buf[threadIdx.x] = fmaxf(buf[threadIdx.x], buf[threadIdx.x + s]);
        __syncthreads();
    }
    float r = buf[0];
    __syncthreads();
    return r;
}

// ---- Softmax / LogSoftmax ----

// softmax normalizes the length-dim vector of stride inner that block
// blockIdx.x (= o*inner + i) owns, max subtracted first. mode 0 is the
// CPU's float32 attention path (softmaxRows32: exp32, inner == 1, output
// times float32(1/sum)); mode 1 the general softmax; mode 2 LogSoftmax
// (x - (max + log(sum))). Sums accumulate in float64 as on the CPU.
// fmaxf ignores NaN where the CPU's max keeps it; a NaN row gives NaN
// either way through exp(NaN - m).
KERNEL void softmax_f32(const float* x, float* y, i64 dim, i64 inner, int mode) {
    __shared__ float fbuf[NN_BLOCK];
    __shared__ double dbuf[NN_BLOCK];
    i64 u = blockIdx.x;
    i64 base = (u / inner) * dim * inner + u % inner;
    const float* xr = x + base;
    float* yr = y + base;
    float m = -INFINITY;
    for (i64 j = threadIdx.x; j < dim; j += blockDim.x) m = fmaxf(m, xr[j * inner]);
    m = block_max(m, fbuf);
    double s = 0;
    for (i64 j = threadIdx.x; j < dim; j += blockDim.x) {
        float d = xr[j * inner] - m;
        float e = mode == 0 ? exp32(d) : expf(d);
        if (mode != 2) yr[j * inner] = e;
        s += (double)e;
    }
    s = block_sum(s, dbuf);
    if (mode == 2) {
        // log(s) from logf of the float-rounded sum plus the first-order
        // correction for that rounding, close to the CPU's float64 log.
        float sf = (float)s;
        double ls = (double)m + (double)logf(sf) + (s - (double)sf) / (double)sf;
        for (i64 j = threadIdx.x; j < dim; j += blockDim.x) {
            yr[j * inner] = (float)((double)xr[j * inner] - ls);
        }
        return;
    }
    float inv = (float)(1.0 / s);
    for (i64 j = threadIdx.x; j < dim; j += blockDim.x) yr[j * inner] *= inv;
}

// ---- LayerNormalization / RMSNormalization forward ----

// layer_norm normalizes row blockIdx.x of d elements (runtime/cpu
// layerNorm): mean and variance in float64, y = (x-mu)*inv*scale + bias
// in float64 rounded once. bias may be null (has_bias 0).
KERNEL void layer_norm_f32(const float* x, const float* scale, const float* bias, int has_bias,
                           float* y, float* mean, float* inv, i64 d, float eps) {
    __shared__ double dbuf[NN_BLOCK];
    i64 o = blockIdx.x;
    const float* xr = x + o * d;
    float* yr = y + o * d;
    double s = 0;
    for (i64 j = threadIdx.x; j < d; j += blockDim.x) s += (double)xr[j];
    double mu = block_sum(s, dbuf) / (double)d;
    double ss = 0;
    for (i64 j = threadIdx.x; j < d; j += blockDim.x) {
        double dv = (double)xr[j] - mu;
        ss += dv * dv;
    }
    ss = block_sum(ss, dbuf);
    double is = 1.0 / sqrt(ss / (double)d + (double)eps);
    if (threadIdx.x == 0) {
        mean[o] = (float)mu;
        inv[o] = (float)is;
    }
    for (i64 j = threadIdx.x; j < d; j += blockDim.x) {
        double z = ((double)xr[j] - mu) * is * (double)scale[j];
        if (has_bias) z += (double)bias[j];
        yr[j] = (float)z;
    }
}

// rms_norm is runtime/cpu rmsNorm: inv_rms = 1/sqrt(mean(x²)+eps) in
// float64, y = x*inv_rms*scale rounded once.
KERNEL void rms_norm_f32(const float* x, const float* scale, float* y, float* inv, i64 d, float eps) {
    __shared__ double dbuf[NN_BLOCK];
    i64 o = blockIdx.x;
    const float* xr = x + o * d;
    float* yr = y + o * d;
    double ss = 0;
    for (i64 j = threadIdx.x; j < d; j += blockDim.x) ss += (double)xr[j] * (double)xr[j];
    ss = block_sum(ss, dbuf);
    double is = 1.0 / sqrt(ss / (double)d + (double)eps);
    if (threadIdx.x == 0) inv[o] = (float)is;
    for (i64 j = threadIdx.x; j < d; j += blockDim.x) {
        yr[j] = (float)((double)xr[j] * is * (double)scale[j]);
    }
}

// ---- normalization gradients ----

// The three norm gradients share these kernels. Per row o, with g =
// dY*scale, xhat is (x - mean)*inv for LayerNormalizationGrad (from_y 0,
// stat = mean) or (y - bias)*rs with rs = 1/scale (0 where scale is 0)
// for the FromOutput forms (from_y 1; bias optional), and
//   dX = inv * (g - centered*mean(g) - xhat*mean(g*xhat)).
// inv is inv_std_dev or inv_rms, one float per row. Sums are float64 and
// every product is associated as runtime/cpu writes it (layerNormGrad:
// (a*(x-mean))*inv; normGradRows: a*xhat), so without FMA contraction the
// float64 values are the CPU's.

DEVICE double norm_xhat(float v, i64 o, i64 j, const float* stat, const float* inv,
                        const float* scale, const float* bias, int has_bias, int from_y) {
    if (!from_y) return ((double)v - (double)stat[o]) * (double)inv[o];
    double t = (double)v;
    if (has_bias) t -= (double)bias[j];
    double s = (double)scale[j];
    return s != 0 ? t * (1.0 / s) : 0.0;
}

// norm_times_xhat is a*xhat in the CPU's association.
DEVICE double norm_times_xhat(double a, float v, i64 o, i64 j, const float* stat, const float* inv,
                              const float* scale, const float* bias, int has_bias, int from_y) {
    if (!from_y) return a * ((double)v - (double)stat[o]) * (double)inv[o];
    return a * norm_xhat(v, o, j, stat, inv, scale, bias, has_bias, from_y);
}

// norm_grad_dx writes dX of row blockIdx.x.
KERNEL void norm_grad_dx_f32(const float* dy, const float* xy, const float* scale, const float* bias,
                             int has_bias, const float* stat, const float* inv, float* dx, i64 d,
                             int from_y, int centered) {
    __shared__ double dbuf[NN_BLOCK];
    i64 o = blockIdx.x;
    const float* g = dy + o * d;
    const float* xr = xy + o * d;
    double sg = 0, sgx = 0;
    for (i64 j = threadIdx.x; j < d; j += blockDim.x) {
        double gj = (double)g[j] * (double)scale[j];
        sg += gj;
        sgx += norm_times_xhat(gj, xr[j], o, j, stat, inv, scale, bias, has_bias, from_y);
    }
    double mg = block_sum(sg, dbuf) / (double)d;
    double mgx = block_sum(sgx, dbuf) / (double)d;
    if (!centered) mg = 0;
    double is = (double)inv[o];
    for (i64 j = threadIdx.x; j < d; j += blockDim.x) {
        double xh = norm_xhat(xr[j], o, j, stat, inv, scale, bias, has_bias, from_y);
        dx[o * d + j] = (float)(is * ((double)g[j] * (double)scale[j] - mg - xh * mgx));
    }
}

// norm_grad_cols_part sums dY*xhat (into ps) and dY (into pb) for column j
// over the rows of row block b = blockIdx.y, rows [b*outer/nb,
// (b+1)*outer/nb) in order: the CPU's fixed lnGradBlocks blocks, so
// adding the nb partials in block order (grad.cu's sum_parts) repeats its
// float64 sums. ps or pb is null when that output is not wanted.
KERNEL void norm_grad_cols_part(const float* dy, const float* xy, const float* scale, const float* bias,
                                int has_bias, const float* stat, const float* inv, double* ps, double* pb,
                                i64 outer, i64 d, i64 nb, int from_y) {
    i64 j = (i64)blockIdx.x * blockDim.x + threadIdx.x;
    if (j >= d) return;
    i64 b = blockIdx.y;
    i64 r0 = b * outer / nb, r1 = (b + 1) * outer / nb;
    double as = 0, ab = 0;
    for (i64 o = r0; o < r1; o++) {
        double v = (double)dy[o * d + j];
        if (ps) as += norm_times_xhat(v, xy[o * d + j], o, j, stat, inv, scale, bias, has_bias, from_y);
        ab += v;
    }
    if (ps) ps[b * d + j] = as;
    if (pb) pb[b * d + j] = ab;
}

// ---- SoftmaxCrossEntropyLoss ----

// sce_pick writes, for position p = i*D + j, v = -logp[i, label, j]*w in
// float64 (0 at ignored positions, whose label the host set to -1); the
// host has validated the labels and looked up each position's weight.
// With out_f32 set it also writes float32(v), the reduction none output.
KERNEL void sce_pick(const float* logp, const i64* labels, const double* wt, double* v, float* out_f32,
                     i64 P, i64 C, i64 D) {
    i64 p = (i64)blockIdx.x * blockDim.x + threadIdx.x;
    if (p >= P) return;
    i64 l = labels[p];
    double r = 0;
    if (l >= 0) r = -(double)logp[((p / D) * C + l) * D + p % D] * wt[p];
    v[p] = r;
    if (out_f32) out_f32[p] = (float)r;
}

// sce_reduce sums v (one block) in float64 and writes float32(sum), or
// for mean float32(sum/Σw) with Σw = wt[P] summed on the host in the CPU's
// order (0 when every label is ignored: the loss is then 0, not NaN).
KERNEL void sce_reduce(const double* v, const double* wt, float* out, i64 P, int mean) {
    __shared__ double dbuf[NN_BLOCK];
    double s = 0;
    for (i64 p = threadIdx.x; p < P; p += blockDim.x) s += v[p];
    s = block_sum(s, dbuf);
    if (threadIdx.x != 0) return;
    if (mean) s = wt[P] != 0 ? s / wt[P] : 0.0;
    out[0] = (float)s;
}

