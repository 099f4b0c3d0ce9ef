// The optimizer step of a training run whose parameters, gradients and
// AdamW moments stay on the device (runtime/engine): the arithmetic of
// optim.AdamWInPlace, element for element. NVRTC compiles without fused
// multiply-adds (--fmad=false) and with IEEE division and square root, so
// each operation rounds as the CPU's does.

// adamw_f32 updates p, m and v in place from gradient g: g is first
// divided by average_over (when not 1) and multiplied by clip_scale (when
// clip), then AdamW with the step's scalars, decoupled decay when decay.
KERNEL void adamw_f32(float* p, const float* g, float* m, float* v, i64 n,
                      float beta1, float omb1, float beta2, float omb2, float eps,
                      float step_size, float bc2_sqrt, float decay_factor, int decay,
                      float average_over, int clip, float clip_scale) {
  i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  float gi = g[i];
  if (average_over != 1.0f) gi = gi / average_over;
  if (clip) gi = gi * clip_scale;
  float mi = m[i] * beta1 + gi * omb1;
  float vi = v[i] * beta2 + (gi * gi) * omb2;
  float denom = sqrtf(vi) / bc2_sqrt + eps;
  float update = (mi / denom) * step_size;
  float pi = p[i];
  if (decay) pi = pi * decay_factor;
  p[i] = pi - update;
  m[i] = mi;
  v[i] = vi;
}

// sumsq_chunks_f32 writes, for each chunk of `chunk` elements of x, the sum
// of (x/average_over)² in double into partial[first + chunk index]: the
// CPU's chunking (optim.SumSquares), one thread per chunk.
KERNEL void sumsq_chunks_f32(double* partial, i64 first, const float* x, i64 n, i64 chunk, float average_over) {
  i64 c = (i64)blockIdx.x * blockDim.x + threadIdx.x;
  i64 lo = c * chunk;
  if (lo >= n) return;
  i64 hi = lo + chunk < n ? lo + chunk : n;
  double s0 = 0, s1 = 0;
  i64 i = lo;
  for (; i + 1 < hi; i += 2) {
    float a = x[i], b = x[i + 1];
    if (average_over != 1.0f) {
      a = a / average_over;
      b = b / average_over;
    }
    s0 += (double)a * (double)a;
    s1 += (double)b * (double)b;
  }
  if (i < hi) {
    float a = x[i];
    if (average_over != 1.0f) a = a / average_over;
    s0 += (double)a * (double)a;
  }
  partial[first + c] = s0 + s1;
}

// sum_f64 adds partial[0..n) in order into out[0] (one thread: the order
// is the CPU's).
KERNEL void sum_f64(double* out, const double* partial, i64 n) {
  if (blockIdx.x != 0 || threadIdx.x != 0) return;
  double s = 0;
  for (i64 i = 0; i < n; i++) s += partial[i];
  out[0] = s;
}

// add_into_f32: dst += src (gradient accumulation across micro-batches).
KERNEL void add_into_f32(float* dst, const float* src, i64 n) {
  i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) dst[i] = dst[i] + src[i];
}
