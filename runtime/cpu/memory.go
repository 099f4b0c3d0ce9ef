package cpu

import (
	"math"
	"math/bits"
	"slices"

	"crsc/compiler/ir"
	"crsc/runtime/rng"
	"crsc/runtime/shapes"
)

// memoryKernels holds the ops of the memory-saving rewrites (domain
// ai.crsc): bit-packed masks, regenerated Dropout masks, norms that
// differentiate from their output. Each one lets the training graph keep
// less between forward and backward than the plain gradient ops need
// (WTACRS.md §5):
//
//	BitMask(X) → bits                         1 bit per ReLU element, not a float
//	ReluGrad(dY, bits) → dX                   ReLU backward from those bits
//	DropoutMaskGrad(dY, ratio?, training_mode?; forward_node) → dX
//	                                          Dropout backward, mask redrawn
//	LayerNormalizationGradFromOutput(dY, Y, scale, bias?, inv_std_dev; axis)
//	                                  → (dX, dScale, dBias)
//	RMSNormalization(X, scale; epsilon, axis) → (Y, inv_rms)
//	RMSNormalizationGradFromOutput(dY, Y, scale, inv_rms; axis) → (dX, dScale)
//
// The norm gradients read the forward's OUTPUT, which the next layer keeps
// anyway (it is that layer's input), instead of the forward's input, which
// would otherwise be a second activation kept per norm.
var memoryKernels = map[string]Kernel{
	"BitMask":                          bitMaskKernel,
	"ReluGrad":                         reluGradKernel,
	"DropoutMaskGrad":                  dropoutMaskGradKernel,
	"LayerNormalizationGradFromOutput": layerNormGradFromOutputKernel,
	"RMSNormalization":                 rmsNormKernel,
	"RMSNormalizationGradFromOutput":   rmsNormGradFromOutputKernel,
}

// maskWords is the number of int32 words that hold n mask bits.
func maskWords(n int) int { return (n + 31) / 32 }

// bitMaskKernel: BitMask(X) → an Int32 tensor of shape [ceil(numel(X)/32)]
// whose element i has bit j (j = 0 the least significant) set when
// X[32i+j] > 0 (flat row-major index; for a Bool X, when it is true).
// Unused high bits of the last word are 0. Int32 because ir.Tensor widens Bool to a byte and Uint8 to int32:
// packing 32 bits per int32 is the only 1-bit-per-element layout it has.
// ReLU's backward needs only sign(Y), so this replaces a float Y (32×
// smaller). NaN is not > 0, so its bit is clear, as Where(Y > 0, …) does.
func bitMaskKernel(ctx *Ctx, n *ir.Node, ins []*ir.Tensor) ([]*ir.Tensor, error) {
	if err := checkedInputs(n, ins, 1); err != nil {
		return nil, err
	}
	x := ins[0]
	out := ctx.newTensor(ir.Int32, []int{maskWords(x.Len())})
	switch storage(x.DType) {
	case ir.Float32:
		packPositive(ctx, x.F32, out.I32)
	case ir.Float64:
		packPositive(ctx, x.F64, out.I32)
	case ir.Int64:
		packPositive(ctx, x.I64, out.I32)
	case ir.Int32:
		packPositive(ctx, x.I32, out.I32)
	case ir.Bool:
		// A bool mask (Dropout's, say) packs true as a set bit.
		b := x.Bool
		parallelFor(ctx, len(out.I32), len(b), func(lo, hi int) {
			for w := lo; w < hi; w++ {
				var set uint32
				for j, v := range b[w*32 : min(w*32+32, len(b))] {
					if v {
						set |= 1 << uint(j)
					}
				}
				out.I32[w] = int32(set)
			}
		})
	default:
		return nil, errf(n, "unsupported dtype %v (want a numeric type)", x.DType)
	}
	return []*ir.Tensor{out}, nil
}

// packPositive sets bit j of words[i] when x[32i+j] > 0. Each goroutine owns
// whole words, so no two write the same one.
func packPositive[T num](ctx *Ctx, x []T, words []int32) {
	parallelFor(ctx, len(words), len(x), func(lo, hi int) {
		for w := lo; w < hi; w++ {
			base := w * 32
			end := min(base+32, len(x))
			var set uint32
			for j, v := range x[base:end] {
				if v > 0 {
					set |= 1 << uint(j)
				}
			}
			words[w] = int32(set)
		}
	})
}

