package cpu

import (
	"math"
	"slices"

	"crsc/compiler/ir"
	"crsc/runtime/shapes"
)

// crscDomain holds crsc's own ops; here, the gradient helpers the autodiff
// pass emits for ops whose backward is not a short chain of ONNX ops.
const crscDomain = "ai.crsc"

// crscKernels is the ai.crsc registry.
var crscKernels = map[string]Kernel{
	"SumTo":                       sumToKernel,
	"GatherGrad":                  gatherGradKernel,
	"SliceGrad":                   sliceGradKernel,
	"DropoutGrad":                 dropoutGradKernel,
	"LayerNormalizationGrad":      layerNormGradKernel,
	"SoftmaxCrossEntropyLossGrad": sceLossGradKernel,
	"MatMul":                      matMulKernel, // with transA/transB
	"GeluGrad":                    geluGradKernel,
}

// geluGradKernel is dX = dY · (Φ(x) + x·φ(x)) for the exact GELU
// x·Φ(x), with Φ the standard normal CDF and φ its density.
func geluGradKernel(ctx *Ctx, n *ir.Node, ins []*ir.Tensor) ([]*ir.Tensor, error) {
	if err := checkedInputs(n, ins, 2); err != nil {
		return nil, err
	}
	dy, x := ins[0], ins[1]
	if !slices.Equal(dy.Shape, x.Shape) || dy.DType != x.DType {
		return nil, errf(n, "dY %v%v and X %v%v differ", dy.DType, dy.Shape, x.DType, x.Shape)
	}
	out := ctx.newUninitTensor(x.DType, x.Shape) // every element written below
	const invSqrt2, invSqrt2Pi = 1 / math.Sqrt2, 0.3989422804014327
	switch x.DType {
	case ir.Float32:
		parallelFor(ctx, len(x.F32), 8*len(x.F32), func(lo, hi int) {
			geluErfGrad(out.F32[lo:hi], dy.F32[lo:hi], x.F32[lo:hi])
		})
	case ir.Float64:
		parallelFor(ctx, len(x.F64), len(x.F64), func(lo, hi int) {
			for i := lo; i < hi; i++ {
				v := x.F64[i]
				out.F64[i] = dy.F64[i] * (0.5*(1+math.Erf(v*invSqrt2)) + v*math.Exp(-0.5*v*v)*invSqrt2Pi)
			}
		})
	default:
		return nil, errf(n, "unsupported dtype %v (want float)", x.DType)
	}
	return []*ir.Tensor{out}, nil
}

// gradWantOutput reports whether output i of n is needed: a nil entry in
// n.Outputs (or one past its end) is an output the graph does not read, so
// the kernel may skip computing it. A node built without outputs (tests,
// direct calls) wants them all.
func gradWantOutput(n *ir.Node, i int) bool {
	if len(n.Outputs) == 0 {
		return true
	}
	return i < len(n.Outputs) && n.Outputs[i] != nil
}

// gradTargetShape reads a shape input (int64 1-D, as a Shape node produces).
func gradTargetShape(n *ir.Node, t *ir.Tensor, what string) ([]int, error) {
	v, err := shapeOf(n, t, what)
	if err != nil {
		return nil, err
	}
	return dimsOf(n, v)
}

// gradSumToAxes returns the axes of from that must be summed (keeping dims) so
// that the result reshapes to to: the leading axes to lacks, and those where
// to has 1 and from does not. It fails unless to broadcasts to from.
func gradSumToAxes(n *ir.Node, from, to []int) ([]int, error) {
	axes, err := shapes.SumToAxes(from, to)
	return axes, nodeErr(n, err)
}

// sumTo sums x over the axes broadcasting expanded, so that it gets shape to.
func gradSumTo(ctx *Ctx, n *ir.Node, x *ir.Tensor, to []int) (*ir.Tensor, error) {
	axes, err := gradSumToAxes(n, x.Shape, to)
	if err != nil {
		return nil, err
	}
	if len(axes) == 0 { // same shape: the common case for unbroadcast operands
		return ctx.clone(x).Reshaped(to), nil
	}
	red, err := reduce(ctx, n, redSum, x, axes, true)
	if err != nil {
		return nil, err
	}
	// keepdims left x's rank with ones where summed; the element count is
	// already that of to.
	return red.Reshaped(to), nil
}

