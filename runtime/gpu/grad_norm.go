package gpu

import (
	"slices"

	"crsc/compiler/ir"
	"crsc/runtime/cuda"
)

// The normalization gradients: ai.crsc.LayerNormalizationGrad (from X and
// Mean) and the memory rewrites' LayerNormalizationGradFromOutput and
// RMSNormalizationGradFromOutput (from Y). All three run the same kernels
// of nn.cu: one block per row for dX, and column sums for dScale/dBias
// over the CPU's fixed row blocks (lnGradBlocks = 64) added in block order,
// so the parameter gradients repeat the CPU's float64 sums.

// nnLNGradBlocks is runtime/cpu's lnGradBlocks.
const nnLNGradBlocks = 64

// nnNormGradArgs are the device operands of one norm gradient.
type nnNormGradArgs struct {
	dy, xy, scale, bias, stat, inv *ir.Tensor // bias, stat may be nil
	outer, d                       int
	fromY, centered                bool
	// Shapes of the parameter gradients (scale's, and bias's or scale's).
	dScaleShape, dBiasShape []int
	// Which outputs the node reads: dX, dScale, dBias.
	want [3]bool
}

// nnBool is a kernel's int flag.
func nnBool(b bool) int32 {
	if b {
		return 1
	}
	return 0
}

// nnNormGradRun computes the wanted outputs (nil for the others) in the
// order dX, dScale, dBias; n outputs are returned (2 for RMS, 3 else).
func nnNormGradRun(c *ctx, a nnNormGradArgs, nout int) ([]*ir.Tensor, error) {
	outs := make([]*ir.Tensor, nout)
	var frees nnFreeAll
	defer frees.run()
	fail := func(err error) ([]*ir.Tensor, error) {
		nnRelease(c, outs...)
		return nil, err
	}
	shapes := [][]int{a.dy.Shape, a.dScaleShape, a.dBiasShape}
	for i := 0; i < nout; i++ {
		if a.want[i] {
			t, err := c.out(ir.Float32, shapes[i])
			if err != nil {
				return fail(err)
			}
			outs[i] = t
		}
	}
	common := []any{c.ptr(a.scale), nnPtr(c, a.bias), nnBool(a.bias != nil), nnPtr(c, a.stat), c.ptr(a.inv)}
	if outs[0] != nil && a.d > 0 {
		args := append([]any{c.ptr(a.dy), c.ptr(a.xy)}, common...)
		args = append(args, c.ptr(outs[0]), int64(a.d), nnBool(a.fromY), nnBool(a.centered))
		if err := nnRows(c, "norm_grad_dx_f32", a.outer, a.d, args...); err != nil {
			return fail(err)
		}
	}
	ds, db := (*ir.Tensor)(nil), (*ir.Tensor)(nil)
	if nout > 1 {
		ds = outs[1]
	}
	if nout > 2 {
		db = outs[2]
	}
	if (ds == nil && db == nil) || a.d == 0 {
		return outs, nil
	}
	nb := min(a.outer, nnLNGradBlocks)
	var ps, pb *ir.Tensor
	for _, p := range []struct {
		out  *ir.Tensor
		part **ir.Tensor
	}{{ds, &ps}, {db, &pb}} {
		if p.out == nil {
			continue
		}
		t, free, err := c.scratch(ir.Float64, []int{nb, a.d})
		if err != nil {
			return fail(err)
		}
		frees.add(free)
		*p.part = t
	}
	grid, block := cuda.Grid1D(a.d, blockSize)
	if nb > 0 {
		grid.Y = uint32(nb)
		args := append([]any{c.ptr(a.dy), c.ptr(a.xy)}, common...)
		args = append(args, nnPtr(c, ps), nnPtr(c, pb), int64(a.outer), int64(a.d), int64(nb), nnBool(a.fromY))
		if err := c.launchGrid(nnSrc, "norm_grad_cols_part", grid, block, 0, args...); err != nil {
			return fail(err)
		}
	}
	for _, p := range []struct{ part, out *ir.Tensor }{{ps, ds}, {pb, db}} {
		if p.out == nil {
			continue
		}
		// The partials are nb chunks of d sums, as ReduceSum's are.
		if err := c.launch(gradSrc, "sum_parts", a.d, nnPtr(c, p.part), c.ptr(p.out), int64(a.d), int64(nb)); err != nil {
			return fail(err)
		}
	}
	return outs, nil
}

