package passes

import (
	"fmt"
	"math"
	"sort"

	"crsc/compiler/ir"
)

// gradRule is one row of the gradient table: which inputs can carry a
// gradient, and how to build their gradients from the outputs' gradients
// dy (nil where an output has none). need[i] says whether input i wants one;
// a rule may return nil for inputs that do not.
type gradRule struct {
	inputs []int // differentiable inputs; nil means every input
	fn     gradFunc
}

// gradFunc builds a node's input gradients from its outputs' gradients dy.
type gradFunc func(b *gradBuilder, n *ir.Node, dy []*ir.Value, need []bool) ([]*ir.Value, error)

// partial is the gradient of one input from the output's gradient dy, as
// graph building; y is the node's (first) output, x its first input.
type partial func(b *gradBuilder, x, y, dy *ir.Value) *ir.Value

// unary is the rule of a one-input op: dx = f(x, y, dy).
func unary(f partial) gradRule {
	return gradRule{nil, func(b *gradBuilder, n *ir.Node, dy []*ir.Value, _ []bool) ([]*ir.Value, error) {
		return []*ir.Value{f(b, n.In(0), n.Outputs[0], dy[0])}, nil
	}}
}

// binary is the rule of a broadcasting two-input op: input i's gradient
// is d_i(the other input, y, dy), summed back to input i's shape, built
// only for the inputs that want one.
func binary(da, db func(b *gradBuilder, other, y, dy *ir.Value) *ir.Value) gradRule {
	return gradRule{nil, func(b *gradBuilder, n *ir.Node, dy []*ir.Value, need []bool) ([]*ir.Value, error) {
		dx := make([]*ir.Value, 2)
		for i, d := range []func(*gradBuilder, *ir.Value, *ir.Value, *ir.Value) *ir.Value{da, db} {
			if need[i] {
				dx[i] = b.sumTo(d(b, n.In(1-i), n.Outputs[0], dy[0]), n.In(i))
			}
		}
		return dx, nil
	}}
}

func (r gradRule) differentiable(i int) bool {
	if r.inputs == nil {
		return true
	}
	for _, j := range r.inputs {
		if i == j {
			return true
		}
	}
	return false
}

// gradErf: d erf(x) = 2/√π · exp(-x²).
func gradErf(b *gradBuilder, x, _, dy *ir.Value) *ir.Value {
	g := b.op("Exp", nil, b.op("Neg", nil, b.op("Mul", nil, x, x)))
	return b.op("Mul", nil, dy, b.op("Mul", nil, g, b.scalar(2/math.Sqrt(math.Pi), x)))
}

// first lists input 0 alone as differentiable (data inputs of shape ops).
var first = []int{0}