// sumToKernel: SumTo(dY, shape) is the adjoint of broadcasting an operand of
// the given shape up to dY's shape (Expand, or numpy broadcasting in
// Add/Mul/...). Sums accumulate in float64 (see reduceFloat).
func sumToKernel(ctx *Ctx, n *ir.Node, ins []*ir.Tensor) ([]*ir.Tensor, error) {
	if err := checkedInputs(n, ins, 2); err != nil {
		return nil, err
	}
	to, err := gradTargetShape(n, ins[1], "shape")
	if err != nil {
		return nil, err
	}
	out, err := gradSumTo(ctx, n, ins[0], to)
	if err != nil {
		return nil, err
	}
	return []*ir.Tensor{out}, nil
}

// gatherGradKernel: GatherGrad(dY, indices, shape; axis) is the adjoint of
// Gather(data, indices; axis) with data of the given shape: zeros with each
// dY slice added into the data row its index picked. Repeated indices
// accumulate; negative ones count from the end, as in Gather.
//
// The scatter is made deterministic and race-free by inverting the index
// map first (a counting sort: for each data row, the positions j that read
// it, ascending), so every output element is written by one goroutine and
// sums its contributions in j order, in float64. Work is split over data
// rows, or over columns when rows are wide (embeddings: one hot row such as
// the padding token must not serialize the whole scatter). Both splits give
// bit-identical results, whatever the thread count.
func gatherGradKernel(ctx *Ctx, n *ir.Node, ins []*ir.Tensor) ([]*ir.Tensor, error) {
	if err := checkedInputs(n, ins, 3); err != nil {
		return nil, err
	}
	dy, idxT := ins[0], ins[1]
	shape, err := gradTargetShape(n, ins[2], "shape")
	if err != nil {
		return nil, err
	}
	if len(shape) == 0 {
		return nil, errf(n, "data shape must have rank >= 1")
	}
	axis, err := normAxis(n, n.Attrs.Int("axis", 0), len(shape))
	if err != nil {
		return nil, err
	}
	idx, err := intsInput(n, idxT, "indices")
	if err != nil {
		return nil, err
	}
	want := shapes.Gather(shape, idxT.Shape, axis)
	if !slices.Equal(dy.Shape, want) {
		return nil, errf(n, "dY shape %v, want %v (Gather of %v by indices %v on axis %d)", dy.Shape, want, shape, idxT.Shape, axis)
	}
	dim := shape[axis]
	rowsOf, err := shapes.Indices(idx, axis, dim) // normalized index per position j
	if err != nil {
		return nil, nodeErr(n, err)
	}
	start, order := shapes.InvertIndex(rowsOf, dim) // positions reading row r: order[start[r]:start[r+1]]
	out := ctx.newTensor(dy.DType, shape)
	g := gatherGradPlan{outer: ir.NumElements(shape[:axis]), dim: dim, k: len(idx),
		inner: ir.NumElements(shape[axis+1:]), start: start, order: order}
	if out.Len() == 0 || g.k == 0 {
		return []*ir.Tensor{out}, nil
	}
	switch storage(dy.DType) {
	case ir.Float32:
		scatterAddRows(ctx, &g, dy.F32, out.F32)
	case ir.Float64:
		scatterAddRows(ctx, &g, dy.F64, out.F64)
	default:
		return nil, errf(n, "unsupported dtype %v (want float)", dy.DType)
	}
	return []*ir.Tensor{out}, nil
}

// gatherGradPlan describes the scatter: dY is [outer, k, inner], the output
// [outer, dim, inner], and position j of the k goes to data row rowsOf[j].
type gatherGradPlan struct {
	outer, dim, k, inner int
	start, order         []int
}

// gradMinColChunk is the narrowest column slice worth a goroutine of its own.
const gradMinColChunk = 64

