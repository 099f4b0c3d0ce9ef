// Elementwise kernels of the crsc CUDA backend's neural-network and
// training ops (GELU, Dropout, 1-bit ReLU masks, cross-entropy gradient).
// Kept apart from nn.cu because they never synchronize: the CPU emulator
// then runs their threads without fibers. Each mirrors the runtime/cpu
// kernel of its op, named in its comment.

// ---- float32 transcendental functions of runtime/cpu/fastmath.go ----

// erf32 is runtime/cpu's erf32 (Eigen's rational approximation), so GELU
// matches the CPU's float32 path rather than differing by erff's ulps.
DEVICE float erf32(float x) {
    x = fminf(fmaxf(x, -4.0f), 4.0f);
    float x2 = x * x;
    float p = x2 * -2.72614225801306e-10f + 2.77068142495902e-08f;
    p = x2 * p + -2.10102402082508e-06f;
    p = x2 * p + -5.69250639462346e-05f;
    p = x2 * p + -7.34990630326855e-04f;
    p = x2 * p + -2.95459980854025e-03f;
    p = x2 * p + -1.60960333262415e-02f;
    p *= x;
    float q = x2 * -1.45660718464996e-05f + -2.13374055278905e-04f;
    q = x2 * q + -1.68282697438203e-03f;
    q = x2 * q + -7.37332916720468e-03f;
    q = x2 * q + -1.42647390514189e-02f;
    return p / q;
}

// exp32 comes from fastmath.cuh, prepended.

// ---- GELU (exact, erf form) ----

KERNEL void gelu_f32(const float* x, float* y, i64 n) {
    i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    float v = x[i];
    y[i] = 0.5f * v * (1.0f + erf32(v * 0.70710678118654752f));
}

// gelu_grad is dY·(Φ(x) + x·φ(x)) exactly as runtime/cpu geluGradKernel
// evaluates it in float32.
KERNEL void gelu_grad_f32(const float* dy, const float* x, float* dx, i64 n) {
    i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    float v = x[i];
    float cdf = 0.5f * (1.0f + erf32(v * 0.70710678118654752f));
    dx[i] = dy[i] * (cdf + v * exp32(-0.5f * v * v) * 0.3989422804014327f);
}

// ---- Dropout: Philox4x32-10 as runtime/rng documents it ----

// philox_uniform is rng.Uniform(seed, step, stream, index) with step and
// stream already folded to 32 bits (lo ^ hi) by the host: word index % 4 of
// the Philox block at counter index / 4.
DEVICE float philox_uniform(u64 seed, u32 step32, u32 stream32, u64 index) {
    u64 block = index >> 2;
    u32 c0 = (u32)block, c1 = (u32)(block >> 32), c2 = step32, c3 = stream32;
    u32 k0 = (u32)seed, k1 = (u32)(seed >> 32);
    for (int r = 0; r < 10; r++) {
        if (r > 0) {
            k0 += 0x9E3779B9u;
            k1 += 0xBB67AE85u;
        }
        u32 hi0 = __umulhi(0xD2511F53u, c0), lo0 = 0xD2511F53u * c0;
        u32 hi1 = __umulhi(0xCD9E8D57u, c2), lo1 = 0xCD9E8D57u * c2;
        u32 n0 = hi1 ^ c1 ^ k0, n2 = hi0 ^ c3 ^ k1;
        c0 = n0;
        c1 = lo1;
        c2 = n2;
        c3 = lo0;
    }
    u32 w = c0;
    switch (index & 3) {
        case 1: w = c1; break;
        case 2: w = c2; break;
        case 3: w = c3; break;
    }
    // float(u >> 8) is exact (24 bits), and so is the power-of-two scale.
    return (float)(w >> 8) * (1.0f / 16777216.0f);
}