// checkMaskBits verifies that bits is the BitMask of a tensor of count
// elements: Int32 of shape [ceil(count/32)].
func checkMaskBits(n *ir.Node, bits *ir.Tensor, count int) error {
	if bits.DType != ir.Int32 || len(bits.Shape) != 1 || bits.Shape[0] != maskWords(count) {
		return errf(n, "bits must be int32 [%d] (BitMask of %d elements), got %v %v",
			maskWords(count), count, bits.DType, bits.Shape)
	}
	return nil
}

// reluGradKernel: ReluGrad(dY, bits) → dX of dY's shape and dtype, dX[i] =
// dY[i] where bit i of bits is set, else +0. This is exactly the autodiff's
// Where(Y > 0, dY, 0) when bits = BitMask(Y) (or BitMask(X): for ReLU,
// Y > 0 exactly when X > 0), including dY's -0 and NaN where kept.
func reluGradKernel(ctx *Ctx, n *ir.Node, ins []*ir.Tensor) ([]*ir.Tensor, error) {
	if err := checkedInputs(n, ins, 2); err != nil {
		return nil, err
	}
	dy, mask := ins[0], ins[1]
	if err := checkMaskBits(n, mask, dy.Len()); err != nil {
		return nil, err
	}
	out := ctx.newTensor(dy.DType, dy.Shape)
	switch storage(dy.DType) {
	case ir.Float32:
		applyBits(ctx, dy.F32, mask.I32, out.F32)
	case ir.Float64:
		applyBits(ctx, dy.F64, mask.I32, out.F64)
	default:
		return nil, errf(n, "unsupported dtype %v (want float)", dy.DType)
	}
	return []*ir.Tensor{out}, nil
}

// applyBits copies x[i] into out[i] (zeroed already) where bit i of words
// is set; a plain copy, so kept values pass through bit-exact (-0, NaN).
// Work is split by words, so each goroutine reads whole words.
func applyBits[T float](ctx *Ctx, x []T, words []int32, out []T) {
	parallelFor(ctx, len(words), len(x), func(lo, hi int) {
		for w := lo; w < hi; w++ {
			set := uint32(words[w])
			base := w * 32
			for set != 0 {
				i := base + bits.TrailingZeros32(set)
				set &= set - 1
				if i >= len(x) {
					break // stray high bits of the last word: ignore
				}
				out[i] = x[i]
			}
		}
	})
}

// dropoutMaskGradKernel: DropoutMaskGrad(dY, ratio?, training_mode?) with
// string attribute forward_node (the Dropout node's name) is DropoutGrad
// without its mask input: the mask is redrawn from (ctx.Seed, ctx.Step,
// rng.StreamOf(forward_node), flat index i), kept when
// rng.Uniform(...) >= float32(ratio), the very expression dropoutKernel
// uses, so dX is bit-identical to DropoutGrad(dY, mask, …) given the mask
// the forward produced at the same Seed and Step. This only holds when the
// backward runs at the Step of its forward (the training loop must not
// advance Step in between). ratio and training_mode are the forward node's
// own inputs; the ratio attribute (old opsets) is the fallback, default
// 0.5. Identity (a copy of dY) when training_mode is absent or false,
// ctx.ForceEval is set, or ratio is 0.
func dropoutMaskGradKernel(ctx *Ctx, n *ir.Node, ins []*ir.Tensor) ([]*ir.Tensor, error) {
	if err := checkedInputs(n, ins, 1); err != nil {
		return nil, err
	}
	dy := ins[0]
	// Required even in the identity case: a node without it is malformed
	// whatever mode this particular run is in.
	fwdName := n.Attrs.String("forward_node", "")
	if fwdName == "" {
		return nil, errf(n, "missing string attribute forward_node (the Dropout node's name)")
	}
	ratio, active, err := dropoutGradMode(ctx, n, ins, dy, 1, 2)
	if err != nil {
		return nil, err
	}
	if !active {
		return []*ir.Tensor{ctx.clone(dy)}, nil
	}
	seed, step := ctx.randomness()
	stream := rng.StreamOf(fwdName)
	r32 := float32(ratio)
	// Same scale and rounding as dropoutKernel / dropoutGradKernel.
	scale := dropoutScale(ratio)
	out := ctx.newUninitTensor(dy.DType, dy.Shape) // applyDropout writes every element, dropped ones as 0
	switch storage(dy.DType) {
	case ir.Float32:
		redrawDropout(ctx, dy.F32, out.F32, float32(scale), seed, step, stream, r32)
	default:
		redrawDropout(ctx, dy.F64, out.F64, scale, seed, step, stream, r32)
	}
	return []*ir.Tensor{out}, nil
}