func scatterAddRows[T float](ctx *Ctx, g *gatherGradPlan, dy, out []T) {
	// row adds the contributions to output row u (= o*dim + r), columns
	// [c0, c1), in ascending j; acc is scratch of at least c1-c0.
	row := func(u, c0, c1 int, acc []float64) {
		o, r := u/g.dim, u%g.dim
		js := g.order[g.start[r]:g.start[r+1]]
		if len(js) == 0 {
			return
		}
		dst := out[u*g.inner+c0 : u*g.inner+c1]
		if len(js) == 1 { // T(float64(v)) == v, so this matches the sum below
			src := (o*g.k + js[0]) * g.inner
			copy(dst, dy[src+c0:src+c1])
			return
		}
		acc = acc[:c1-c0]
		clear(acc)
		for _, j := range js {
			src := (o*g.k + j) * g.inner
			for c, v := range dy[src+c0 : src+c1] {
				acc[c] += float64(v)
			}
		}
		for c, v := range acc {
			dst[c] = T(v)
		}
	}
	rows := g.outer * g.dim
	work := g.outer*g.k*g.inner + rows
	if pieces := min(threads(ctx), g.inner/gradMinColChunk); pieces > 1 && work >= minParallelWork {
		width := (g.inner + pieces - 1) / pieces
		parallelFor(ctx, pieces, work, func(lo, hi int) {
			acc := make([]float64, width)
			for p := lo; p < hi; p++ {
				c0, c1 := p*width, min((p+1)*width, g.inner)
				for u := 0; u < rows && c0 < c1; u++ {
					row(u, c0, c1, acc)
				}
			}
		})
		return
	}
	parallelFor(ctx, rows, work, func(lo, hi int) {
		acc := make([]float64, g.inner)
		for u := lo; u < hi; u++ {
			row(u, 0, g.inner, acc)
		}
	})
}

// sliceGradKernel: SliceGrad(dY, shape, starts, ends, axes?, steps?) is the
// adjoint of Slice(x, starts, ends, axes, steps) with x of the given shape:
// zeros with dY written where the slice read. A slice reads each element at
// most once, so this is a plain strided write (safe to run in parallel).
// Like Slice it also accepts starts/ends/axes/steps as attributes.
func sliceGradKernel(ctx *Ctx, n *ir.Node, ins []*ir.Tensor) ([]*ir.Tensor, error) {
	if err := checkedInputs(n, ins, 2); err != nil {
		return nil, err
	}
	dy := ins[0]
	shape, err := gradTargetShape(n, ins[1], "shape")
	if err != nil {
		return nil, err
	}
	var lists [4][]int64
	for i, name := range []string{"starts", "ends", "axes", "steps"} {
		if lists[i], err = intsOrAttr(n, ins, i+2, name); err != nil {
			return nil, err
		}
	}
	dims, strides, base, err := shapes.Slice(shape, lists[0], lists[1], lists[2], lists[3])
	if err != nil {
		return nil, nodeErr(n, err)
	}
	if !slices.Equal(dy.Shape, dims) {
		return nil, errf(n, "dY shape %v, want %v (the slice of %v)", dy.Shape, dims, shape)
	}
	out := ctx.newTensor(dy.DType, shape)
	if dy.Len() == 0 {
		return []*ir.Tensor{out}, nil
	}
	p := planStrided(dims, strides)
	switch storage(dy.DType) {
	case ir.Float32:
		gradStridedScatter(ctx, p, base, out.F32, dy.F32)
	case ir.Float64:
		gradStridedScatter(ctx, p, base, out.F64, dy.F64)
	case ir.Int64:
		gradStridedScatter(ctx, p, base, out.I64, dy.I64)
	case ir.Int32:
		gradStridedScatter(ctx, p, base, out.I32, dy.I32)
	default:
		gradStridedScatter(ctx, p, base, out.Bool, dy.Bool)
	}
	return []*ir.Tensor{out}, nil
}

// gradStridedScatter is stridedCopy reversed: the contiguous src goes to dst at
// base plus the plan's strides.
func gradStridedScatter[T elem](ctx *Ctx, p *bcastPlan, base int, dst, src []T) {
	s := p.inner[0]
	p.run(ctx, func(o int, offs []int, cnt int) {
		d := base + offs[0]
		if s == 1 {
			copy(dst[d:d+cnt], src[o:o+cnt])
			return
		}
		for i, v := range src[o : o+cnt] {
			dst[d+i*s] = v
		}
	})
}