// nnStatOK reports whether a per-row statistic is a float32 tensor with
// one value per row (other float dtypes run on the CPU).
func nnStatOK(t *ir.Tensor, outer int) bool {
	return t != nil && nnAllF32(t) && t.Len() == outer
}

// nnLayerNormGrad is runtime/cpu layerNormGradKernel:
// LayerNormalizationGrad(dY, X, scale, mean, inv_std_dev; axis).
func nnLayerNormGrad(c *ctx, n *ir.Node, ins []*ir.Tensor) ([]*ir.Tensor, error) {
	dy, x, scale, mean, inv := input(ins, 0), input(ins, 1), input(ins, 2), input(ins, 3), input(ins, 4)
	if dy == nil || x == nil || scale == nil || !nnAllF32(dy, x) || !slices.Equal(dy.Shape, x.Shape) {
		return nil, errFallback
	}
	axis, outer, d, ok := nnNormLayout(n, x)
	if !ok || !nnPlainParam(scale, d, len(x.Shape)-axis) || !nnStatOK(mean, outer) || !nnStatOK(inv, outer) {
		return nil, errFallback
	}
	if err := nnOnDevice(c, &dy, &x, &scale, &mean, &inv); err != nil {
		return nil, err
	}
	return nnNormGradRun(c, nnNormGradArgs{dy: dy, xy: x, scale: scale, stat: mean, inv: inv,
		outer: outer, d: d, centered: true, dScaleShape: scale.Shape, dBiasShape: scale.Shape,
		want: [3]bool{nnWant(n, 0), nnWant(n, 1), nnWant(n, 2)}}, nnNumOuts(n, 3))
}

// nnNormGradFromOutput is runtime/cpu normGradFromOutput: the FromOutput
// gradients of LayerNorm (centered, dBias) and RMSNorm.
func nnNormGradFromOutput(c *ctx, n *ir.Node, dy, y, scale, bias, inv *ir.Tensor, centered bool) ([]*ir.Tensor, error) {
	if dy == nil || y == nil || scale == nil || !nnAllF32(dy, y) || !slices.Equal(dy.Shape, y.Shape) {
		return nil, errFallback
	}
	axis, outer, d, ok := nnNormLayout(n, y)
	normRank := len(y.Shape) - axis
	if !ok || !nnPlainParam(scale, d, normRank) || !nnPlainParam(bias, d, normRank) || !nnStatOK(inv, outer) {
		return nil, errFallback
	}
	if err := nnOnDevice(c, &dy, &y, &scale, &bias, &inv); err != nil {
		return nil, err
	}
	a := nnNormGradArgs{dy: dy, xy: y, scale: scale, bias: bias, inv: inv, outer: outer, d: d,
		fromY: true, centered: centered, dScaleShape: scale.Shape, dBiasShape: scale.Shape,
		want: [3]bool{nnWant(n, 0), nnWant(n, 1), centered && nnWant(n, 2)}}
	if bias != nil {
		a.dBiasShape = bias.Shape
	}
	total := 2
	if centered {
		total = 3
	}
	return nnNormGradRun(c, a, nnNumOuts(n, total))
}

// nnLayerNormGradFromOutput: LayerNormalizationGradFromOutput(dY, Y,
// scale, bias?, inv_std_dev; axis).
func nnLayerNormGradFromOutput(c *ctx, n *ir.Node, ins []*ir.Tensor) ([]*ir.Tensor, error) {
	return nnNormGradFromOutput(c, n, input(ins, 0), input(ins, 1), input(ins, 2), input(ins, 3), input(ins, 4), true)
}

// nnRMSNormGradFromOutput: RMSNormalizationGradFromOutput(dY, Y, scale,
// inv_rms; axis).
func nnRMSNormGradFromOutput(c *ctx, n *ir.Node, ins []*ir.Tensor) ([]*ir.Tensor, error) {
	return nnNormGradFromOutput(c, n, input(ins, 0), input(ins, 1), input(ins, 2), nil, input(ins, 3), false)
}