// gradRules is the gradient table, keyed by op (domain-qualified for
// non-default domains). Each rule is a few lines of graph building.
var gradRules = map[string]gradRule{
	"Identity": {first, func(b *gradBuilder, n *ir.Node, dy []*ir.Value, _ []bool) ([]*ir.Value, error) {
		return []*ir.Value{dy[0]}, nil
	}},
	"Add": {nil, func(b *gradBuilder, n *ir.Node, dy []*ir.Value, need []bool) ([]*ir.Value, error) {
		return []*ir.Value{b.sumTo(dy[0], n.In(0)), b.sumTo(dy[0], n.In(1))}, nil
	}},
	"Sum": {nil, func(b *gradBuilder, n *ir.Node, dy []*ir.Value, need []bool) ([]*ir.Value, error) {
		dx := make([]*ir.Value, len(n.Inputs))
		for i, in := range n.Inputs {
			if need[i] {
				dx[i] = b.sumTo(dy[0], in)
			}
		}
		return dx, nil
	}},
	"Sub": {nil, func(b *gradBuilder, n *ir.Node, dy []*ir.Value, need []bool) ([]*ir.Value, error) {
		var db *ir.Value
		if need[1] {
			db = b.sumTo(b.op("Neg", nil, dy[0]), n.In(1))
		}
		return []*ir.Value{b.sumTo(dy[0], n.In(0)), db}, nil
	}},
	"Mul": binary(func(b *gradBuilder, bv, _, dy *ir.Value) *ir.Value { return b.op("Mul", nil, dy, bv) },
		func(b *gradBuilder, a, _, dy *ir.Value) *ir.Value { return b.op("Mul", nil, dy, a) }),
	"Div": {nil, func(b *gradBuilder, n *ir.Node, dy []*ir.Value, need []bool) ([]*ir.Value, error) {
		// y = a/b: da = dy/b, db = -dy·y/b.
		dx := make([]*ir.Value, 2)
		if need[0] {
			dx[0] = b.sumTo(b.op("Div", nil, dy[0], n.In(1)), n.In(0))
		}
		if need[1] {
			q := b.op("Div", nil, b.op("Mul", nil, dy[0], n.Outputs[0]), n.In(1))
			dx[1] = b.sumTo(b.op("Neg", nil, q), n.In(1))
		}
		return dx, nil
	}},
	"Pow": {nil, func(b *gradBuilder, n *ir.Node, dy []*ir.Value, need []bool) ([]*ir.Value, error) {
		// y = a^e: da = dy·e·a^(e-1), de = dy·y·ln a.
		a, e := n.In(0), n.In(1)
		dx := make([]*ir.Value, 2)
		if need[0] {
			var slope *ir.Value
			if e.IsConst() && e.Init.Len() == 1 && e.Init.Float64At(0) == 2 {
				slope = b.op("Mul", nil, a, b.scalar(2, a)) // the RMSNorm/LayerNorm x² case
			} else {
				em1 := b.op("Sub", nil, e, b.scalarLike(1, e))
				slope = b.op("Mul", nil, b.op("Pow", nil, a, em1), e)
			}
			dx[0] = b.sumTo(b.op("Mul", nil, dy[0], slope), a)
		}
		if need[1] {
			dx[1] = b.sumTo(b.op("Mul", nil, b.op("Mul", nil, dy[0], n.Outputs[0]), b.op("Log", nil, a)), e)
		}
		return dx, nil
	}},
	"Neg": unary(func(b *gradBuilder, _, _, dy *ir.Value) *ir.Value { return b.op("Neg", nil, dy) }),
	"Abs": unary(func(b *gradBuilder, x, _, dy *ir.Value) *ir.Value { return b.op("Mul", nil, dy, b.op("Sign", nil, x)) }),
	"Sqrt": unary(func(b *gradBuilder, _, y, dy *ir.Value) *ir.Value {
		return b.op("Div", nil, dy, b.op("Mul", nil, y, b.scalar(2, y)))
	}), // dy/(2y)
	"Reciprocal": unary(func(b *gradBuilder, _, y, dy *ir.Value) *ir.Value {
		return b.op("Neg", nil, b.op("Mul", nil, dy, b.op("Mul", nil, y, y)))
	}), // -dy·y²
	"Exp": unary(func(b *gradBuilder, _, y, dy *ir.Value) *ir.Value { return b.op("Mul", nil, dy, y) }),
	"Log": unary(func(b *gradBuilder, x, _, dy *ir.Value) *ir.Value { return b.op("Div", nil, dy, x) }),
	"Erf": unary(gradErf),
	"Tanh": unary(func(b *gradBuilder, _, y, dy *ir.Value) *ir.Value {
		return b.op("Mul", nil, dy, b.op("Sub", nil, b.scalar(1, y), b.op("Mul", nil, y, y)))
	}), // dy·(1-y²)
	"Sigmoid": unary(func(b *gradBuilder, _, y, dy *ir.Value) *ir.Value {
		return b.op("Mul", nil, dy, b.op("Mul", nil, y, b.op("Sub", nil, b.scalar(1, y), y)))
	}), // dy·y·(1-y)
	"Relu": unary(func(b *gradBuilder, _, y, dy *ir.Value) *ir.Value {
		return b.op("Where", nil, b.op("Greater", nil, y, b.scalar(0, y)), dy, b.scalar(0, y))
	}),
	"Gelu":               {nil, gradGelu},
	"com.microsoft.Gelu": {nil, gradGelu},
	"Softmax": {nil, func(b *gradBuilder, n *ir.Node, dy []*ir.Value, _ []bool) ([]*ir.Value, error) {
		axis, err := lastAxisOnly(n)
		if err != nil {
			return nil, err
		}
		y := n.Outputs[0] // dx = y·(dy - Σ dy·y)
		s := b.op("ReduceSum", ir.Attrs{"axes": ir.IntsAttr(axis), "keepdims": ir.IntAttr(1)}, b.op("Mul", nil, dy[0], y))
		return []*ir.Value{b.op("Mul", nil, y, b.op("Sub", nil, dy[0], s))}, nil
	}},
	"LogSoftmax": {nil, func(b *gradBuilder, n *ir.Node, dy []*ir.Value, _ []bool) ([]*ir.Value, error) {
		axis, err := lastAxisOnly(n)
		if err != nil {
			return nil, err
		}
		y := n.Outputs[0] // dx = dy - exp(y)·Σ dy
		s := b.op("ReduceSum", ir.Attrs{"axes": ir.IntsAttr(axis), "keepdims": ir.IntAttr(1)}, dy[0])
		return []*ir.Value{b.op("Sub", nil, dy[0], b.op("Mul", nil, b.op("Exp", nil, y), s))}, nil
	}},
	"MatMul":    {nil, gradMatMul},
	"Gemm":      {nil, gradGemm},
	"Transpose": {first, gradTranspose},
	"Reshape":   {first, gradReshapeLike},
	"Flatten":   {first, gradReshapeLike},
	"Squeeze":   {first, gradReshapeLike},
	"Unsqueeze": {first, gradReshapeLike},
	"Cast":      {first, gradCast},
	"Expand": {first, func(b *gradBuilder, n *ir.Node, dy []*ir.Value, _ []bool) ([]*ir.Value, error) {
		return []*ir.Value{b.sumTo(dy[0], n.In(0))}, nil
	}},
	"Concat":                     {nil, gradConcat},
	"Split":                      {first, gradSplit},
	"Slice":                      {first, gradSlice},
	"Gather":                     {first, gradGather},
	"Where":                      {[]int{1, 2}, gradWhere},
	"Min":                        {nil, gradMinMax("LessOrEqual")},
	"Max":                        {nil, gradMinMax("GreaterOrEqual")},
	"Clip":                       {first, gradClip},
	"ReduceSum":                  {first, gradReduce(false)},
	"ReduceMean":                 {first, gradReduce(true)},
	"Dropout":                    {first, gradDropout},
	"LayerNormalization":         {[]int{0, 1, 2}, gradLayerNorm},
	"ai.crsc.LayerNormalization": {[]int{0, 1, 2}, gradLayerNorm},
	"ai.crsc.RMSNormalization":   {[]int{0, 1}, gradRMSNorm},
	"SoftmaxCrossEntropyLoss":    {first, gradSCE},
}