// dropoutGradKernel: DropoutGrad(dY, mask, ratio?, training_mode?) is the
// adjoint of dropoutKernel. Inputs ratio and training_mode are the forward
// node's own (same defaults, attribute ratio of old opsets included), so
// the identity/active decision is the same one the forward made: identity
// when training_mode is absent or false, ctx.ForceEval is set, or ratio is
// 0; else dX = dY * mask * 1/(1-ratio), with the scale rounded to the dtype
// first exactly as the forward does. The mask is needed only when active.
func dropoutGradKernel(ctx *Ctx, n *ir.Node, ins []*ir.Tensor) ([]*ir.Tensor, error) {
	if err := checkedInputs(n, ins, 1); err != nil {
		return nil, err
	}
	dy, mask := ins[0], in(ins, 1)
	ratio, active, err := dropoutGradMode(ctx, n, ins, dy, 2, 3)
	if err != nil {
		return nil, err
	}
	if !active {
		return []*ir.Tensor{ctx.clone(dy)}, nil
	}
	if mask == nil {
		return nil, errf(n, "missing mask (input 1), needed in training mode")
	}
	if mask.DType != ir.Bool || !slices.Equal(mask.Shape, dy.Shape) {
		return nil, errf(n, "mask must be bool %v, got %v %v", dy.Shape, mask.DType, mask.Shape)
	}
	scale := dropoutScale(ratio)
	out := ctx.newTensor(dy.DType, dy.Shape)
	m := mask.Bool
	switch storage(dy.DType) {
	case ir.Float32:
		s, x, o := float32(scale), dy.F32, out.F32
		parallelFor(ctx, len(o), len(o), func(lo, hi int) {
			for i := lo; i < hi; i++ {
				if m[i] {
					o[i] = x[i] * s
				}
			}
		})
	default:
		x, o := dy.F64, out.F64
		parallelFor(ctx, len(o), len(o), func(lo, hi int) {
			for i := lo; i < hi; i++ {
				if m[i] {
					o[i] = x[i] * scale
				}
			}
		})
	}
	return []*ir.Tensor{out}, nil
}

// lnGradBlocks bounds the row blocks of layerNormGrad. The blocks depend on
// the row count only, never on the thread count, so the column sums for
// dScale/dBias come out bit-identical however many threads run.
const lnGradBlocks = 64

// layerNormGradKernel: LayerNormalizationGrad(dY, X, scale, mean,
// inv_std_dev; axis) → (dX, dScale, dBias), the adjoint of
// LayerNormalization (opset 17) given its saved Mean and InvStdDev outputs
// (shape X.shape[:axis] + ones, any float dtype). Per normalized row of D
// elements, with xhat = (x-mean)*inv and g = dY*scale:
//
//	dX = inv * (g - mean(g) - xhat*mean(g*xhat))
//	dScale = Σ_rows dY*xhat, dBias = Σ_rows dY
//
// dScale and dBias take scale's shape (bias is not an input: a bias whose
// shape differs from scale's needs a SumTo after). A scale that the forward
// broadcast to the normalized dims gets its gradient summed back. Row sums
// run in float64. Outputs whose n.Outputs entry is nil are not computed.
func layerNormGradKernel(ctx *Ctx, n *ir.Node, ins []*ir.Tensor) ([]*ir.Tensor, error) {
	if err := checkedInputs(n, ins, 5); err != nil {
		return nil, err
	}
	dy, x, scale, meanT, invT := ins[0], ins[1], ins[2], ins[3], ins[4]
	if st := storage(x.DType); st != ir.Float32 && st != ir.Float64 {
		return nil, errf(n, "unsupported dtype %v (want float)", x.DType)
	}
	if dy.DType != x.DType || !slices.Equal(dy.Shape, x.Shape) {
		return nil, errf(n, "dY %v %v must match X %v %v", dy.DType, dy.Shape, x.DType, x.Shape)
	}
	p, err := normLayout(n, x)
	if err != nil {
		return nil, err
	}
	axis, norm, outer, d := p.Axis, p.Norm, p.Outer, p.D
	sc, broadcastScale, err := gradNormScale(ctx, n, scale, x.DType, norm, d)
	if err != nil {
		return nil, err
	}
	for _, st := range []*ir.Tensor{meanT, invT} {
		if !st.DType.IsFloat() || st.Len() != outer {
			return nil, errf(n, "mean and inv_std_dev must be float with %d elements (X.shape[:%d] + ones), got %v %v",
				outer, axis, st.DType, st.Shape)
		}
	}
	mean, inv := toFloat64(meanT).F64, toFloat64(invT).F64
	wantDX, wantDS, wantDB := gradWantOutput(n, 0), gradWantOutput(n, 1), gradWantOutput(n, 2)
	var dx *ir.Tensor
	if wantDX {
		dx = ctx.newUninitTensor(x.DType, x.Shape) // normGradBlocks writes every row
	}
	var ds, db []float64
	if wantDS {
		ds = make([]float64, d)
	}
	if wantDB {
		db = make([]float64, d)
	}
	switch storage(x.DType) {
	case ir.Float32:
		var o []float32
		if dx != nil {
			o = dx.F32
		}
		layerNormGrad(ctx, dy.F32, x.F32, o, sc, mean, inv, ds, db, outer, d)
	default:
		var o []float64
		if dx != nil {
			o = dx.F64
		}
		layerNormGrad(ctx, dy.F64, x.F64, o, sc, mean, inv, ds, db, outer, d)
	}
	param := func(sum []float64) (*ir.Tensor, error) {
		if sum == nil {
			return nil, nil
		}
		t := &ir.Tensor{DType: ir.Float64, Shape: append([]int{}, norm...), F64: sum}
		if broadcastScale {
			var err error
			if t, err = gradSumTo(ctx, n, t, scale.Shape); err != nil {
				return nil, err
			}
		}
		t = ctx.convert(t, x.DType)
		t.Shape = append([]int{}, scale.Shape...)
		return t, nil
	}
	dScale, err := param(ds)
	if err != nil {
		return nil, err
	}
	dBias, err := param(db)
	if err != nil {
		return nil, err
	}
	return trimOutputs(n, []*ir.Tensor{dx, dScale, dBias}), nil
}

