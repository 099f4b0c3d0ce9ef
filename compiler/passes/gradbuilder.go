package passes

import (
	"fmt"

	"crsc/compiler/ir"
)

// gradBuilder appends backward nodes to the graph, inferring each node's
// shape as it goes so later rules can see shapes (SumTo skips no-op
// reductions that way).
type gradBuilder struct {
	g      *ir.Graph
	prefix string
	consts map[string]*ir.Value
	err    error
	rec    *Backward // what autodiff records for later passes (nil: nothing)
}

func (b *gradBuilder) node(op, domain string, attrs ir.Attrs, nOut int, ins ...*ir.Value) *ir.Node {
	n := b.g.AddNode(op, b.prefix+"/"+op, ins, nOut, attrs)
	n.Domain = domain
	if err := ir.InferNode(n); err != nil && b.err == nil {
		b.err = err
	}
	return n
}

// op adds a default-domain node with one output.
func (b *gradBuilder) op(op string, attrs ir.Attrs, ins ...*ir.Value) *ir.Value {
	return b.node(op, "", attrs, 1, ins...).Outputs[0]
}

// crsc adds an ai.crsc node with one output.
func (b *gradBuilder) crsc(op string, attrs ir.Attrs, ins ...*ir.Value) *ir.Value {
	return b.node(op, CrscDomain, attrs, 1, ins...).Outputs[0]
}

// scalar is a constant of like's float dtype, shared across the graph.
func (b *gradBuilder) scalar(v float64, like *ir.Value) *ir.Value {
	key := fmt.Sprintf("%v:%v", like.DType, v)
	if c, ok := b.consts[key]; ok {
		return c
	}
	var t *ir.Tensor
	if like.DType == ir.Float64 {
		t = &ir.Tensor{DType: ir.Float64, F64: []float64{v}}
	} else {
		t = ir.ScalarF32(float32(v))
	}
	c := b.g.AddInit(fmt.Sprintf(ir.BackwardPrefix+"const_%v_%v", like.DType, v), t)
	if b.consts == nil {
		b.consts = map[string]*ir.Value{}
	}
	b.consts[key] = c
	return c
}

// ints is a 1-D int64 constant.
func (b *gradBuilder) ints(v ...int64) *ir.Value {
	return b.g.AddInit(b.prefix+"/ints", ir.FromInt64([]int{len(v)}, v))
}

// shapeOf is x's shape as an int64 tensor: a constant when it is static,
// else a Shape node.
func (b *gradBuilder) shapeOf(x *ir.Value) *ir.Value {
	if x.HasShape {
		if dims, ok := x.Shape.Ints(); ok {
			vals := make([]int64, len(dims))
			for i, d := range dims {
				vals[i] = int64(d)
			}
			return b.ints(vals...)
		}
	}
	return b.op("Shape", nil, x)
}

// sumTo reduces a gradient that broadcasting expanded back to x's shape.
func (b *gradBuilder) sumTo(d, x *ir.Value) *ir.Value {
	if d.HasShape && x.HasShape && d.Shape.Equal(x.Shape) && !hasUnknown(x.Shape) {
		return d
	}
	return b.crsc("SumTo", nil, d, b.shapeOf(x))
}

func hasUnknown(s ir.Shape) bool {
	for _, d := range s {
		if d.IsUnknown() {
			return true
		}
	}
	return false
}

// sum adds gradient contributions in the order they arrived, so results are
// deterministic.
func (b *gradBuilder) sum(name string, vs []*ir.Value) *ir.Value {
	acc := vs[0]
	for _, v := range vs[1:] {
		acc = b.op("Add", nil, acc, v)
	}
	return acc
}

// zerosLike is a zero tensor of x's shape and dtype.
func (b *gradBuilder) zerosLike(x *ir.Value) *ir.Value {
	return b.op("Mul", nil, x, b.scalar(0, x))
}

// ensureOutput makes forward node n produce optional output i (Dropout's
// mask, LayerNormalization's statistics, the loss's log_prob), which a
// backward rule needs.
func (b *gradBuilder) ensureOutput(n *ir.Node, i int) *ir.Value {
	for len(n.Outputs) <= i {
		n.Outputs = append(n.Outputs, nil)
	}
	if n.Outputs[i] == nil {
		v := b.g.NewValue(fmt.Sprintf("%s_out%d", n.Name, i))
		v.Producer = n
		n.Outputs[i] = v
		if err := ir.InferNode(n); err != nil && b.err == nil {
			b.err = err
		}
	}
	return n.Outputs[i]
}
