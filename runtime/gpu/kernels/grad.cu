// Gradient kernels of the crsc CUDA backend (runtime/cpu/grad.go's
// SumTo and GatherGrad). Both sum in float64 in the CPU's order, each
// output element written by one thread, so results equal the CPU's (see
// sum_to for its one regrouping) and do not depend on scheduling: no
// atomics.

// ---- SumTo: sum over broadcast axes ----

// sum_to sums, for each output element o, the input elements that
// broadcast from it, in float64 and in row-major order of the reduced
// axes: runtime/cpu reduce's order. The input is viewed as up to 6 dims
// (merged on the host) given by dims and their reduce flags (bit a of
// red_mask: axis a is summed); kept axes index the output row-major.
//
// With nchunk 1 each thread sums all nred elements of its output and
// writes it, bit-identical to the CPU. Few outputs over a long reduction
// (a bias gradient: 768 outputs of 4096 rows) would leave the GPU nearly
// idle that way, so the host then cuts the reduction into nchunk ranges
// (blockIdx.y), each summed in order into part[chunk*nout + o], and
// sum_parts adds the chunks in order: the same summands in the same
// order, regrouped, which can move the float64 sum by an ulp or so and
// almost never the float32 result.
KERNEL void sum_to_f32(const float* x, float* out, double* part, i64 nout, i64 nred, i64 nchunk,
                       i64 d0, i64 d1, i64 d2, i64 d3, i64 d4, i64 d5, int rank, int red_mask) {
    i64 o = (i64)blockIdx.x * blockDim.x + threadIdx.x;
    if (o >= nout) return;
    i64 dims[6] = {d0, d1, d2, d3, d4, d5};
    i64 stride[6];
    i64 st = 1;
    for (int a = rank - 1; a >= 0; a--) {
        stride[a] = st;
        st *= dims[a];
    }
    // Base offset of this output element: its kept coordinates.
    i64 base = 0, rem = o;
    for (int a = rank - 1; a >= 0; a--) {
        if ((red_mask >> a) & 1) continue;
        base += (rem % dims[a]) * stride[a];
        rem /= dims[a];
    }
    i64 chunk = blockIdx.y;
    i64 r0 = chunk * nred / nchunk, r1 = (chunk + 1) * nred / nchunk;
    double s = 0;
    for (i64 r = r0; r < r1; r++) {
        i64 off = base, rr = r;
        for (int a = rank - 1; a >= 0; a--) {
            if (!((red_mask >> a) & 1)) continue;
            off += (rr % dims[a]) * stride[a];
            rr /= dims[a];
        }
        s += (double)x[off];
    }
    if (nchunk == 1) {
        out[o] = (float)s;
    } else {
        part[chunk * nout + o] = s;
    }
}

// sum_parts adds the nchunk partial sums of each output in chunk order.
KERNEL void sum_parts(const double* part, float* out, i64 nout, i64 nchunk) {
    i64 o = (i64)blockIdx.x * blockDim.x + threadIdx.x;
    if (o >= nout) return;
    double s = 0;
    for (i64 c = 0; c < nchunk; c++) s += part[c * nout + o];
    out[o] = (float)s;
}

// ---- GatherGrad: deterministic scatter-add ----

// gather_grad writes output element (o, r, c) of [outer, dim, inner] as
// the float64 sum, in ascending j, of dY[o, j, c] over the positions j
// whose index is r: order[start[r]:start[r+1]] lists them (the inverted
// index map the host builds, as runtime/cpu does). Every output element
// is written by exactly one thread, so the result is deterministic and
// equal to the CPU's, with no atomics.
KERNEL void gather_grad_f32(const float* dy, const i64* start, const i64* order, float* out,
                            i64 outer, i64 dim, i64 k, i64 inner) {
    i64 q = (i64)blockIdx.x * blockDim.x + threadIdx.x;
    if (q >= outer * dim * inner) return;
    i64 c = q % inner, u = q / inner;
    i64 o = u / dim, r = u % dim;
    double s = 0;
    for (i64 t = start[r]; t < start[r + 1]; t++) s += (double)dy[(o * k + order[t]) * inner + c];
    out[q] = (float)s;
}

// ---- SliceGrad: the slice's elements written back where Slice read them ----

// slice_grad_E writes the contiguous dY (n elements, E bytes each) into the
// zeroed output at base + Σ index_d·stride_d, with m = [rank, dims[rank],
// strides[rank]] (movement.cu's layout; negative strides for negative
// steps). A slice reads each element at most once, so no two threads write
// one place.
#define SLICE_GRAD_KERNEL(E, T)                                                      \
    KERNEL void slice_grad_##E(T* y, const T* x, const i64* m, i64 base, i64 n) {    \
        i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x;                          \
        if (i >= n) return;                                                          \
        int r = (int)m[0];                                                           \
        i64 off = base, rem = i;                                                     \
        for (int d = r - 1; d >= 0; d--) {                                           \
            off += (rem % m[1 + d]) * m[1 + r + d];                                  \
            rem /= m[1 + d];                                                         \
        }                                                                            \
        y[off] = x[i];                                                               \
    }
SLICE_GRAD_KERNEL(1, unsigned char)
SLICE_GRAD_KERNEL(4, u32)
SLICE_GRAD_KERNEL(8, u64)