// scalarLike is a scalar constant of like's dtype (float or integer).
func (b *gradBuilder) scalarLike(v float64, like *ir.Value) *ir.Value {
	if like.DType.IsFloat() {
		return b.scalar(v, like)
	}
	return b.g.AddInit(b.prefix+"/scalar", ir.FromInt64(nil, []int64{int64(v)}))
}

// lastAxisOnly returns the softmax axis, refusing the opset < 13
// flatten-to-2D semantics unless the axis is the last one.
func lastAxisOnly(n *ir.Node) (int64, error) {
	axis := n.Attrs.Int("axis", -1)
	if n.Attrs.Has("_opset") {
		axis = n.Attrs.Int("axis", 1)
		x := n.In(0)
		if !x.HasShape || (axis != -1 && int(axis) != len(x.Shape)-1) {
			return 0, fmt.Errorf("opset < 13 softmax over a non-last axis has no gradient rule")
		}
	}
	return axis, nil
}

// gradGelu differentiates the exact GELU in one op: d/dx x·Φ(x) = Φ(x) + x·φ(x).
func gradGelu(b *gradBuilder, n *ir.Node, dy []*ir.Value, _ []bool) ([]*ir.Value, error) {
	if n.Attrs.String("approximate", "none") != "none" {
		return nil, fmt.Errorf("tanh-approximate Gelu has no gradient rule")
	}
	return []*ir.Value{b.crsc("GeluGrad", nil, dy[0], n.In(0))}, nil
}

