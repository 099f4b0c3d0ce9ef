package cpu

import (
	"math"
	"slices"

	"crsc/compiler/ir"
	"crsc/runtime/rng"
	"crsc/runtime/shapes"
)

// trimOutputs drops optional trailing outputs the node does not declare.
func trimOutputs(n *ir.Node, outs []*ir.Tensor) []*ir.Tensor {
	if k := len(n.Outputs); k > 0 && k < len(outs) {
		return outs[:k]
	}
	return outs
}

// softmaxKernel implements Softmax and LogSoftmax. The node's opset decides
// the meaning of axis: from 13 on it is one axis (default -1); before, the
// input is coerced to 2-D at axis (default 1) and each row is normalized.
// The importer records the opset in the int attribute "_opset" (default 13).
func softmaxKernel(logOut bool) Kernel {
	return func(ctx *Ctx, n *ir.Node, ins []*ir.Tensor) ([]*ir.Tensor, error) {
		x, err := dataInput(n, ins)
		if err != nil {
			return nil, err
		}
		outer, dim, inner, err := softmaxLayout(n, x.Shape)
		if err != nil {
			return nil, nodeErr(n, err)
		}
		var out *ir.Tensor
		if storage(x.DType) == ir.Float32 && inner == 1 && !logOut {
			out = ctx.newUninitTensor(x.DType, x.Shape) // softmaxRows32 writes every row whole
		} else {
			out = ctx.newTensor(x.DType, x.Shape)
		}
		switch storage(x.DType) {
		case ir.Float32:
			if inner == 1 && !logOut {
				softmaxRows32(ctx, x.F32, out.F32, outer, dim)
			} else {
				softmax(ctx, x.F32, out.F32, outer, dim, inner, logOut)
			}
		case ir.Float64:
			softmax(ctx, x.F64, out.F64, outer, dim, inner, logOut)
		default:
			return nil, errf(n, "unsupported dtype %v (want float)", x.DType)
		}
		return []*ir.Tensor{out}, nil
	}
}

// softmaxLayout reads a Softmax node's axis as its opset means it: one
// axis (default -1) from opset 13 on, before that the input coerced to
// 2-D at axis (default 1). The importer records the opset in the int
// attribute "_opset" (default 13).
func softmaxLayout(n *ir.Node, shape []int) (outer, dim, inner int, err error) {
	if n.Attrs.Int("_opset", 13) >= 13 {
		return shapes.Softmax(shape, n.Attrs.Int("axis", -1), false)
	}
	return shapes.Softmax(shape, n.Attrs.Int("axis", 1), true)
}

// softmaxRows32 is the attention case: contiguous float32 rows, exp in
// float32 (expShift: AVX-512 when available, the sum then in float32
// lanes; else exp32 with the sum in float64).
func softmaxRows32(ctx *Ctx, x, out []float32, rows, dim int) {
	parallelFor(ctx, rows, rows*dim, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			row, o := x[r*dim:(r+1)*dim], out[r*dim:(r+1)*dim]
			if useAVX512 && dim > 0 {
				m := maxAVX512(&row[0], dim)
				scaleAVX512(&o[0], dim, float32(1/expShift(o, row, m)))
				continue
			}
			m := float32(math.Inf(-1))
			for _, v := range row {
				m = max(m, v)
			}
			inv := float32(1 / expShift(o, row, m))
			for j := range o {
				o[j] *= inv
			}
		}
	})
}

// softmax normalizes every length-dim vector (stride inner) of x, with the
// max subtracted first so exp cannot overflow.
func softmax[T float](ctx *Ctx, x, out []T, outer, dim, inner int, logOut bool) {
	parallelFor(ctx, outer*inner, outer*dim*inner, func(lo, hi int) {
		for u := lo; u < hi; u++ {
			o, i := u/inner, u%inner
			base := o*dim*inner + i
			m := math.Inf(-1)
			for j := 0; j < dim; j++ {
				m = max(m, float64(x[base+j*inner]))
			}
			s := 0.0
			for j := 0; j < dim; j++ {
				p := base + j*inner
				e := math.Exp(float64(x[p]) - m)
				s += e
				if !logOut {
					out[p] = T(e)
				}
			}
			if logOut {
				ls := m + math.Log(s)
				for j := 0; j < dim; j++ {
					p := base + j*inner
					out[p] = T(float64(x[p]) - ls)
				}
			} else {
				inv := 1 / s
				for j := 0; j < dim; j++ {
					p := base + j*inner
					out[p] = T(float64(out[p]) * inv)
				}
			}
		}
	})
}

