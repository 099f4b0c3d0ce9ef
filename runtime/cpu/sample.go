package cpu

import (
	"math"
	"slices"

	"crsc/compiler/ir"
	"crsc/runtime/rng"
	"crsc/runtime/rowsample"
)

// sampleKernels holds the WTA-CRS sampling ops (domain ai.crsc). The method
// is /shared/WTACRS.md: a linear layer's weight gradient dW = Xᵀ·G is
// estimated from k of X's N rows, so the forward pass only keeps those k
// rows (already scaled) and their indices; backward gathers G's rows at the
// same indices and multiplies, dŴ = Xsᵀ·G[idx].
//
//	SampleRows(X [..., N, d], gnorm? [..., N], mask? [..., N]; keep, min_rows=10, estimator="wta")
//	    → Xs [..., k, d] (X's dtype), idx [..., k] int64
//	GatherRows(X [..., N, d], idx [..., k]) → [..., k, d]
//	RowNorms(X [..., N, d]) → [..., N]   (L2 norm of each row, float64 sums)
//
// Every leading index b of X is an independent block of N rows with the same
// budget k (ir.SampleBudget). The optional mask (any numeric or bool dtype,
// 0 = padding) marks padding rows: they get p = 0 and no share of the k
// slots (package rowsample). The CUDA backend must reproduce SampleRows bit
// for bit; the exact scheme is spelled out in package rowsample.
var sampleKernels = map[string]Kernel{
	"SampleRows": sampleRowsKernel,
	"GatherRows": gatherRowsKernel,
	"RowNorms":   rowNormsKernel,
}

// rowBlocks views a tensor of shape [..., N, d] as B blocks of N rows of d.
type rowBlocks struct{ B, N, d int }

func blocksOf(shape []int) rowBlocks {
	r := len(shape)
	return rowBlocks{B: ir.NumElements(shape[:r-2]), N: shape[r-2], d: shape[r-1]}
}

// sampleRowsKernel implements SampleRows; see sampleKernels for the
// contract and package rowsample for the sampling itself.
func sampleRowsKernel(ctx *Ctx, n *ir.Node, ins []*ir.Tensor) ([]*ir.Tensor, error) {
	if err := checkedInputs(n, ins, 1); err != nil {
		return nil, err
	}
	keep, minRows, est, err := ir.SampleParams(n.Attrs)
	if err != nil {
		return nil, errf(n, "%v", err)
	}
	x := ins[0]
	if st := storage(x.DType); st != ir.Float32 && st != ir.Float64 {
		return nil, errf(n, "unsupported dtype %v (want float)", x.DType)
	}
	r := len(x.Shape)
	if r < 2 {
		return nil, errf(n, "X must have rank >= 2 ([..., N, d]), got shape %v", x.Shape)
	}
	g, err := SampleGnorm(n, in(ins, 1), x.Shape[:r-1])
	if err != nil {
		return nil, err
	}
	mask, err := SampleMask(n, in(ins, 2), x.Shape[:r-1])
	if err != nil {
		return nil, err
	}
	bl := blocksOf(x.Shape)
	k := int(ir.SampleBudget(keep, minRows, est, int64(bl.N)))
	if k == bl.N { // exact: every row, weight 1, in order — bit-identical dW
		idx := ctx.newTensor(ir.Int64, x.Shape[:r-1])
		for i := range idx.I64 {
			idx.I64[i] = int64(i % max(bl.N, 1))
		}
		return trimOutputs(n, []*ir.Tensor{ctx.clone(x), idx}), nil
	}

	norms := rowNorms(ctx, x)
	idx := make([]int64, bl.B*k)
	weight := make([]float64, bl.B*k)
	seed, step := ctx.randomness()
	stream := rng.StreamOf(n.Name)
	parallelFor(ctx, bl.B, bl.B*bl.N*16, func(lo, hi int) {
		var s rowsample.Scratch
		for b := lo; b < hi; b++ {
			var gb []float64
			var mb []bool
			if g != nil {
				gb = g[b*bl.N : (b+1)*bl.N]
			}
			if mask != nil {
				mb = mask[b*bl.N : (b+1)*bl.N]
			}
			random := func(t int) uint64 {
				return rng.Uint64(seed, step, stream, uint64(b)*uint64(k)+uint64(t))
			}
			s.Block(est, norms[b*bl.N:(b+1)*bl.N], gb, mb, k, random, idx[b*k:(b+1)*k], weight[b*k:(b+1)*k])
		}
	})

	lead := x.Shape[:r-2]
	xs := ctx.newTensor(x.DType, append(append([]int{}, lead...), k, bl.d))
	idxT := ir.FromInt64(append(append([]int{}, lead...), k), idx)
	switch storage(x.DType) {
	case ir.Float32:
		writeScaledRows(ctx, bl, k, x.F32, xs.F32, idx, weight)
	case ir.Float64:
		writeScaledRows(ctx, bl, k, x.F64, xs.F64, idx, weight)
	}
	return trimOutputs(n, []*ir.Tensor{xs, idxT}), nil
}