// gradMatMul handles N-d MatMul with broadcast batch dims. The products
// with transposed operands go to ai.crsc.MatMul (transA/transB attributes),
// so no transpose is materialized; a linear layer (2-D weight) gets its
// weight gradient as one [K,M]·[M,N] product over the flattened rows instead
// of a batched product summed afterwards.
func gradMatMul(b *gradBuilder, n *ir.Node, dy []*ir.Value, need []bool) ([]*ir.Value, error) {
	a, w := n.In(0), n.In(1)
	if !a.HasShape || !w.HasShape || len(a.Shape) < 2 || len(w.Shape) < 2 {
		return nil, fmt.Errorf("MatMul gradient needs operands of known rank ≥ 2 (got %s, %s)", ir.TypeString(a), ir.TypeString(w))
	}
	matmulT := func(x, y *ir.Value, tx, ty bool) *ir.Value {
		attrs := ir.Attrs{}
		if tx {
			attrs["transA"] = ir.IntAttr(1)
		}
		if ty {
			attrs["transB"] = ir.IntAttr(1)
		}
		return b.crsc("MatMul", attrs, x, y)
	}
	// Products of two activations (attention) are recorded so the WTA-CRS
	// pass can sample their contractions with --attention.
	weight := w.IsConst() || w.Producer != nil && w.Producer.Op == "Transpose" && w.Producer.In(0).IsConst()
	activation := !weight && !a.IsConst() && len(a.Shape) >= 3 && len(w.Shape) >= 3
	mark := func(v *ir.Value, side string) *ir.Value {
		if activation && b.rec != nil {
			b.rec.Products = append(b.rec.Products, ProductGrad{Forward: n, Grad: v.Producer, Side: side})
		}
		return v
	}
	dx := make([]*ir.Value, 2)
	if need[0] {
		// dA = dR·Bᵀ. When B is itself a transpose (a tied LM head's Eᵀ,
		// attention's Kᵀ), read its source untransposed: the transposed
		// copy then dies after forward instead of being kept for backward.
		src, transB := w, true
		if p := w.Producer; p != nil && p.Op == "Transpose" && p.Domain == "" && isLastTwoSwap(p, len(w.Shape)) {
			src, transB = p.In(0), false
		}
		dx[0] = b.sumTo(mark(matmulT(dy[0], src, false, transB), "a"), a)
	}
	if need[1] {
		// A linear layer: x [..., k] times a weight [k, m], x of any rank
		// ≥ 2 (TensorFlow exports flatten the activations to [batch·seq, k]
		// first); the Reshapes are views even when x is 2-D already.
		if len(w.Shape) == 2 && a.Shape[len(a.Shape)-1].IsFixed() && w.Shape[1].IsFixed() {
			k, m := a.Shape[len(a.Shape)-1].Size, w.Shape[1].Size
			a2 := b.op("Reshape", nil, a, b.ints(-1, k))
			g2 := b.op("Reshape", nil, dy[0], b.ints(-1, m))
			dx[1] = b.op("Gemm", ir.Attrs{"transA": ir.IntAttr(1)}, a2, g2)
			if b.rec != nil { // the weight gradients WTA-CRS may sample
				b.rec.Linear = append(b.rec.Linear, LinearGrad{Forward: n, WeightGrad: dx[1].Producer})
			}
		} else {
			dx[1] = b.sumTo(mark(matmulT(a, dy[0], true, false), "b"), w)
		}
	}
	return dx, nil
}

func lastTwoSwapped(rank int) []int64 {
	perm := make([]int64, rank)
	for i := range perm {
		perm[i] = int64(i)
	}
	perm[rank-1], perm[rank-2] = perm[rank-2], perm[rank-1]
	return perm
}

