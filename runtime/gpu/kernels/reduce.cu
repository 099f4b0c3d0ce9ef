// Reductions of runtime/gpu (ReduceSum, ReduceMean, ReduceMax, ReduceMin)
// over x laid out as [outer, red, inner] (the Go side transposes the
// reduced axes together first when they are not adjacent). Accumulation is
// in double, as the CPU kernels do, so long sums agree closely.

enum { R_SUM, R_MEAN, R_MAX, R_MIN };

DEVICE double red_init(int op) {
  if (op == R_MAX) return -INFINITY;
  if (op == R_MIN) return INFINITY;
  return 0.0;
}

// red_step is the CPU's redStep: NaN propagates through Max and Min.
DEVICE double red_step(int op, double acc, double v) {
  if (op == R_MAX) return (v > acc || v != v) ? v : acc;
  if (op == R_MIN) return (v < acc || v != v) ? v : acc;
  return acc + v;
}

// red_merge combines two partial results (the tree of reduce_rows).
DEVICE double red_merge(int op, double a, double b) {
  if (op == R_MAX || op == R_MIN) {
    if (a != a) return a;
    return red_step(op, a, b);
  }
  return a + b;
}

DEVICE float red_finish(int op, double acc, i64 cnt) {
  if (op == R_MEAN) return (float)(acc / (double)cnt);
  return (float)acc;
}

// reduce_cols: one thread per output element (o, i); threads of a warp
// read consecutive i, so the loads coalesce when inner is large.
KERNEL void reduce_cols_f32(float* y, const float* x, i64 outer, i64 red, i64 inner, int op) {
  i64 t = (i64)blockIdx.x * blockDim.x + threadIdx.x;
  if (t >= outer * inner) return;
  i64 o = t / inner, i = t % inner;
  const float* p = x + o * red * inner + i;
  double acc = red_init(op);
  for (i64 r = 0; r < red; r++) acc = red_step(op, acc, (double)p[r * inner]);
  y[t] = red_finish(op, acc, red);
}

// reduce_rows: inner == 1 and long rows: one block per output row, its
// threads striding over the row, then a tree in shared memory (blockDim.x
// doubles, a power of two).
KERNEL void reduce_rows_f32(float* y, const float* x, i64 outer, i64 red, int op) {
  SHARED_ARRAY(double, part);
  i64 row = blockIdx.x;
  const float* p = x + row * red;
  double acc = red_init(op);
  for (i64 r = threadIdx.x; r < red; r += blockDim.x) acc = red_step(op, acc, (double)p[r]);
  part[threadIdx.x] = acc;
  __syncthreads();
  for (unsigned s = blockDim.x / 2; s > 0; s >>= 1) {
    if (threadIdx.x < s) part[threadIdx.x] = red_merge(op, part[threadIdx.x], part[threadIdx.x + s]);
    __syncthreads();
  }
  if (threadIdx.x == 0 && row < outer) y[row] = red_finish(op, part[0], red);
}