// SampleGnorm checks SampleRows' optional gnorm input (shape want = X's
// shape without its last axis, float, every value ≥ 0) and returns it in
// float64; nil when absent. runtime/gpu calls it and SampleMask on the
// host copies of the inputs, so that both backends accept the same ones.
func SampleGnorm(n *ir.Node, t *ir.Tensor, want []int) ([]float64, error) {
	if t == nil {
		return nil, nil
	}
	if !slices.Equal(t.Shape, want) {
		return nil, errf(n, "gnorm shape %v, want %v (X's shape without its last axis)", t.Shape, want)
	}
	var g []float64
	switch storage(t.DType) {
	case ir.Float32:
		g = make([]float64, len(t.F32))
		for i, v := range t.F32 {
			g[i] = float64(v)
		}
	case ir.Float64:
		g = t.F64
	default:
		return nil, errf(n, "gnorm must be a float tensor, got %v", t.DType)
	}
	for i, v := range g {
		if !(v >= 0) {
			return nil, errf(n, "gnorm[%d] = %v, want a norm estimate >= 0", i, v)
		}
	}
	return g, nil
}

// SampleMask checks the optional padding mask (shape want, like gnorm) and
// returns it as real-row flags (nonzero = a real row); nil when absent.
func SampleMask(n *ir.Node, t *ir.Tensor, want []int) ([]bool, error) {
	if t == nil {
		return nil, nil
	}
	if !slices.Equal(t.Shape, want) {
		return nil, errf(n, "mask shape %v, want %v (X's shape without its last axis)", t.Shape, want)
	}
	real := make([]bool, t.Len())
	switch storage(t.DType) {
	case ir.Bool, ir.Int64, ir.Int32, ir.Float32, ir.Float64:
		for i := range real {
			real[i] = t.Float64At(i) != 0
		}
	default:
		return nil, errf(n, "mask must be a bool, integer or float tensor, got %v", t.DType)
	}
	return real, nil
}

// writeScaledRows writes row t of block b of xs as weight·X[b, idx[b,t]],
// computed in float64 and rounded once (exact for weight 1). Weight-0 rows
// stay zero, even where X holds Inf or NaN.
func writeScaledRows[T float](ctx *Ctx, bl rowBlocks, k int, x, xs []T, idx []int64, weight []float64) {
	parallelFor(ctx, bl.B*k, bl.B*k*bl.d, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			w := weight[r]
			if w == 0 {
				continue
			}
			src := x[((r/k)*bl.N+int(idx[r]))*bl.d:][:bl.d]
			dst := xs[r*bl.d:][:bl.d]
			for c, v := range src {
				dst[c] = T(w * float64(v))
			}
		}
	})
}

// rowNorms returns the L2 norm of every row (last axis) of a float tensor,
// each summed in float64 in column order, so the result does not depend on
// the thread count.
func rowNorms(ctx *Ctx, x *ir.Tensor) []float64 {
	d := 1
	if r := len(x.Shape); r > 0 {
		d = x.Shape[r-1]
	}
	rows := 0
	if d > 0 {
		rows = x.Len() / d
	} else {
		rows = ir.NumElements(x.Shape[:len(x.Shape)-1])
	}
	out := make([]float64, rows)
	switch storage(x.DType) {
	case ir.Float32:
		normsOf(ctx, x.F32, d, out)
	case ir.Float64:
		normsOf(ctx, x.F64, d, out)
	}
	return out
}