// gradGemm: Y = α·op(A)·op(B) + β·C. Each transpose combination maps to one
// Gemm per gradient.
func gradGemm(b *gradBuilder, n *ir.Node, dy []*ir.Value, need []bool) ([]*ir.Value, error) {
	a, w := n.In(0), n.In(1)
	alpha, beta := n.Attrs.Float("alpha", 1), n.Attrs.Float("beta", 1)
	ta, tb := n.Attrs.Int("transA", 0) != 0, n.Attrs.Int("transB", 0) != 0
	gemm := func(x, y *ir.Value, tx, ty bool) *ir.Value {
		attrs := ir.Attrs{"alpha": ir.FloatAttr(alpha)}
		if tx {
			attrs["transA"] = ir.IntAttr(1)
		}
		if ty {
			attrs["transB"] = ir.IntAttr(1)
		}
		return b.op("Gemm", attrs, x, y)
	}
	g := dy[0]
	dx := make([]*ir.Value, 3)
	if need[0] {
		switch {
		case !ta && !tb:
			dx[0] = gemm(g, w, false, true)
		case !ta && tb:
			dx[0] = gemm(g, w, false, false)
		case ta && !tb:
			dx[0] = gemm(w, g, false, true)
		default:
			dx[0] = gemm(w, g, true, true)
		}
	}
	if need[1] {
		switch {
		case !ta && !tb:
			dx[1] = gemm(a, g, true, false)
		case !ta && tb:
			dx[1] = gemm(g, a, true, false)
		case ta && !tb:
			dx[1] = gemm(a, g, false, false)
		default:
			dx[1] = gemm(g, a, true, true)
		}
	}
	if len(n.Inputs) > 2 && n.In(2) != nil && need[2] {
		c := g
		if beta != 1 {
			c = b.op("Mul", nil, g, b.scalar(float64(beta), g))
		}
		dx[2] = b.sumTo(c, n.In(2))
	}
	return dx, nil
}

func gradTranspose(b *gradBuilder, n *ir.Node, dy []*ir.Value, _ []bool) ([]*ir.Value, error) {
	perm := n.Attrs.Ints("perm")
	x := n.In(0)
	if perm == nil {
		if !x.HasShape {
			return nil, fmt.Errorf("Transpose without perm needs a known rank")
		}
		for i := len(x.Shape) - 1; i >= 0; i-- {
			perm = append(perm, int64(i))
		}
	}
	inv := make([]int64, len(perm))
	for i, p := range perm {
		inv[p] = int64(i)
	}
	return []*ir.Value{b.op("Transpose", ir.Attrs{"perm": ir.IntsAttr(inv...)}, dy[0])}, nil
}

// gradReshapeLike covers ops that only change the shape.
func gradReshapeLike(b *gradBuilder, n *ir.Node, dy []*ir.Value, _ []bool) ([]*ir.Value, error) {
	return []*ir.Value{b.op("Reshape", nil, dy[0], b.shapeOf(n.In(0)))}, nil
}

func gradCast(b *gradBuilder, n *ir.Node, dy []*ir.Value, _ []bool) ([]*ir.Value, error) {
	x := n.In(0)
	if !x.DType.IsFloat() {
		return []*ir.Value{nil}, nil
	}
	return []*ir.Value{b.op("Cast", ir.Attrs{"to": ir.IntAttr(ir.DTypeToONNX(x.DType))}, dy[0])}, nil
}

// gradConcat slices dy back into the inputs' extents along the axis.
func gradConcat(b *gradBuilder, n *ir.Node, dy []*ir.Value, need []bool) ([]*ir.Value, error) {
	axis := n.Attrs.Int("axis", 0)
	dx := make([]*ir.Value, len(n.Inputs))
	offset := int64(0)
	for i, in := range n.Inputs {
		if !in.HasShape {
			return nil, fmt.Errorf("Concat gradient needs known input shapes")
		}
		ax := axis
		if ax < 0 {
			ax += int64(len(in.Shape))
		}
		d := in.Shape[ax]
		if !d.IsFixed() {
			return nil, fmt.Errorf("Concat gradient needs fixed sizes along the axis (input %s is %v)", in.Name, d)
		}
		if need[i] {
			dx[i] = b.op("Slice", nil, dy[0], b.ints(offset), b.ints(offset+d.Size), b.ints(ax))
		}
		offset += d.Size
	}
	return dx, nil
}