// redrawDropout writes out[i] = x[i]*s where the forward kept element i.
func redrawDropout[T float](ctx *Ctx, x, out []T, s T, seed, step, stream uint64, r32 float32) {
	applyDropout(ctx, x, out, nil, s, seed, step, stream, r32)
}

// normParams describes the normalized block of a norm node: X (or Y)
// flattened to Outer rows of D elements at Axis.
type normParams = shapes.Norm

// normLayout reads the axis attribute (default -1) against x's rank.
func normLayout(n *ir.Node, x *ir.Tensor) (normParams, error) {
	p, err := shapes.NormLayout(x.Shape, n.Attrs.Int("axis", -1))
	return p, nodeErr(n, err)
}

// normParam returns a scale or bias input as float64 over the normalized
// dims, broadcast there unidirectionally as LayerNormalization allows;
// broadcast reports that it was expanded (its gradient must be summed
// back). A nil t gives nil.
func normParam(ctx *Ctx, n *ir.Node, t *ir.Tensor, dt ir.DType, p normParams, what string) (v []float64, broadcast bool, err error) {
	if t == nil {
		return nil, false, nil
	}
	if t.DType != dt {
		return nil, false, errf(n, "%s dtype %v differs from input %v", what, t.DType, dt)
	}
	v = toFloat64(t).F64
	if t.Len() == p.D && len(t.Shape) <= len(p.Norm) {
		return v, false, nil
	}
	shape, err := broadcastShape(n, p.Norm, t.Shape)
	if err != nil || len(shape) != len(p.Norm) || ir.NumElements(shape) != p.D {
		return nil, false, errf(n, "%s shape %v does not broadcast to %v", what, t.Shape, p.Norm)
	}
	return broadcastTo(ctx, v, t.Shape, p.Norm), true, nil
}

// normParamGrad turns column sums over the normalized dims into the
// gradient of a parameter of shape to (summing out what the forward
// broadcast), in dtype dt. A nil sum gives nil (output not wanted).
func normParamGrad(ctx *Ctx, n *ir.Node, sum []float64, p normParams, broadcast bool, to []int, dt ir.DType) (*ir.Tensor, error) {
	if sum == nil {
		return nil, nil
	}
	t := &ir.Tensor{DType: ir.Float64, Shape: append([]int{}, p.Norm...), F64: sum}
	if broadcast {
		var err error
		if t, err = gradSumTo(ctx, n, t, to); err != nil {
			return nil, err
		}
	}
	t = ctx.convert(t, dt)
	t.Shape = append([]int{}, to...)
	return t, nil
}

// checkFloat rejects non-float tensors.
func checkFloat(n *ir.Node, t *ir.Tensor) error {
	if st := storage(t.DType); st != ir.Float32 && st != ir.Float64 {
		return errf(n, "unsupported dtype %v (want float)", t.DType)
	}
	return nil
}

// rowStat reads a per-row statistic (inv_std_dev, inv_rms) as float64; it
// must have outer elements (shape X.shape[:axis] + ones, as the forward
// writes it).
func rowStat(n *ir.Node, t *ir.Tensor, p normParams, what string) ([]float64, error) {
	if !t.DType.IsFloat() || t.Len() != p.Outer {
		return nil, errf(n, "%s must be float with %d elements (X.shape[:%d] + ones), got %v %v",
			what, p.Outer, p.Axis, t.DType, t.Shape)
	}
	return toFloat64(t).F64, nil
}

// layerNormGradFromOutputKernel: LayerNormalizationGradFromOutput(dY, Y,
// scale, bias?, inv_std_dev; axis=-1) → (dX, dScale, dBias), the adjoint of
// LayerNormalization given its OUTPUT Y (and InvStdDev) instead of its
// input X and Mean. It inverts the affine part, xhat = (Y - bias)/scale
// (bias absent = 0), and then applies layerNormGradKernel's formulas:
//
//	g = dY*scale, dX = inv * (g - mean(g) - xhat*mean(g*xhat))
//	dScale = Σ_rows dY*xhat, dBias = Σ_rows dY
//
// dScale takes scale's shape; dBias takes bias's shape (scale's when bias
// is absent), each summed back where the forward broadcast it. Known
// limitation: where scale is exactly 0, xhat cannot be recovered from Y
// and is taken as 0. Every other element's dX stays exact (that column's
// g = dY*0 = 0, so it enters mean(g) and mean(g*xhat) with weight 0), but
// the zero-scale column's own dX lacks its -inv*xhat*mean(g*xhat) term
// and its dScale is 0 instead of Σ dY*xhat. Trained LayerNorm scales are
// never exactly 0 in practice; a pass that cannot rule it out (a scale
// that is a constant with zeros) must keep X and use
// LayerNormalizationGrad. xhat carries Y's rounding error (≈1e-7
// relative in float32), well inside training noise. Sums run in float64; nil n.Outputs entries are not computed.
func layerNormGradFromOutputKernel(ctx *Ctx, n *ir.Node, ins []*ir.Tensor) ([]*ir.Tensor, error) {
	if err := required(n, ins, 3); err != nil {
		return nil, err
	}
	if in(ins, 4) == nil {
		return nil, errf(n, "missing required input 4 (inv_std_dev)")
	}
	if err := checkInputs(n, ins); err != nil {
		return nil, err
	}
	dy, y, scale, bias, invT := ins[0], ins[1], ins[2], in(ins, 3), ins[4]
	return normGradFromOutput(ctx, n, dy, y, scale, bias, invT, true)
}

