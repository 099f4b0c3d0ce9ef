package ir

import "fmt"

// gradInferRules holds the shape rules of the ai.crsc gradient ops the
// autodiff pass emits (kernels in runtime/cpu/grad.go). Several of them
// take a target shape as an input, usually Shape(x) of a forward value, so
// the rules look through a Shape producer to x's inferred shape.
func gradInferRules() map[string]InferFunc {
	return map[string]InferFunc{
		"ai.crsc.SumTo":                       inferSumTo,
		"ai.crsc.GatherGrad":                  inferGatherGrad,
		"ai.crsc.SliceGrad":                   inferSliceGrad,
		"ai.crsc.DropoutGrad":                 sameAsInput0,
		"ai.crsc.LayerNormalizationGrad":      inferLayerNormGrad,
		"ai.crsc.SoftmaxCrossEntropyLossGrad": func(n *Node) error { return setFromInput(n, 1, Invalid) },
	}
}

// gradShapeInput reads the shape a 1-D shape-tensor input v denotes: a
// constant's values, or the shape of x when v = Shape(x) (honouring Shape's
// start/end). known is false when neither tells; then rank is the length of
// v when that is fixed (else -1), so callers can still give a rank.
func gradShapeInput(v *Value) (s Shape, known bool, rank int) {
	if v == nil {
		return nil, false, -1
	}
	if dims, ok := constInts(v); ok {
		s = make(Shape, len(dims))
		for i, d := range dims {
			if d < 0 {
				return nil, false, -1
			}
			s[i] = Fixed(d)
		}
		return s, true, len(s)
	}
	if p := v.Producer; p != nil && p.Op == "Shape" && (p.Domain == "" || p.Domain == "ai.onnx") {
		if x := p.In(0); x != nil && x.HasShape {
			r := int64(len(x.Shape))
			start, end := clampRange(p.Attrs.Int("start", 0), p.Attrs.Int("end", r), r)
			if end < start {
				end = start
			}
			return x.Shape[start:end].Clone(), true, int(end - start)
		}
	}
	if v.HasShape && len(v.Shape) == 1 && v.Shape[0].IsFixed() {
		return nil, false, int(v.Shape[0].Size)
	}
	return nil, false, -1
}

// gradSetShapeInput gives output 0 dtype dt and the shape input i denotes: the
// full shape when known, else unknown dims of the known rank.
func gradSetShapeInput(n *Node, i int, dt DType) (Shape, bool) {
	n.Outputs[0].DType = dt
	s, known, rank := gradShapeInput(n.In(i))
	switch {
	case known:
		n.Outputs[0].SetType(dt, s)
	case rank >= 0:
		u := make(Shape, rank)
		for j := range u {
			u[j] = UnknownDim
		}
		n.Outputs[0].SetType(dt, u)
	}
	return s, known
}

// inferSumTo: SumTo(dY, shape) has the target shape; when both are known,
// the target must broadcast to dY's shape.
func inferSumTo(n *Node) error {
	dy := n.In(0)
	if dy == nil || n.In(1) == nil {
		return fmt.Errorf("SumTo needs inputs dY and shape")
	}
	to, known := gradSetShapeInput(n, 1, dy.DType)
	if !known || !dy.HasShape {
		return nil
	}
	if len(to) > len(dy.Shape) {
		return fmt.Errorf("cannot sum %v to the larger rank shape %v", dy.Shape, to)
	}
	off := len(dy.Shape) - len(to)
	for i, d := range to {
		f := dy.Shape[off+i]
		if d.IsFixed() && f.IsFixed() && d != f && d != Fixed(1) {
			return fmt.Errorf("shape %v does not broadcast to %v", to, dy.Shape)
		}
	}
	return nil
}

// inferGatherGrad: GatherGrad(dY, indices, shape; axis) has the data shape;
// when known, dY must be shape[:axis] + indices.shape + shape[axis+1:].
func inferGatherGrad(n *Node) error {
	dy, idx := n.In(0), n.In(1)
	if dy == nil || idx == nil || n.In(2) == nil {
		return fmt.Errorf("GatherGrad needs inputs dY, indices and shape")
	}
	s, known := gradSetShapeInput(n, 2, dy.DType)
	if !known {
		return nil
	}
	if len(s) == 0 {
		return fmt.Errorf("data shape must have rank >= 1")
	}
	axis, err := normAxis(n.Attrs.Int("axis", 0), len(s))
	if err != nil {
		return err
	}
	if dy.HasShape && idx.HasShape {
		want := append(append(s[:axis].Clone(), idx.Shape...), s[axis+1:]...)
		if !mayEqual(dy.Shape, want) {
			return fmt.Errorf("dY shape %v, want %v", dy.Shape, want)
		}
	}
	return nil
}

// inferSliceGrad: SliceGrad(dY, shape, starts, ends, axes?, steps?) has the
// sliced input's shape.
func inferSliceGrad(n *Node) error {
	dy := n.In(0)
	if dy == nil || n.In(1) == nil {
		return fmt.Errorf("SliceGrad needs inputs dY and shape")
	}
	gradSetShapeInput(n, 1, dy.DType)
	return nil
}

// inferLayerNormGrad: (dX, dScale, dBias) take the shapes of X and scale.
// Any output may be nil (not needed); InferNode runs a rule only when
// output 0 is present, so a node without dX keeps untyped parameter grads.
func inferLayerNormGrad(n *Node) error {
	x, scale := n.In(1), n.In(2)
	if x == nil || scale == nil {
		return fmt.Errorf("LayerNormalizationGrad needs inputs dY, X and scale")
	}
	for i, src := range []*Value{x, scale, scale} {
		if i >= len(n.Outputs) || n.Outputs[i] == nil {
			continue
		}
		n.Outputs[i].DType = x.DType
		if src.HasShape {
			n.Outputs[i].SetType(x.DType, src.Shape.Clone())
		}
	}
	if x.HasShape {
		if _, err := normAxis(n.Attrs.Int("axis", -1), len(x.Shape)); err != nil {
			return err
		}
	}
	return nil
}