// gradNormScale is scale in float64 over the normalized dims norm (d
// elements), broadcast there (broadcast true) by the forward's rule:
// unidirectionally.
func gradNormScale(ctx *Ctx, n *ir.Node, scale *ir.Tensor, dt ir.DType, norm []int, d int) (sc []float64, broadcast bool, err error) {
	if scale.DType != dt {
		return nil, false, errf(n, "scale dtype %v differs from input %v", scale.DType, dt)
	}
	sc = toFloat64(scale).F64
	if scale.Len() == d && len(scale.Shape) <= len(norm) {
		return sc, false, nil
	}
	shape, err := broadcastShape(n, norm, scale.Shape)
	if err != nil || len(shape) != len(norm) || ir.NumElements(shape) != d {
		return nil, false, errf(n, "scale shape %v does not broadcast to %v", scale.Shape, norm)
	}
	return broadcastTo(ctx, sc, scale.Shape, norm), true, nil
}

// layerNormGrad fills dx (when non-nil) and the column sums ds, db (when
// non-nil) from the input rows: x̂ = (x − mean)·inv.
func layerNormGrad[T float](ctx *Ctx, dy, x, dx []T, sc, mean, inv, ds, db []float64, outer, d int) {
	normGradBlocks(ctx, dy, dx, normGradArgs{sc: sc, inv: inv, ds: ds, db: db, outer: outer, d: d, centered: true},
		func(o int, xh []float64) {
			mu, is := mean[o], inv[o]
			for j, v := range x[o*d : (o+1)*d] {
				xh[j] = (float64(v) - mu) * is
			}
		})
}