// rmsNormGradFromOutputKernel: RMSNormalizationGradFromOutput(dY, Y, scale,
// inv_rms; axis=-1) → (dX, dScale), the adjoint of RMSNormalization given
// its output Y and inv_rms. With xhat = Y/scale (= x*inv_rms) and
// g = dY*scale, per row of D elements:
//
//	dX = inv_rms * (g - xhat*mean(g*xhat)), dScale = Σ_rows dY*xhat
//
// dScale takes scale's shape. Same scale == 0 limitation as
// LayerNormalizationGradFromOutput (xhat taken as 0 there: the other
// elements' dX exact, that column's own dX and dScale wrong).
func rmsNormGradFromOutputKernel(ctx *Ctx, n *ir.Node, ins []*ir.Tensor) ([]*ir.Tensor, error) {
	if err := checkedInputs(n, ins, 4); err != nil {
		return nil, err
	}
	return normGradFromOutput(ctx, n, ins[0], ins[1], ins[2], nil, ins[3], false)
}

// normGradFromOutput is the shared body of the two FromOutput gradients;
// centered selects LayerNorm (subtract mean(g), emit dBias) over RMSNorm.
func normGradFromOutput(ctx *Ctx, n *ir.Node, dy, y, scale, bias, invT *ir.Tensor, centered bool) ([]*ir.Tensor, error) {
	if err := checkFloat(n, y); err != nil {
		return nil, err
	}
	if dy.DType != y.DType || !slices.Equal(dy.Shape, y.Shape) {
		return nil, errf(n, "dY %v %v must match Y %v %v", dy.DType, dy.Shape, y.DType, y.Shape)
	}
	p, err := normLayout(n, y)
	if err != nil {
		return nil, err
	}
	sc, scB, err := normParam(ctx, n, scale, y.DType, p, "scale")
	if err != nil {
		return nil, err
	}
	bs, bsB, err := normParam(ctx, n, bias, y.DType, p, "bias")
	if err != nil {
		return nil, err
	}
	what := "inv_std_dev"
	if !centered {
		what = "inv_rms"
	}
	inv, err := rowStat(n, invT, p, what)
	if err != nil {
		return nil, err
	}
	var dx *ir.Tensor
	if gradWantOutput(n, 0) {
		dx = ctx.newUninitTensor(y.DType, y.Shape) // normGradBlocks writes every row
	}
	var ds, db []float64
	if gradWantOutput(n, 1) {
		ds = make([]float64, p.D)
	}
	if centered && gradWantOutput(n, 2) {
		db = make([]float64, p.D)
	}
	k := normGradArgs{sc: sc, bias: bs, inv: inv, ds: ds, db: db, outer: p.Outer, d: p.D, centered: centered}
	switch storage(y.DType) {
	case ir.Float32:
		var o []float32
		if dx != nil {
			o = dx.F32
		}
		normGradRows(ctx, dy.F32, y.F32, o, k)
	default:
		var o []float64
		if dx != nil {
			o = dx.F64
		}
		normGradRows(ctx, dy.F64, y.F64, o, k)
	}
	dScale, err := normParamGrad(ctx, n, ds, p, scB, scale.Shape, y.DType)
	if err != nil {
		return nil, err
	}
	if !centered {
		return trimOutputs(n, []*ir.Tensor{dx, dScale}), nil
	}
	biasShape, biasB := scale.Shape, scB
	if bias != nil {
		biasShape, biasB = bias.Shape, bsB
	}
	dBias, err := normParamGrad(ctx, n, db, p, biasB, biasShape, y.DType)
	if err != nil {
		return nil, err
	}
	return trimOutputs(n, []*ir.Tensor{dx, dScale, dBias}), nil
}

