package ir

// Symbolic values: exports compute shapes at run time (Shape → Gather →
// Unsqueeze → Concat → Reshape). Tracking the elements of those small integer
// tensors as dims lets shape inference give every activation a symbolic
// shape ([batch, seq, 768]) before any --shape binds the inputs.

// maxSymLen bounds the tensors tracked: shape vectors are short.
const maxSymLen = 16

// symDims returns v's elements as dims: fixed for constants, symbolic for
// values computed from shapes.
func symDims(v *Value) ([]Dim, bool) {
	if v == nil {
		return nil, false
	}
	if v.Init != nil {
		if !v.Init.DType.IsInt() || v.Init.Len() > maxSymLen {
			return nil, false
		}
		vals := v.Init.Int64s()
		dims := make([]Dim, len(vals))
		for i, x := range vals {
			dims[i] = Fixed(x)
		}
		return dims, true
	}
	return v.Sym, v.Sym != nil
}

// propagateSym computes the symbolic contents of n's first output when its
// inputs have them. Each op's rule returns nil when the contents are not
// known, which leaves out.Sym unset.
func propagateSym(n *Node) {
	out := n.Outputs[0]
	if n.Domain != "" || out == nil || !(out.DType.IsInt() || out.DType == Bool) {
		return
	}
	out.Sym = nil
	switch n.Op {
	case "Shape":
		out.Sym = symShape(n)
	case "Identity", "Cast", "Unsqueeze", "Squeeze", "Reshape", "Flatten":
		out.Sym = symCopy(n, out)
	case "Gather":
		out.Sym = symGather(n)
	case "Concat":
		out.Sym = symConcat(n)
	case "Slice":
		out.Sym = symSlice(n)
	case "Add", "Sub", "Mul", "Div", "Equal", "Where":
		propagateArith(n, out)
	case "ConstantOfShape":
		out.Sym = symFill(n, out)
	}
	if len(out.Sym) > maxSymLen {
		out.Sym = nil
	}
}

// symShape is the input's shape, or its [start, end) part (opset 15).
func symShape(n *Node) []Dim {
	in := n.In(0)
	if !in.HasShape {
		return nil
	}
	r := int64(len(in.Shape))
	start, end := clampRange(n.Attrs.Int("start", 0), n.Attrs.Int("end", r), r)
	if end > start {
		return in.Shape[start:end].Clone()
	}
	return []Dim{}
}

// symCopy passes the elements through ops that keep them (reshaping a
// vector does not change its elements); a Cast keeps them only between
// integer types.
func symCopy(n *Node, out *Value) []Dim {
	a, ok := symDims(n.In(0))
	if ok && out.DType.IsInt() && (n.Op != "Cast" || n.In(0).DType.IsInt()) {
		return append([]Dim{}, a...)
	}
	return nil
}

// symGather picks elements by constant indices along axis 0, as exports
// do to take one dimension of a shape.
func symGather(n *Node) []Dim {
	a, okA := symDims(n.In(0))
	idx, okI := constInts(n.In(1))
	if !okA || !okI || n.Attrs.Int("axis", 0) != 0 {
		return nil
	}
	var dims []Dim
	for _, i := range idx {
		if i < 0 {
			i += int64(len(a))
		}
		if i < 0 || int(i) >= len(a) {
			return nil
		}
		dims = append(dims, a[i])
	}
	return dims
}

// symConcat joins the inputs' elements when every input has them.
func symConcat(n *Node) []Dim {
	var dims []Dim
	for _, in := range n.Inputs {
		d, ok := symDims(in)
		if !ok {
			return nil
		}
		dims = append(dims, d...)
	}
	return dims
}

// symSlice handles a one-axis slice with constant bounds and unit step.
func symSlice(n *Node) []Dim {
	a, okA := symDims(n.In(0))
	starts, ok1 := constInts(n.In(1))
	ends, ok2 := constInts(n.In(2))
	if !okA || !ok1 || !ok2 || len(starts) != 1 || n.In(4) != nil {
		return nil
	}
	lo, hi := clampRange(starts[0], min(ends[0], int64(len(a))), int64(len(a)))
	if hi >= lo {
		return append([]Dim{}, a[lo:hi]...)
	}
	return nil
}

// symFill is a short constant vector filled with the value attribute (0 by
// default), when its length is fixed.
func symFill(n *Node, out *Value) []Dim {
	shape := out.Shape
	t := n.Attrs.Tensor("value")
	if !out.HasShape || len(shape) != 1 || !shape[0].IsFixed() || shape[0].Size > maxSymLen {
		return nil
	}
	fill := int64(0)
	if t != nil && t.Len() == 1 {
		fill = int64(t.Float64At(0))
	}
	dims := make([]Dim, shape[0].Size)
	for i := range dims {
		dims[i] = Fixed(fill)
	}
	return dims
}

// propagateArith handles elementwise integer arithmetic and selection on
// shape vectors, broadcasting a single element against a vector.
func propagateArith(n *Node, out *Value) {
	var ins [][]Dim
	size := 1
	for _, in := range n.Inputs {
		d, ok := symDims(in)
		if !ok || (len(d) != 1 && size != 1 && len(d) != size) {
			return
		}
		size = max(size, len(d))
		ins = append(ins, d)
	}
	at := func(d []Dim, i int) Dim {
		if len(d) == 1 {
			return d[0]
		}
		return d[i]
	}
	dims := make([]Dim, size)
	for i := range dims {
		x, y := at(ins[0], i), at(ins[1], i)
		switch n.Op {
		case "Mul":
			dims[i] = x.Mul(y)
		case "Div":
			q, ok := x.Div(y)
			if !ok {
				return
			}
			dims[i] = q
		case "Add", "Sub":
			if !x.IsFixed() || !y.IsFixed() {
				if y == Fixed(0) {
					dims[i] = x
					continue
				}
				return
			}
			if n.Op == "Add" {
				dims[i] = Fixed(x.Size + y.Size)
			} else {
				dims[i] = Fixed(x.Size - y.Size)
			}
		case "Equal":
			switch {
			case x.IsFixed() && y.IsFixed():
				dims[i] = boolDim(x == y)
			case x == y && !x.IsUnknown():
				dims[i] = boolDim(true)
			case (x.IsFixed() && x.Size <= 0) || (y.IsFixed() && y.Size <= 0):
				dims[i] = boolDim(false) // a symbolic dim is a positive length
			default:
				return
			}
		case "Where":
			c := x
			if !c.IsFixed() {
				return
			}
			if c.Size != 0 {
				dims[i] = y
			} else {
				dims[i] = at(ins[2], i)
			}
		}
	}
	out.Sym = dims
}

func boolDim(b bool) Dim {
	if b {
		return Fixed(1)
	}
	return Fixed(0)
}