// normGradBlocks is the core every norm gradient shares: given each row's
// normalized input x̂ (written by xhat into the row buffer), it fills
//
//	dx = inv·(g·sc − mean(g·sc) − x̂·mean(g·sc·x̂))   (no mean(g·sc) term unless centered)
//
// when dx is non-nil, and the column sums ds = Σ g·x̂, db = Σ g when
// wanted. Rows are cut into lnGradBlocks fixed blocks with their own
// partial sums, added in block order at the end, so dScale/dBias are
// bit-identical whatever the thread count.
func normGradBlocks[T float](ctx *Ctx, dy, dx []T, k normGradArgs, xhat func(o int, xh []float64)) {
	outer, d := k.outer, k.d
	if outer == 0 || d == 0 {
		return
	}
	nb := min(outer, lnGradBlocks)
	var ps, pb []float64
	if k.ds != nil {
		ps = make([]float64, nb*d)
	}
	if k.db != nil {
		pb = make([]float64, nb*d)
	}
	rows := simdNormRows()
	parallelFor(ctx, nb, outer*d*3, func(lo, hi int) {
		xh := make([]float64, d)
		for b := lo; b < hi; b++ {
			r0, r1 := b*outer/nb, (b+1)*outer/nb
			for o := r0; o < r1; o++ {
				g := dy[o*d : (o+1)*d]
				// One pass for the column sums and the row's two means,
				// one for dx. The column sums run in row order within
				// fixed blocks; the row sums in a fixed interleaving.
				var colS, colB []float64
				if ps != nil {
					colS = ps[b*d : (b+1)*d]
				}
				if pb != nil {
					colB = pb[b*d : (b+1)*d]
				}
				// The SIMD pass (float32 from the output, every
				// output wanted) computes x̂ itself.
				g32, simd := any(g).([]float32)
				simd = simd && k.y32 != nil && colS != nil && colB != nil && dx != nil
				if !simd {
					xhat(o, xh)
				}
				var sg, sgx float64
				if simd {
					sg, sgx = rows.sums(g32, k.y32[o*d:(o+1)*d], k.bias, k.rs, xh, k.sc, colS, colB)
				} else {
					sg, sgx = normGradRowSums(g, xh, k.sc, colS, colB, dx != nil)
				}
				if dx == nil {
					continue
				}
				mg, mgx := sg/float64(d), sgx/float64(d)
				if !k.centered {
					mg = 0
				}
				is := k.inv[o]
				out, sc := dx[o*d:(o+1)*d], k.sc[:d]
				if simd {
					rows.dx(any(out).([]float32), g32, xh, sc, [3]float64{is, mg, mgx})
					continue
				}
				xr := xh[:d]
				for j, v := range g {
					out[j] = T(is * (float64(v)*sc[j] - mg - xr[j]*mgx))
				}
			}
		}
	})
	for _, p := range []struct{ part, sum []float64 }{{ps, k.ds}, {pb, k.db}} {
		if p.sum == nil {
			continue
		}
		for b := 0; b < nb; b++ {
			for j, v := range p.part[b*d : (b+1)*d] {
				p.sum[j] += v
			}
		}
	}
}

// normRowKernels are the SIMD forms of a norm gradient's two passes over
// a float32 row from the norm's output (normGradBlocks): the column sums
// and row means, which also write x̂, and dx.
type normRowKernels struct {
	sums func(g, y []float32, bias, rs, xh, sc, colS, colB []float64) (sg, sgx float64)
	dx   func(out, g []float32, xh, sc []float64, c [3]float64)
}

// simdNormRows returns the row kernels of the machine's SIMD path (nil:
// none, the Go loops).
func simdNormRows() *normRowKernels {
	switch {
	case useAVX512:
		return &normRowKernels{
			sums: func(g, y []float32, bias, rs, xh, sc, colS, colB []float64) (float64, float64) {
				var sums [2]float64
				normRowSumsAVX512(&g[0], &y[0], &bias[0], &rs[0], &xh[0], &sc[0], &colS[0], &colB[0], len(g), &sums)
				return sums[0], sums[1]
			},
			dx: func(out, g []float32, xh, sc []float64, c [3]float64) {
				normRowDxAVX512(&out[0], &g[0], &xh[0], &sc[0], len(g), &c)
			},
		}
	case useAVX2:
		return &normRowKernels{sums: normRowSumsAVX2Slices, dx: normRowDxAVX2Slices}
	}
	return nil
}

// normGradRowSums adds row g's column contributions into colS (Σ g·x̂)
// and colB (Σ g) when non-nil, and returns Σ g·sc and Σ g·sc·x̂ when
// wantDX (else 0, 0). The cases are split so the inner loops carry no nil
// tests.
func normGradRowSums[T float](g []T, xh, sc, colS, colB []float64, wantDX bool) (sg, sgx float64) {
	d := len(g)
	xh, sc = xh[:d], sc[:d]
	switch {
	case colS != nil && colB != nil && wantDX:
		colS, colB = colS[:d], colB[:d]
		for j, v := range g {
			f := float64(v)
			colS[j] += f * xh[j]
			colB[j] += f
		}
		return normRowDots(g, xh, sc)
	case colS != nil:
		colS = colS[:d]
		for j, v := range g {
			colS[j] += float64(v) * xh[j]
		}
	}
	if colB != nil && (colS == nil || !wantDX) {
		colB = colB[:d]
		for j, v := range g {
			colB[j] += float64(v)
		}
	}
	if wantDX {
		return normRowDots(g, xh, sc)
	}
	return 0, 0
}