func normsOf[T float](ctx *Ctx, x []T, d int, out []float64) {
	parallelFor(ctx, len(out), len(out)*d, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			sum := 0.0
			for _, v := range x[i*d : (i+1)*d] {
				sum += float64(v) * float64(v)
			}
			out[i] = math.Sqrt(sum)
		}
	})
}

// rowNormsKernel implements RowNorms(X [..., N, d]) → [..., N] in X's
// dtype: ‖X[..., i, :]‖₂ accumulated in float64.
func rowNormsKernel(ctx *Ctx, n *ir.Node, ins []*ir.Tensor) ([]*ir.Tensor, error) {
	if err := checkedInputs(n, ins, 1); err != nil {
		return nil, err
	}
	x := ins[0]
	if st := storage(x.DType); st != ir.Float32 && st != ir.Float64 {
		return nil, errf(n, "unsupported dtype %v (want float)", x.DType)
	}
	if len(x.Shape) < 1 {
		return nil, errf(n, "X must have rank >= 1, got a scalar")
	}
	norms := rowNorms(ctx, x)
	out := ctx.newTensor(x.DType, x.Shape[:len(x.Shape)-1])
	switch storage(x.DType) {
	case ir.Float32:
		for i, v := range norms {
			out.F32[i] = float32(v)
		}
	case ir.Float64:
		copy(out.F64, norms)
	}
	return []*ir.Tensor{out}, nil
}

// gatherRowsKernel implements GatherRows(X [..., N, d], idx [..., k]) →
// [..., k, d] with out[b, t, :] = X[b, idx[b, t], :]; idx shares X's leading
// dims and every index must lie in [0, N).
func gatherRowsKernel(ctx *Ctx, n *ir.Node, ins []*ir.Tensor) ([]*ir.Tensor, error) {
	if err := checkedInputs(n, ins, 2); err != nil {
		return nil, err
	}
	x, idxT := ins[0], ins[1]
	r := len(x.Shape)
	if r < 2 {
		return nil, errf(n, "X must have rank >= 2 ([..., N, d]), got shape %v", x.Shape)
	}
	if len(idxT.Shape) != r-1 || !slices.Equal(idxT.Shape[:r-2], x.Shape[:r-2]) {
		return nil, errf(n, "idx shape %v does not match X %v (want [..., k] with X's leading dims)", idxT.Shape, x.Shape)
	}
	idx, err := intsInput(n, idxT, "idx")
	if err != nil {
		return nil, err
	}
	bl := blocksOf(x.Shape)
	for i, v := range idx {
		if v < 0 || v >= int64(bl.N) {
			return nil, errf(n, "idx[%d] = %d out of range [0, %d)", i, v, bl.N)
		}
	}
	k := idxT.Shape[r-2]
	out := ctx.newTensor(x.DType, append(append([]int{}, idxT.Shape...), bl.d))
	switch storage(x.DType) {
	case ir.Float32:
		gatherRows(ctx, bl, k, x.F32, out.F32, idx)
	case ir.Float64:
		gatherRows(ctx, bl, k, x.F64, out.F64, idx)
	case ir.Int64:
		gatherRows(ctx, bl, k, x.I64, out.I64, idx)
	case ir.Int32:
		gatherRows(ctx, bl, k, x.I32, out.I32, idx)
	case ir.Bool:
		gatherRows(ctx, bl, k, x.Bool, out.Bool, idx)
	default:
		return nil, errf(n, "unsupported dtype %v", x.DType)
	}
	return []*ir.Tensor{out}, nil
}

func gatherRows[T elem](ctx *Ctx, bl rowBlocks, k int, x, out []T, idx []int64) {
	parallelFor(ctx, bl.B*k, bl.B*k*bl.d, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			src := ((r/k)*bl.N + int(idx[r])) * bl.d
			copy(out[r*bl.d:(r+1)*bl.d], x[src:src+bl.d])
		}
	})
}