// layerNormKernel implements LayerNormalization (opset 17): normalize over
// dims [axis, rank), then scale and shift. Statistics are accumulated in
// float64 whatever stash_type says (more precise, never less). Outputs Mean
// and InvStdDev have shape X.shape[:axis] + [1]*(rank-axis).
func layerNormKernel(ctx *Ctx, n *ir.Node, ins []*ir.Tensor) ([]*ir.Tensor, error) {
	if err := checkedInputs(n, ins, 2); err != nil {
		return nil, err
	}
	x, scale, bias := ins[0], ins[1], in(ins, 2)
	if st := storage(x.DType); st != ir.Float32 && st != ir.Float64 {
		return nil, errf(n, "unsupported dtype %v (want float)", x.DType)
	}
	p, err := normLayout(n, x)
	if err != nil {
		return nil, err
	}
	eps := float64(n.Attrs.Float("epsilon", 1e-5))
	norm, outer, d := p.Norm, p.Outer, p.D
	// Scale and bias broadcast unidirectionally to the normalized dims.
	param := func(t *ir.Tensor, what string) (*ir.Tensor, error) {
		if t == nil {
			return nil, nil
		}
		if t.DType != x.DType {
			return nil, errf(n, "%s dtype %v differs from input %v", what, t.DType, x.DType)
		}
		if t.Len() == d && len(t.Shape) <= len(norm) {
			return t, nil
		}
		shape, err := broadcastShape(n, norm, t.Shape)
		if err != nil || len(shape) != len(norm) || ir.NumElements(shape) != d {
			return nil, errf(n, "%s shape %v does not broadcast to %v", what, t.Shape, norm)
		}
		switch storage(t.DType) {
		case ir.Float32:
			return ir.FromFloat32(norm, broadcastTo(ctx, t.F32, t.Shape, norm)), nil
		default:
			return &ir.Tensor{DType: t.DType, Shape: norm, F64: broadcastTo(ctx, t.F64, t.Shape, norm)}, nil
		}
	}
	if scale, err = param(scale, "scale"); err != nil {
		return nil, err
	}
	if bias, err = param(bias, "bias"); err != nil {
		return nil, err
	}
	statShape := shapes.StatShape(x.Shape, p.Axis)
	// layerNorm writes every row of y and every statistic.
	y := ctx.newUninitTensor(x.DType, x.Shape)
	mean := ctx.newUninitTensor(x.DType, statShape)
	inv := ctx.newUninitTensor(x.DType, statShape)
	switch storage(x.DType) {
	case ir.Float32:
		var b []float32
		if bias != nil {
			b = bias.F32
		}
		switch {
		case useAVX512 && d > 0:
			layerNormSIMD(ctx, x.F32, scale.F32, b, y.F32, mean.F32, inv.F32, outer, d, eps, layerNormRowAVX512)
		case useAVX2 && d > 0:
			layerNormSIMD(ctx, x.F32, scale.F32, b, y.F32, mean.F32, inv.F32, outer, d, eps, layerNormRowAVX2)
		default:
			layerNorm(ctx, x.F32, scale.F32, b, y.F32, mean.F32, inv.F32, outer, d, eps)
		}
	case ir.Float64:
		var b []float64
		if bias != nil {
			b = bias.F64
		}
		layerNorm(ctx, x.F64, scale.F64, b, y.F64, mean.F64, inv.F64, outer, d, eps)
	default:
		return nil, errf(n, "unsupported dtype %v (want float)", x.DType)
	}
	return trimOutputs(n, []*ir.Tensor{y, mean, inv}), nil
}

// rowSum is Σ x in float64, in four interleaved partial sums so the
// adds do not wait on each other (one accumulator is bound by the add
// latency). The order depends only on len(x), never on threads.
func rowSum[T float](x []T) float64 {
	var s0, s1, s2, s3 float64
	j := 0
	for ; j+4 <= len(x); j += 4 {
		s0 += float64(x[j])
		s1 += float64(x[j+1])
		s2 += float64(x[j+2])
		s3 += float64(x[j+3])
	}
	for ; j < len(x); j++ {
		s0 += float64(x[j])
	}
	return (s0 + s1) + (s2 + s3)
}