// normRowDots returns Σ g·sc and Σ g·sc·x̂ over a row, each in two
// interleaved partial sums (the adds are latency-bound otherwise); the
// order depends only on the row length.
func normRowDots[T float](g []T, xh, sc []float64) (sg, sgx float64) {
	xh, sc = xh[:len(g)], sc[:len(g)]
	var a0, a1, b0, b1 float64
	j := 0
	for ; j+2 <= len(g); j += 2 {
		g0, g1 := float64(g[j])*sc[j], float64(g[j+1])*sc[j+1]
		a0 += g0
		a1 += g1
		b0 += g0 * xh[j]
		b1 += g1 * xh[j+1]
	}
	if j < len(g) {
		g0 := float64(g[j]) * sc[j]
		a0 += g0
		b0 += g0 * xh[j]
	}
	return a0 + a1, b0 + b1
}

// sceLossGradKernel: SoftmaxCrossEntropyLossGrad(dLoss, log_prob, labels,
// weights?; reduction, ignore_index) → dScores, the adjoint of sceLossKernel
// with respect to scores, given its log_prob output. With w the weight of
// a position's label (1 without weights),
//
//	dScores[i, c, j] = k(i, j) * w * (exp(log_prob[i, c, j]) - [c == label])
//
// where k is dLoss[i, j] for reduction none, dLoss for sum, and dLoss/Σw
// (Σw over the counted labels) for mean, 0 when every label is ignored, as
// the forward then returns the constant 0. Ignored positions get 0.
func sceLossGradKernel(ctx *Ctx, n *ir.Node, ins []*ir.Tensor) ([]*ir.Tensor, error) {
	if err := checkedInputs(n, ins, 3); err != nil {
		return nil, err
	}
	dLoss, logp, labels, weights := ins[0], ins[1], ins[2], in(ins, 3)
	if st := storage(logp.DType); st != ir.Float32 && st != ir.Float64 {
		return nil, errf(n, "unsupported dtype %v (want float)", logp.DType)
	}
	a, err := parseSCE(n, logp, labels, weights, "log_prob")
	if err != nil {
		return nil, err
	}
	N, C, D, lab := a.N, a.C, a.D, a.labels
	reduction := a.reduction
	if !dLoss.DType.IsFloat() {
		return nil, errf(n, "dLoss must be float, got %v", dLoss.DType)
	}
	if reduction == "none" {
		if wantLabels := labels.Shape; !slices.Equal(dLoss.Shape, wantLabels) {
			return nil, errf(n, "dLoss shape %v, want %v for reduction none", dLoss.Shape, wantLabels)
		}
	} else if dLoss.Len() != 1 {
		return nil, errf(n, "dLoss must be a scalar for reduction %s, got shape %v", reduction, dLoss.Shape)
	}
	dl := toFloat64(dLoss).F64
	// coef[p] is the factor of position p's row, 0 when ignored; labels
	// are checked here, sequentially, so the parallel pass cannot fail.
	coef := make([]float64, N*D)
	wsum := 0.0
	for p, l := range lab {
		wt, ok, err := a.weight(n, l)
		if err != nil {
			return nil, err
		} else if !ok {
			continue
		}
		coef[p] = wt
		wsum += wt
	}
	for p := range coef {
		switch reduction {
		case "none":
			coef[p] *= dl[p]
		case "sum":
			coef[p] *= dl[0]
		default:
			if wsum == 0 {
				coef[p] = 0
			} else {
				coef[p] *= dl[0] / wsum
			}
		}
	}
	out := ctx.newTensor(logp.DType, logp.Shape)
	switch storage(logp.DType) {
	case ir.Float32:
		sceGrad(ctx, logp.F32, out.F32, lab, coef, N, C, D)
	default:
		sceGrad(ctx, logp.F64, out.F64, lab, coef, N, C, D)
	}
	return []*ir.Tensor{out}, nil
}

func sceGrad[T float](ctx *Ctx, logp, out []T, lab []int64, coef []float64, N, C, D int) {
	parallelFor(ctx, N*D, N*C*D, func(lo, hi int) {
		for p := lo; p < hi; p++ {
			k := coef[p]
			if k == 0 { // ignored (or zero weight / zero cotangent): stays 0
				continue
			}
			i, j := p/D, p%D
			base := i*C*D + j
			for c := 0; c < C; c++ {
				q := base + c*D
				v := math.Exp(float64(logp[q]))
				if int64(c) == lab[p] {
					v--
				}
				out[q] = T(k * v)
			}
		}
	})
}