// gradSplit concatenates the outputs' gradients, with zeros for outputs
// that have none.
func gradSplit(b *gradBuilder, n *ir.Node, dy []*ir.Value, _ []bool) ([]*ir.Value, error) {
	parts := make([]*ir.Value, len(n.Outputs))
	for i, o := range n.Outputs {
		parts[i] = dy[i]
		if parts[i] == nil {
			parts[i] = b.zerosLike(o)
		}
	}
	return []*ir.Value{b.op("Concat", ir.Attrs{"axis": ir.IntAttr(n.Attrs.Int("axis", 0))}, parts...)}, nil
}

func gradSlice(b *gradBuilder, n *ir.Node, dy []*ir.Value, _ []bool) ([]*ir.Value, error) {
	ins := []*ir.Value{dy[0], b.shapeOf(n.In(0))}
	ins = append(ins, n.Inputs[1:]...)
	return []*ir.Value{b.crsc("SliceGrad", nil, ins...)}, nil
}

func gradGather(b *gradBuilder, n *ir.Node, dy []*ir.Value, _ []bool) ([]*ir.Value, error) {
	attrs := ir.Attrs{"axis": ir.IntAttr(n.Attrs.Int("axis", 0))}
	return []*ir.Value{b.crsc("GatherGrad", attrs, dy[0], n.In(1), b.shapeOf(n.In(0)))}, nil
}

func gradWhere(b *gradBuilder, n *ir.Node, dy []*ir.Value, need []bool) ([]*ir.Value, error) {
	cond := n.In(0)
	zero := b.scalar(0, dy[0])
	dx := make([]*ir.Value, 3)
	if need[1] {
		dx[1] = b.sumTo(b.op("Where", nil, cond, dy[0], zero), n.In(1))
	}
	if need[2] {
		dx[2] = b.sumTo(b.op("Where", nil, cond, zero, dy[0]), n.In(2))
	}
	return dx, nil
}

// gradMinMax routes dy to the input that won; ties go to the first input.
func gradMinMax(firstWins string) func(*gradBuilder, *ir.Node, []*ir.Value, []bool) ([]*ir.Value, error) {
	return func(b *gradBuilder, n *ir.Node, dy []*ir.Value, need []bool) ([]*ir.Value, error) {
		if len(n.Inputs) != 2 {
			return nil, fmt.Errorf("%s gradient supports two inputs, got %d", n.Op, len(n.Inputs))
		}
		mask := b.op(firstWins, nil, n.In(0), n.In(1))
		zero := b.scalar(0, dy[0])
		dx := make([]*ir.Value, 2)
		if need[0] {
			dx[0] = b.sumTo(b.op("Where", nil, mask, dy[0], zero), n.In(0))
		}
		if need[1] {
			dx[1] = b.sumTo(b.op("Where", nil, mask, zero, dy[0]), n.In(1))
		}
		return dx, nil
	}
}

func gradClip(b *gradBuilder, n *ir.Node, dy []*ir.Value, _ []bool) ([]*ir.Value, error) {
	x, g := n.In(0), dy[0]
	zero := b.scalar(0, g)
	if lo := n.In(1); lo != nil {
		g = b.op("Where", nil, b.op("GreaterOrEqual", nil, x, lo), g, zero)
	}
	if hi := n.In(2); hi != nil {
		g = b.op("Where", nil, b.op("LessOrEqual", nil, x, hi), g, zero)
	}
	return []*ir.Value{g}, nil
}