// rowSumSqDev is Σ (x − mu)² in float64, four partial sums as rowSum.
func rowSumSqDev[T float](x []T, mu float64) float64 {
	var s0, s1, s2, s3 float64
	j := 0
	for ; j+4 <= len(x); j += 4 {
		d0, d1, d2, d3 := float64(x[j])-mu, float64(x[j+1])-mu, float64(x[j+2])-mu, float64(x[j+3])-mu
		s0 += d0 * d0
		s1 += d1 * d1
		s2 += d2 * d2
		s3 += d3 * d3
	}
	for ; j < len(x); j++ {
		d := float64(x[j]) - mu
		s0 += d * d
	}
	return (s0 + s1) + (s2 + s3)
}

func layerNorm[T float](ctx *Ctx, x, scale, bias, y, mean, inv []T, outer, d int, eps float64) {
	parallelFor(ctx, outer, outer*d, func(lo, hi int) {
		for o := lo; o < hi; o++ {
			row, out := x[o*d:(o+1)*d], y[o*d:(o+1)*d]
			mu := rowSum(row) / float64(d)
			is := 1 / math.Sqrt(rowSumSqDev(row, mu)/float64(d)+eps)
			mean[o], inv[o] = T(mu), T(is)
			sc := scale[:d]
			if bias == nil {
				for j, v := range row {
					out[j] = T((float64(v) - mu) * is * float64(sc[j]))
				}
				continue
			}
			b := bias[:d]
			for j, v := range row {
				out[j] = T((float64(v)-mu)*is*float64(sc[j]) + float64(b[j]))
			}
		}
	})
}

// layerNormSIMD is layerNorm for float32 rows with a row kernel of the
// assembly (layerNormRowAVX512 or layerNormRowAVX2): the same float64
// arithmetic, the sums in 8 or 4 lanes instead of 4 interleaved ones (a
// row's mean and variance may differ in the last float64 bits, its
// outputs by a float32 ulp; fastkernels_test.go holds the bound).
func layerNormSIMD(ctx *Ctx, x, scale, bias, y, mean, inv []float32, outer, d int, eps float64,
	rowKernel func(out, row, sc, b []float32, eps float64) (mu, is float64)) {
	sc := scale[:d]
	if bias != nil {
		bias = bias[:d]
	}
	parallelFor(ctx, outer, outer*d, func(lo, hi int) {
		for o := lo; o < hi; o++ {
			mu, is := rowKernel(y[o*d:(o+1)*d], x[o*d:(o+1)*d], sc, bias, eps)
			mean[o], inv[o] = float32(mu), float32(is)
		}
	})
}

// layerNormRowAVX512 normalizes one float32 row of d ≥ 1 with the
// AVX-512 kernels (masked tails: any d).
func layerNormRowAVX512(out, row, sc, b []float32, eps float64) (mu, is float64) {
	d := len(row)
	mu = rowSumAVX512(&row[0], d) / float64(d)
	is = 1 / math.Sqrt(rowSumSqDevAVX512(&row[0], d, mu)/float64(d)+eps)
	var bp *float32
	if b != nil {
		bp = &b[0]
	}
	normRowOutAVX512(&out[0], &row[0], &sc[0], bp, d, mu, is)
	return mu, is
}