// dropout keeps element i when its uniform is >= ratio, writing x*scale
// (scale = float32(1/(1-ratio)), rounded on the host as the CPU does) or 0,
// and the mask byte. mask may be null (output not wanted).
KERNEL void dropout_f32(const float* x, float* y, unsigned char* mask, i64 n, u64 seed, u32 step32,
                        u32 stream32, float ratio, float scale) {
    i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    bool keep = philox_uniform(seed, step32, stream32, (u64)i) >= ratio;
    y[i] = keep ? x[i] * scale : 0.0f;
    if (mask) mask[i] = keep ? 1 : 0;
}

// dropout_identity is inactive Dropout: a copy and an all-true mask.
KERNEL void dropout_identity_f32(const float* x, float* y, unsigned char* mask, i64 n) {
    i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    y[i] = x[i];
    if (mask) mask[i] = 1;
}

// dropout_grad is DropoutGrad in training mode: dY*scale where the saved
// mask byte is nonzero.
KERNEL void dropout_grad_f32(const float* dy, const unsigned char* mask, float* dx, i64 n, float scale) {
    i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    dx[i] = mask[i] ? dy[i] * scale : 0.0f;
}

// dropout_mask_grad is DropoutMaskGrad: the forward's mask redrawn.
KERNEL void dropout_mask_grad_f32(const float* dy, float* dx, i64 n, u64 seed, u32 step32, u32 stream32,
                                  float ratio, float scale) {
    i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    dx[i] = philox_uniform(seed, step32, stream32, (u64)i) >= ratio ? dy[i] * scale : 0.0f;
}

// copy_f32 copies n floats (the identity cases of the Dropout gradients).
KERNEL void copy_f32(const float* x, float* y, i64 n) {
    i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) y[i] = x[i];
}

// ---- 1-bit ReLU masks (runtime/cpu BitMask / ReluGrad) ----

// bit_mask_*: word w gets bit j set when element 32w+j is > 0 (nonzero for
// bool bytes); high bits past n stay 0. One thread per word, so no two
// threads write one word. NaN > 0 is false, as on the CPU.
#define BIT_MASK_KERNEL(name, T, TEST)                                \
    KERNEL void name(const T* x, int* words, i64 n, i64 nwords) {     \
        i64 w = (i64)blockIdx.x * blockDim.x + threadIdx.x;           \
        if (w >= nwords) return;                                      \
        i64 base = w * 32, end = base + 32 < n ? base + 32 : n;       \
        u32 set = 0;                                                  \
        for (i64 i = base; i < end; i++) {                            \
            T v = x[i];                                               \
            if (TEST) set |= 1u << (u32)(i - base);                   \
        }                                                             \
        words[w] = (int)set;                                          \
    }
BIT_MASK_KERNEL(bit_mask_f32, float, v > 0)
BIT_MASK_KERNEL(bit_mask_i64, i64, v > 0)
BIT_MASK_KERNEL(bit_mask_i32, int, v > 0)
BIT_MASK_KERNEL(bit_mask_u8, unsigned char, v != 0)

// relu_grad copies dY where the element's bit is set, else +0 (a plain
// copy keeps -0 and NaN bit-exact, as the CPU's applyBits does).
KERNEL void relu_grad_f32(const float* dy, const int* words, float* dx, i64 n) {
    i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    u32 w = (u32)words[i >> 5];
    dx[i] = (w >> (u32)(i & 31)) & 1u ? dy[i] : 0.0f;
}


// ---- SoftmaxCrossEntropyLossGrad ----

// sce_grad is runtime/cpu sceGrad: dScores[i,c,j] = coef[p]*(exp(logp) -
// [c == label]) with coef computed on the host (0: ignored, output 0).
KERNEL void sce_grad_f32(const float* logp, const i64* labels, const double* coef, float* out,
                         i64 N, i64 C, i64 D) {
    i64 q = (i64)blockIdx.x * blockDim.x + threadIdx.x;
    if (q >= N * C * D) return;
    i64 i = q / (C * D), c = (q / D) % C, j = q % D;
    i64 p = i * D + j;
    double k = coef[p];
    if (k == 0) {
        out[q] = 0.0f;
        return;
    }
    double v = (double)expf(logp[q]);
    if (c == labels[p]) v -= 1.0;
    out[q] = (float)(k * v);
}