// gradReduce spreads dy back over the reduced axes (÷ count for a mean).
func gradReduce(mean bool) func(*gradBuilder, *ir.Node, []*ir.Value, []bool) ([]*ir.Value, error) {
	return func(b *gradBuilder, n *ir.Node, dy []*ir.Value, _ []bool) ([]*ir.Value, error) {
		x, g := n.In(0), dy[0]
		if !x.HasShape {
			return nil, fmt.Errorf("%s gradient needs a known input rank", n.Op)
		}
		if n.In(1) != nil {
			return nil, fmt.Errorf("%s gradient needs constant axes", n.Op)
		}
		rank := len(x.Shape)
		axes := n.Attrs.Ints("axes")
		if len(axes) == 0 && n.Attrs.Int("noop_with_empty_axes", 0) != 0 {
			return []*ir.Value{g}, nil
		}
		if len(axes) == 0 {
			for i := 0; i < rank; i++ {
				axes = append(axes, int64(i))
			}
		}
		norm := make([]int64, len(axes))
		for i, a := range axes {
			if a < 0 {
				a += int64(rank)
			}
			norm[i] = a
		}
		sort.Slice(norm, func(i, j int) bool { return norm[i] < norm[j] })
		if n.Attrs.Int("keepdims", 1) == 0 {
			g = b.op("Unsqueeze", ir.Attrs{"axes": ir.IntsAttr(norm...)}, g)
		}
		g = b.op("Expand", nil, g, b.shapeOf(x))
		if mean {
			count := ir.Fixed(1)
			for _, a := range norm {
				count = count.Mul(x.Shape[a])
			}
			if count.IsFixed() {
				g = b.op("Mul", nil, g, b.scalar(1/float64(count.Size), g))
			} else {
				size := b.op("Cast", ir.Attrs{"to": ir.IntAttr(ir.DTypeToONNX(g.DType))},
					b.op("Div", nil, b.op("Size", nil, x), b.op("Size", nil, n.Outputs[0])))
				g = b.op("Div", nil, g, size)
			}
		}
		return []*ir.Value{g}, nil
	}
}

// gradDropout reuses the forward mask; DropoutGrad is the identity when the
// node runs in eval mode, exactly like the forward kernel.
func gradDropout(b *gradBuilder, n *ir.Node, dy []*ir.Value, _ []bool) ([]*ir.Value, error) {
	mask := b.ensureOutput(n, 1)
	ins := []*ir.Value{dy[0], mask, n.In(1), n.In(2)}
	for len(ins) > 2 && ins[len(ins)-1] == nil {
		ins = ins[:len(ins)-1]
	}
	return []*ir.Value{b.crsc("DropoutGrad", nil, ins...)}, nil
}

func gradLayerNorm(b *gradBuilder, n *ir.Node, dy []*ir.Value, need []bool) ([]*ir.Value, error) {
	mean, inv := b.ensureOutput(n, 1), b.ensureOutput(n, 2)
	scale := n.In(1)
	if scale == nil {
		return nil, fmt.Errorf("LayerNormalization without a scale input")
	}
	attrs := ir.Attrs{"axis": ir.IntAttr(n.Attrs.Int("axis", -1))}
	g := b.node("LayerNormalizationGrad", CrscDomain, attrs, 3, dy[0], n.In(0), scale, mean, inv)
	dx := []*ir.Value{g.Outputs[0], g.Outputs[1], g.Outputs[2]}
	if len(n.Inputs) < 3 || n.In(2) == nil {
		dx = dx[:2]
	}
	return dx, nil
}

func gradSCE(b *gradBuilder, n *ir.Node, dy []*ir.Value, _ []bool) ([]*ir.Value, error) {
	if dy[0] == nil {
		return nil, fmt.Errorf("gradient through log_prob output is not supported")
	}
	logProb := b.ensureOutput(n, 1)
	attrs := ir.Attrs{"reduction": ir.StringAttr(n.Attrs.String("reduction", "mean"))}
	if n.Attrs.Has("ignore_index") {
		attrs["ignore_index"] = ir.IntAttr(n.Attrs.Int("ignore_index", 0))
	}
	ins := []*ir.Value{dy[0], logProb, n.In(1)}
	if n.In(2) != nil {
		ins = append(ins, n.In(2))
	}
	return []*ir.Value{b.crsc("SoftmaxCrossEntropyLossGrad", attrs, ins...)}, nil
}

// gradRMSNorm differentiates the fused RMSNorm from its output and inverse
// RMS: its input never has to be kept for backward.
func gradRMSNorm(b *gradBuilder, n *ir.Node, dy []*ir.Value, _ []bool) ([]*ir.Value, error) {
	inv := b.ensureOutput(n, 1)
	attrs := ir.Attrs{"axis": ir.IntAttr(n.Attrs.Int("axis", -1))}
	g := b.node("RMSNormalizationGradFromOutput", CrscDomain, attrs, 2, dy[0], n.Outputs[0], n.In(1), inv)
	return []*ir.Value{g.Outputs[0], g.Outputs[1]}, nil
}