// dropoutKernel: inputs data, ratio (default 0.5), training_mode (default
// false); outputs output and mask. It is active only when training_mode is
// true and ctx.ForceEval is false; then element i is kept when
// rng.Uniform(ctx.Seed, ctx.Step, rng.StreamOf(node name), i) >= ratio and
// scaled by 1/(1-ratio). The node's own seed attribute is ignored so masks
// follow ctx.Seed.
func dropoutKernel(ctx *Ctx, n *ir.Node, ins []*ir.Tensor) ([]*ir.Tensor, error) {
	if err := checkedInputs(n, ins, 1); err != nil {
		return nil, err
	}
	x := ins[0]
	ratio, training, err := dropoutMode(ctx, n, ins, 1, 2)
	if err != nil {
		return nil, err
	}
	mask := ctx.newTensor(ir.Bool, x.Shape)
	if !training || ratio == 0 {
		for i := range mask.Bool {
			mask.Bool[i] = true
		}
		return trimOutputs(n, []*ir.Tensor{ctx.clone(x), mask}), nil
	}
	seed, step := ctx.randomness()
	stream := rng.StreamOf(n.Name)
	r32 := float32(ratio)
	scale := dropoutScale(ratio)
	out := ctx.newUninitTensor(x.DType, x.Shape) // applyDropout writes every element, dropped ones as 0
	// Mask and output in one parallel pass, with the same rounding of the
	// scale as before (float32(scale) for float32 data).
	switch storage(x.DType) {
	case ir.Float32:
		applyDropout(ctx, x.F32, out.F32, mask.Bool, float32(scale), seed, step, stream, r32)
	case ir.Float64:
		applyDropout(ctx, x.F64, out.F64, mask.Bool, scale, seed, step, stream, r32)
	default:
		return nil, errf(n, "unsupported dtype %v (want float)", x.DType)
	}
	return trimOutputs(n, []*ir.Tensor{out, mask}), nil
}

// sceLossKernel implements SoftmaxCrossEntropyLoss: scores [N, C, d...],
// labels [N, d...], optional weights [C]; reduction none, sum or mean
// (default); ignore_index labels contribute nothing. Mean divides by the
// summed weights of the counted labels (their number without weights), and
// yields 0 rather than NaN when every label is ignored. The optional second
// output is log_softmax(scores) over axis 1.
func sceLossKernel(ctx *Ctx, n *ir.Node, ins []*ir.Tensor) ([]*ir.Tensor, error) {
	if err := checkedInputs(n, ins, 2); err != nil {
		return nil, err
	}
	scores, labels, weights := ins[0], ins[1], in(ins, 2)
	a, err := parseSCE(n, scores, labels, weights, "scores")
	if err != nil {
		return nil, err
	}
	N, C, D, lab := a.N, a.C, a.D, a.labels
	reduction := a.reduction
	// log_prob in the scores' dtype, via the LogSoftmax code path.
	logp := ctx.newTensor(scores.DType, scores.Shape)
	var lp []float64
	switch storage(scores.DType) {
	case ir.Float32:
		softmax(ctx, scores.F32, logp.F32, N, C, D, true)
		lp = toFloat64(logp).F64
	case ir.Float64:
		softmax(ctx, scores.F64, logp.F64, N, C, D, true)
		lp = logp.F64
	default:
		return nil, errf(n, "unsupported dtype %v (want float)", scores.DType)
	}
	perSample := make([]float64, N*D)
	sum, wsum := 0.0, 0.0
	for i := 0; i < N; i++ {
		for j := 0; j < D; j++ {
			l := lab[i*D+j]
			wt, ok, err := a.weight(n, l)
			if err != nil {
				return nil, err
			} else if !ok {
				continue
			}
			v := -lp[(i*C+int(l))*D+j] * wt
			perSample[i*D+j] = v
			sum += v
			wsum += wt
		}
	}
	var loss *ir.Tensor
	switch reduction {
	case "none":
		loss = ctx.convert(&ir.Tensor{DType: ir.Float64, Shape: append([]int{}, labels.Shape...), F64: perSample}, scores.DType)
	case "sum":
		loss = ctx.convert(&ir.Tensor{DType: ir.Float64, Shape: []int{}, F64: []float64{sum}}, scores.DType)
	default:
		m := 0.0
		if wsum != 0 {
			m = sum / wsum
		}
		loss = ctx.convert(&ir.Tensor{DType: ir.Float64, Shape: []int{}, F64: []float64{m}}, scores.DType)
	}
	return trimOutputs(n, []*ir.Tensor{loss, logp}), nil
}