// normGradArgs are normGradRows' float64 operands: sc and bias over the
// normalized dims (bias may be nil), inv per row, ds and db the column
// sums to fill (nil: not wanted).
type normGradArgs struct {
	sc, bias, inv, ds, db []float64
	outer, d              int
	centered              bool
	// y32 and rs, when set, are the float32 output rows and the
	// reciprocal scales, from which the SIMD pass computes x̂ =
	// (y − bias)·rs itself (bias then non-nil, zeros if absent).
	y32 []float32
	rs  []float64
}

// normGradRows fills dx (when non-nil) and the column sums from the output
// rows: x̂ = (y − bias)/scale (see normGradBlocks).
func normGradRows[T float](ctx *Ctx, dy, y, dx []T, k normGradArgs) {
	// Reciprocal scales once: xhat = (y - b) * rs, with rs = 0 where the
	// scale is 0 (xhat unrecoverable; see the kernel comment).
	rs := make([]float64, k.d)
	for j, s := range k.sc {
		if s != 0 {
			rs[j] = 1 / s
		}
	}
	if y32, ok := any(y).([]float32); ok && simdNormRows() != nil && k.d > 0 {
		k.y32, k.rs = y32, rs
		if k.bias == nil {
			k.bias = make([]float64, k.d)
		}
	}
	// rs saves a division per element; it differs from dividing by an ulp
	// of float64 at most, far below Y's own float32 rounding.
	normGradBlocks(ctx, dy, dx, k, func(o int, xh []float64) {
		row := y[o*k.d : (o+1)*k.d]
		xh, rs := xh[:len(row)], rs[:len(row)]
		if k.bias == nil {
			for j, v := range row {
				xh[j] = float64(v) * rs[j]
			}
			return
		}
		bias := k.bias[:len(row)]
		for j, v := range row {
			xh[j] = (float64(v) - bias[j]) * rs[j]
		}
	})
}

// rmsNormKernel: RMSNormalization(X, scale; epsilon=1e-5, axis=-1) →
// (Y, inv_rms), T5's LayerNorm (no mean subtraction, no bias): per row of
// dims [axis, rank),
//
//	inv_rms = 1/sqrt(mean(x²) + epsilon), Y = x * inv_rms * scale
//
// inv_rms has X's dtype and shape X.shape[:axis] + [1]*(rank-axis); scale
// broadcasts unidirectionally to the normalized dims. The default epsilon
// is ONNX RMSNormalization's; the fusion of T5's decomposed pattern sets
// it from the graph (T5 uses 1e-6). Accumulation is in float64 per row,
// rows in parallel. inv_rms is what RMSNormalizationGradFromOutput needs
// besides Y, so a training graph keeps one float per row, not X.
func rmsNormKernel(ctx *Ctx, n *ir.Node, ins []*ir.Tensor) ([]*ir.Tensor, error) {
	if err := checkedInputs(n, ins, 2); err != nil {
		return nil, err
	}
	x, scale := ins[0], ins[1]
	if err := checkFloat(n, x); err != nil {
		return nil, err
	}
	p, err := normLayout(n, x)
	if err != nil {
		return nil, err
	}
	eps := float64(n.Attrs.Float("epsilon", 1e-5))
	if eps < 0 || math.IsNaN(eps) {
		return nil, errf(n, "epsilon %v must be >= 0", eps)
	}
	sc, _, err := normParam(ctx, n, scale, x.DType, p, "scale")
	if err != nil {
		return nil, err
	}
	y := ctx.newTensor(x.DType, x.Shape)
	inv := ctx.newTensor(x.DType, shapes.StatShape(x.Shape, p.Axis))
	switch storage(x.DType) {
	case ir.Float32:
		rmsNorm(ctx, x.F32, sc, y.F32, inv.F32, p.Outer, p.D, eps)
	default:
		rmsNorm(ctx, x.F64, sc, y.F64, inv.F64, p.Outer, p.D, eps)
	}
	return trimOutputs(n, []*ir.Tensor{y, inv}), nil
}

func rmsNorm[T float](ctx *Ctx, x []T, sc []float64, y, inv []T, outer, d int, eps float64) {
	parallelFor(ctx, outer, outer*d, func(lo, hi int) {
		for o := lo; o < hi; o++ {
			row, out := x[o*d:(o+1)*d], y[o*d:(o+1)*d]
			is := 1 / math.Sqrt(rowSumSqDev(row, 0)/float64(d)+eps)
			inv[o] = T(is)
			sc := sc[:d]
			for j, v := range row {
				out[j] = T(float64(v) * is * sc[j])
			}
		}
	})
}