// dropoutMode reads a Dropout-family node's ratio (input ri, else the old
// opsets' attribute, default 0.5) and training_mode (input ti, default
// false; ctx.ForceEval turns it off), shared by Dropout and its gradients so
// that all of them agree on when a mask applies.
func dropoutMode(ctx *Ctx, n *ir.Node, ins []*ir.Tensor, ri, ti int) (ratio float64, training bool, err error) {
	ratio = float64(n.Attrs.Float("ratio", 0.5))
	if t := in(ins, ri); t != nil {
		if t.Len() != 1 || !t.DType.IsFloat() {
			return 0, false, errf(n, "ratio must be a float scalar")
		}
		ratio = t.Float64At(0)
	}
	if ratio < 0 || ratio > 1 {
		return 0, false, errf(n, "ratio %v outside [0, 1]", ratio)
	}
	if t := in(ins, ti); t != nil {
		if t.Len() != 1 || t.DType != ir.Bool {
			return 0, false, errf(n, "training_mode must be a bool scalar")
		}
		training = t.Bool[0]
	}
	if ctx != nil && ctx.ForceEval {
		training = false
	}
	return ratio, training, nil
}

// randomness returns the seed and step of ctx's random draws (0, 0 for a
// nil ctx).
func (ctx *Ctx) randomness() (seed, step uint64) {
	if ctx == nil {
		return 0, 0
	}
	return ctx.Seed, ctx.Step
}

// dropoutScale is 1/(1−ratio), the factor of a kept element, or 0 when
// ratio is 1 (every element dropped).
func dropoutScale(ratio float64) float64 {
	if ratio < 1 {
		return 1 / (1 - ratio)
	}
	return 0
}

// dropoutGradMode is dropoutMode for an adjoint of Dropout with gradient
// dy, which must be float: active is false in the identity case (not
// training, or ratio 0), where dX is a copy of dY.
func dropoutGradMode(ctx *Ctx, n *ir.Node, ins []*ir.Tensor, dy *ir.Tensor, ri, ti int) (ratio float64, active bool, err error) {
	ratio, training, err := dropoutMode(ctx, n, ins, ri, ti)
	if err != nil {
		return 0, false, err
	}
	if st := storage(dy.DType); st != ir.Float32 && st != ir.Float64 {
		return 0, false, errf(n, "unsupported dtype %v (want float)", dy.DType)
	}
	return ratio, training && ratio != 0, nil
}

// sceArgs are SoftmaxCrossEntropyLoss's checked inputs and attributes,
// shared by the loss and its gradient so both read them the same way.
type sceArgs struct {
	N, C, D   int // batch, classes, and the product of the extra dims
	labels    []int64
	weights   []float64 // nil: no class weights
	hasIgnore bool
	ignore    int64
	reduction string
}

// weight returns the weight of label l (1 without class weights); ok is
// false for the ignored label, and a label outside [0, C) is an error.
func (a *sceArgs) weight(n *ir.Node, l int64) (wt float64, ok bool, err error) {
	if a.hasIgnore && l == a.ignore {
		return 0, false, nil
	}
	if l < 0 || l >= int64(a.C) {
		return 0, false, errf(n, "label %d out of range [0, %d)", l, a.C)
	}
	if a.weights == nil {
		return 1, true, nil
	}
	return a.weights[l], true, nil
}

// parseSCE checks scores (or log_prob, named what) [N, C, d1…], labels
// [N, d1…] and optional class weights [C].
func parseSCE(n *ir.Node, scores, labels, weights *ir.Tensor, what string) (sceArgs, error) {
	var a sceArgs
	if len(scores.Shape) < 2 {
		return a, errf(n, "%s must be [N, C, ...], got %v", what, scores.Shape)
	}
	a.N, a.C = scores.Shape[0], scores.Shape[1]
	a.D = ir.NumElements(scores.Shape[2:])
	wantLabels := append([]int{a.N}, scores.Shape[2:]...)
	if !slices.Equal(labels.Shape, wantLabels) {
		return a, errf(n, "labels shape %v, want %v", labels.Shape, wantLabels)
	}
	var err error
	if a.labels, err = intsInput(n, labels, "labels"); err != nil {
		return a, err
	}
	if weights != nil {
		if weights.Len() != a.C || weights.DType != scores.DType {
			return a, errf(n, "weights must be %v [%d], got %v %v", scores.DType, a.C, weights.DType, weights.Shape)
		}
		a.weights = toFloat64(weights).F64
	}
	a.hasIgnore = n.Attrs.Has("ignore_index")
	a.ignore = n.Attrs.Int("ignore_index", 0)
	a.reduction = n.Attrs.String("reduction", "mean")
	if a.reduction != "none" && a.reduction != "sum" && a.reduction != "mean" {
		return a, errf(n, "unknown reduction %q", a.reduction)
	}
	return a, nil
}
