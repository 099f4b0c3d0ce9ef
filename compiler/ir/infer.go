package ir

import (
	"fmt"
	"sort"
)

// InferFunc sets the dtype and shape of a node's outputs from its inputs. It
// returns an error only when the inputs are inconsistent (a real shape
// error); when it cannot tell, it leaves outputs without a shape.
type InferFunc func(n *Node) error

// inferRules is the explicit table of shape rules, one entry per op (the
// default domain and the ai.crsc domain alike).
var inferRules = defaultInferRules()

func defaultInferRules() map[string]InferFunc {
	inferRules := map[string]InferFunc{}
	for _, op := range []string{"Abs", "Ceil", "Floor", "Neg", "Exp", "Log", "Erf", "Tanh", "Relu", "Sigmoid",
		"Sqrt", "Reciprocal", "Sign", "Softmax", "LogSoftmax", "Hardmax", "Identity", "Gelu", "Trilu", "CumSum",
		"Sin", "Cos", "Elu", "LeakyRelu", "Softplus", "HardSigmoid", "Round", "IsNaN", "Not"} {
		inferRules[op] = sameAsInput0
	}
	inferRules["IsNaN"] = func(n *Node) error { return setFromInput(n, 0, Bool) }
	for _, op := range []string{"Add", "Sub", "Mul", "Div", "Pow", "Mod", "Max", "Min", "Sum", "Mean", "PRelu"} {
		inferRules[op] = broadcastOp(Invalid)
	}
	for _, op := range []string{"Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual", "And", "Or", "Xor"} {
		inferRules[op] = broadcastOp(Bool)
	}
	for op, fn := range map[string]InferFunc{
		"Where":                   inferWhere,
		"Cast":                    inferCast,
		"MatMul":                  inferMatMul,
		"Gemm":                    inferGemm,
		"Transpose":               inferTranspose,
		"Reshape":                 inferReshape,
		"Flatten":                 inferFlatten,
		"Unsqueeze":               inferUnsqueeze,
		"Squeeze":                 inferSqueeze,
		"Concat":                  inferConcat,
		"Gather":                  inferGather,
		"GatherElements":          func(n *Node) error { return setFromInputShape(n, 1, n.In(0).DType) },
		"Shape":                   inferShapeOp,
		"Size":                    func(n *Node) error { n.Outputs[0].SetType(Int64, Shape{}); return nil },
		"ConstantOfShape":         inferConstantOfShape,
		"Expand":                  inferExpand,
		"Slice":                   inferSlice,
		"Split":                   inferSplit,
		"Dropout":                 inferDropout,
		"LayerNormalization":      inferLayerNorm,
		"SoftmaxCrossEntropyLoss": inferSCE,
		"Range":                   inferRange,
		"Tile":                    inferTile,
		"ArgMax":                  inferArgReduce,
		"ArgMin":                  inferArgReduce,
		"Clip":                    sameAsInput0,
		"CastLike":                func(n *Node) error { return setFromInput(n, 0, n.In(1).DType) },
	} {
		inferRules[op] = fn
	}
	for _, op := range []string{"ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL2", "ReduceSumSquare", "ReduceL1", "ReduceLogSum", "ReduceLogSumExp"} {
		inferRules[op] = inferReduce
	}
	inferRules[ruleKey("com.microsoft", "Gelu")] = sameAsInput0
	inferRules[ruleKey("ai.crsc", "MatMul")] = inferMatMul
	inferRules[ruleKey("ai.crsc", "GeluGrad")] = sameAsInput0
	inferRules[ruleKey("ai.crsc", "LayerNormalization")] = inferLayerNorm
	for _, rules := range []map[string]InferFunc{gradInferRules(), sampleInferRules(), memoryInferRules(), quantInferRules()} {
		for k, v := range rules {
			inferRules[k] = v
		}
	}
	return inferRules
}

func ruleKey(domain, op string) string {
	if domain == "" {
		return op
	}
	return domain + "." + op
}

// InferShapes runs the shape rules over every node in order. Values whose
// shape the rules cannot determine are left without one.
func (g *Graph) InferShapes() error {
	for _, n := range g.Nodes {
		if err := InferNode(n); err != nil {
			return err
		}
	}
	return nil
}

// InferNode applies the rule of one node.
func InferNode(n *Node) error {
	fn, ok := inferRules[ruleKey(n.Domain, n.Op)]
	if !ok {
		return nil
	}
	for _, in := range n.Inputs {
		if in != nil && in.DType == Invalid {
			return nil // an input of unknown type: nothing to say
		}
	}
	if len(n.Outputs) == 0 || n.Outputs[0] == nil {
		return nil
	}
	if err := fn(n); err != nil {
		return fmt.Errorf("node %q (%s): %v", n.Name, n.Op, err)
	}
	propagateSym(n)
	return nil
}

func sameAsInput0(n *Node) error { return setFromInput(n, 0, Invalid) }

// setFromInput gives output 0 the shape of input i, with dtype dt (or the
// input's dtype when dt is Invalid).
func setFromInput(n *Node, i int, dt DType) error {
	in := n.In(i)
	if in == nil {
		return fmt.Errorf("missing input %d", i)
	}
	if dt == Invalid {
		dt = in.DType
	}
	n.Outputs[0].DType = dt
	if in.HasShape {
		n.Outputs[0].SetType(dt, in.Shape.Clone())
	}
	return nil
}

func setFromInputShape(n *Node, i int, dt DType) error { return setFromInput(n, i, dt) }

// shapes returns the shapes of all present inputs, ok false if any is unknown.
func shapes(n *Node) ([]Shape, bool) {
	var ss []Shape
	for _, in := range n.Inputs {
		if in == nil {
			continue
		}
		if !in.HasShape {
			return nil, false
		}
		ss = append(ss, in.Shape)
	}
	return ss, true
}

// Broadcast combines shapes under numpy rules. Unequal symbolic dims give an
// unknown dim (they may be equal at run time); unequal fixed dims are an error.
func Broadcast(ss ...Shape) (Shape, error) {
	rank := 0
	for _, s := range ss {
		if len(s) > rank {
			rank = len(s)
		}
	}
	out := make(Shape, rank)
	for i := range out {
		out[i] = Fixed(1)
	}
	for _, s := range ss {
		off := rank - len(s)
		for i, d := range s {
			o := &out[off+i]
			switch {
			case d == *o || d == Fixed(1):
			case *o == Fixed(1):
				*o = d
			case d.IsFixed() && o.IsFixed():
				return nil, fmt.Errorf("shapes %v cannot broadcast", ss)
			default:
				*o = UnknownDim
			}
		}
	}
	return out, nil
}

func broadcastOp(result DType) InferFunc {
	return func(n *Node) error {
		dt := result
		if dt == Invalid {
			dt = n.In(0).DType
		}
		n.Outputs[0].DType = dt
		ss, ok := shapes(n)
		if !ok {
			return nil
		}
		s, err := Broadcast(ss...)
		if err != nil {
			return err
		}
		n.Outputs[0].SetType(dt, s)
		return nil
	}
}

func inferWhere(n *Node) error {
	dt := n.In(1).DType
	n.Outputs[0].DType = dt
	if ss, ok := shapes(n); ok {
		s, err := Broadcast(ss...)
		if err != nil {
			return err
		}
		n.Outputs[0].SetType(dt, s)
	}
	return nil
}

func inferCast(n *Node) error {
	dt, ok := DTypeFromONNX(n.Attrs.Int("to", 0))
	if !ok {
		return fmt.Errorf("cast to unsupported type %d", n.Attrs.Int("to", 0))
	}
	return setFromInput(n, 0, dt)
}

// onnxCodes are the TensorProto.DataType numbers of crsc's dtypes: the one
// table the importer, the exporter and Cast's "to" (on both backends) read.
// Strings, complex and unsigned 16/32/64-bit types have none: crsc cannot
// compute with them.
var onnxCodes = []struct {
	code  int64
	dtype DType
}{
	{1, Float32}, {2, Uint8}, {3, Int8}, {6, Int32}, {7, Int64}, {9, Bool}, {10, Float16}, {11, Float64}, {16, BFloat16},
}

// DTypeFromONNX maps a TensorProto.DataType number (an initializer's or a
// value's element type, Cast's "to", ConstantOfShape's value) to crsc's
// dtype.
func DTypeFromONNX(t int64) (DType, bool) {
	for _, c := range onnxCodes {
		if c.code == t {
			return c.dtype, true
		}
	}
	return Invalid, false
}

// DTypeToONNX is the inverse of DTypeFromONNX (0, UNDEFINED, for a dtype
// ONNX has no number for).
func DTypeToONNX(d DType) int64 {
	for _, c := range onnxCodes {
		if c.dtype == d {
			return c.code
		}
	}
	return 0
}

func inferMatMul(n *Node) error {
	a, b := n.In(0), n.In(1)
	n.Outputs[0].DType = a.DType
	if !a.HasShape || !b.HasShape {
		return nil
	}
	as, bs := a.Shape, b.Shape
	if len(as) == 0 || len(bs) == 0 {
		return fmt.Errorf("MatMul of a scalar")
	}
	// ai.crsc.MatMul's permA/permB permute an operand's dims (read as
	// Transpose would), then transA/transB swap its last two.
	var err error
	if p := n.Attrs.Ints("permA"); p != nil {
		if as, err = permuteShape(as, p); err != nil {
			return fmt.Errorf("permA: %v", err)
		}
	}
	if p := n.Attrs.Ints("permB"); p != nil {
		if bs, err = permuteShape(bs, p); err != nil {
			return fmt.Errorf("permB: %v", err)
		}
	}
	swapLast := func(s Shape) Shape {
		s = s.Clone()
		s[len(s)-1], s[len(s)-2] = s[len(s)-2], s[len(s)-1]
		return s
	}
	if n.Attrs.Int("transA", 0) != 0 && len(as) >= 2 {
		as = swapLast(as)
	}
	if n.Attrs.Int("transB", 0) != 0 && len(bs) >= 2 {
		bs = swapLast(bs)
	}
	aVec, bVec := len(as) == 1, len(bs) == 1
	if aVec {
		as = Shape{Fixed(1), as[0]}
	}
	if bVec {
		bs = Shape{bs[0], Fixed(1)}
	}
	k1, k2 := as[len(as)-1], bs[len(bs)-2]
	if k1.IsFixed() && k2.IsFixed() && k1 != k2 {
		return fmt.Errorf("inner dims differ: %v × %v", a.Shape, b.Shape)
	}
	batch, err := Broadcast(as[:len(as)-2], bs[:len(bs)-2])
	if err != nil {
		return err
	}
	out := batch
	if !aVec {
		out = append(out, as[len(as)-2])
	}
	if !bVec {
		out = append(out, bs[len(bs)-1])
	}
	if p := n.Attrs.Ints("permY"); p != nil { // the result, permuted as it is stored
		if out, err = permuteShape(out, p); err != nil {
			return fmt.Errorf("permY: %v", err)
		}
	}
	n.Outputs[0].SetType(a.DType, out)
	return nil
}

func inferGemm(n *Node) error {
	a, b := n.In(0), n.In(1)
	n.Outputs[0].DType = a.DType
	if !a.HasShape || !b.HasShape || len(a.Shape) != 2 || len(b.Shape) != 2 {
		return nil
	}
	m, k1 := a.Shape[0], a.Shape[1]
	if n.Attrs.Int("transA", 0) != 0 {
		m, k1 = k1, m
	}
	k2, nn := b.Shape[0], b.Shape[1]
	if n.Attrs.Int("transB", 0) != 0 {
		k2, nn = nn, k2
	}
	if k1.IsFixed() && k2.IsFixed() && k1 != k2 {
		return fmt.Errorf("inner dims differ: %v × %v", a.Shape, b.Shape)
	}
	n.Outputs[0].SetType(a.DType, Shape{m, nn})
	return nil
}

func inferTranspose(n *Node) error {
	in := n.In(0)
	n.Outputs[0].DType = in.DType
	if !in.HasShape {
		return nil
	}
	perm := n.Attrs.Ints("perm")
	if perm == nil {
		for i := len(in.Shape) - 1; i >= 0; i-- {
			perm = append(perm, int64(i))
		}
	}
	out, err := permuteShape(in.Shape, perm)
	if err != nil {
		return err
	}
	n.Outputs[0].SetType(in.DType, out)
	return nil
}

// permuteShape is s with its dims in the order perm gives (dim i of the
// result is dim perm[i] of s), as Transpose permutes them.
func permuteShape(s Shape, perm []int64) (Shape, error) {
	if len(perm) != len(s) {
		return nil, fmt.Errorf("perm %v for rank %d", perm, len(s))
	}
	out := make(Shape, len(perm))
	for i, p := range perm {
		if p < 0 || int(p) >= len(s) {
			return nil, fmt.Errorf("perm %v out of range", perm)
		}
		out[i] = s[p]
	}
	return out, nil
}

// constInts returns the int64 contents of a constant input, or of a
// computed one whose symbolic contents are all fixed numbers.
func constInts(v *Value) ([]int64, bool) {
	if v == nil {
		return nil, false
	}
	if v.Init != nil {
		return v.Init.Int64s(), true
	}
	if v.Sym == nil {
		return nil, false
	}
	out := make([]int64, len(v.Sym))
	for i, d := range v.Sym {
		if !d.IsFixed() {
			return nil, false
		}
		out[i] = d.Size
	}
	return out, true
}

// axesOf reads axes from the attribute or a constant input i.
func axesOf(n *Node, name string, i int) ([]int64, bool) {
	if n.Attrs.Has(name) {
		return n.Attrs.Ints(name), true
	}
	if in := n.In(i); in != nil {
		return constInts(in)
	}
	return nil, true // absent: op default
}

func normAxis(a int64, rank int) (int, error) {
	if a < 0 {
		a += int64(rank)
	}
	if a < 0 || int(a) >= rank {
		return 0, fmt.Errorf("axis %d out of range for rank %d", a, rank)
	}
	return int(a), nil
}

func inferReshape(n *Node) error {
	in := n.In(0)
	n.Outputs[0].DType = in.DType
	dims, ok := symDims(n.In(1))
	if !ok {
		return nil
	}
	out := make(Shape, len(dims))
	target := make([]int64, len(dims))
	infer := -1
	for i, d := range dims {
		t := d.Size
		if !d.IsFixed() {
			t = -2 // symbolic: taken as is below
		}
		target[i] = t
		switch {
		case !d.IsFixed():
			out[i] = d
		case t == 0 && n.Attrs.Int("allowzero", 0) == 0:
			if !in.HasShape || i >= len(in.Shape) {
				out[i] = UnknownDim
			} else {
				out[i] = in.Shape[i]
			}
		case t == -1:
			if infer >= 0 {
				return fmt.Errorf("shape %v has two -1", target)
			}
			infer = i
		case t < -2:
			return fmt.Errorf("bad shape %v", target)
		default:
			out[i] = Fixed(t)
		}
	}
	if infer >= 0 {
		out[infer] = UnknownDim
		if in.HasShape {
			rest := Fixed(1)
			for i, d := range out {
				if i != infer {
					rest = rest.Mul(d)
				}
			}
			if q, ok := in.Shape.NumElements().Div(rest); ok {
				out[infer] = q
			}
		}
	}
	if in.HasShape {
		total, want := in.Shape.NumElements(), out.NumElements()
		if total.IsFixed() && want.IsFixed() && total != want {
			return fmt.Errorf("cannot reshape %v (%v elements) to %v", in.Shape, total, target)
		}
	}
	n.Outputs[0].SetType(in.DType, out)
	return nil
}

func inferFlatten(n *Node) error {
	in := n.In(0)
	n.Outputs[0].DType = in.DType
	if !in.HasShape {
		return nil
	}
	axis := n.Attrs.Int("axis", 1)
	if axis < 0 {
		axis += int64(len(in.Shape))
	}
	if axis < 0 || int(axis) > len(in.Shape) {
		return fmt.Errorf("axis %d out of range", axis)
	}
	n.Outputs[0].SetType(in.DType, Shape{in.Shape[:axis].NumElements(), in.Shape[axis:].NumElements()})
	return nil
}

func inferUnsqueeze(n *Node) error {
	in := n.In(0)
	n.Outputs[0].DType = in.DType
	axes, ok := axesOf(n, "axes", 1)
	if !ok || !in.HasShape {
		return nil
	}
	rank := len(in.Shape) + len(axes)
	ones := map[int]bool{}
	for _, a := range axes {
		ax, err := normAxis(a, rank)
		if err != nil {
			return err
		}
		ones[ax] = true
	}
	out := make(Shape, 0, rank)
	j := 0
	for i := 0; i < rank; i++ {
		if ones[i] {
			out = append(out, Fixed(1))
		} else {
			out = append(out, in.Shape[j])
			j++
		}
	}
	n.Outputs[0].SetType(in.DType, out)
	return nil
}

func inferSqueeze(n *Node) error {
	in := n.In(0)
	n.Outputs[0].DType = in.DType
	axes, ok := axesOf(n, "axes", 1)
	if !ok || !in.HasShape {
		return nil
	}
	drop := map[int]bool{}
	if axes == nil {
		for i, d := range in.Shape {
			if !d.IsFixed() {
				return nil // cannot tell which dims are 1
			}
			drop[i] = d == Fixed(1)
		}
	}
	for _, a := range axes {
		ax, err := normAxis(a, len(in.Shape))
		if err != nil {
			return err
		}
		if d := in.Shape[ax]; d.IsFixed() && d != Fixed(1) {
			return fmt.Errorf("cannot squeeze axis %d of size %v", ax, d)
		}
		drop[ax] = true
	}
	var out Shape
	for i, d := range in.Shape {
		if !drop[i] {
			out = append(out, d)
		}
	}
	n.Outputs[0].SetType(in.DType, append(Shape{}, out...))
	return nil
}

func inferConcat(n *Node) error {
	n.Outputs[0].DType = n.In(0).DType
	ss, ok := shapes(n)
	if !ok || len(ss) == 0 {
		return nil
	}
	axis, err := normAxis(n.Attrs.Int("axis", 0), len(ss[0]))
	if err != nil {
		return err
	}
	out := ss[0].Clone()
	for _, s := range ss[1:] {
		if len(s) != len(out) {
			return fmt.Errorf("ranks differ: %v", ss)
		}
		for i := range s {
			if i == axis {
				out[i] = addDims(out[i], s[i])
			} else if s[i].IsFixed() && out[i].IsFixed() && s[i] != out[i] {
				return fmt.Errorf("shapes %v differ off the concat axis", ss)
			}
		}
	}
	n.Outputs[0].SetType(n.In(0).DType, out)
	return nil
}

func addDims(a, b Dim) Dim {
	if a.IsFixed() && b.IsFixed() {
		return Fixed(a.Size + b.Size)
	}
	if a.Sym == b.Sym && !a.IsUnknown() && !b.IsUnknown() {
		return Dim{Size: a.Size + b.Size, Sym: a.Sym}
	}
	return UnknownDim
}

func inferGather(n *Node) error {
	data, idx := n.In(0), n.In(1)
	n.Outputs[0].DType = data.DType
	if !data.HasShape || !idx.HasShape {
		return nil
	}
	axis, err := normAxis(n.Attrs.Int("axis", 0), len(data.Shape))
	if err != nil {
		return err
	}
	out := append(append(data.Shape[:axis].Clone(), idx.Shape...), data.Shape[axis+1:]...)
	n.Outputs[0].SetType(data.DType, out)
	return nil
}

func inferShapeOp(n *Node) error {
	in := n.In(0)
	n.Outputs[0].DType = Int64
	if !in.HasShape {
		n.Outputs[0].SetType(Int64, Shape{UnknownDim})
		return nil
	}
	r := int64(len(in.Shape))
	start, end := clampRange(n.Attrs.Int("start", 0), n.Attrs.Int("end", r), r)
	n.Outputs[0].SetType(Int64, Shape{Fixed(max(end-start, 0))})
	return nil
}

func clampRange(start, end, r int64) (int64, int64) {
	if start < 0 {
		start += r
	}
	if end < 0 {
		end += r
	}
	return min(max(start, 0), r), min(max(end, 0), r)
}

func inferConstantOfShape(n *Node) error {
	dt := Float32
	if t := n.Attrs.Tensor("value"); t != nil {
		dt = t.DType
	}
	n.Outputs[0].DType = dt
	if dims, ok := symDims(n.In(0)); ok {
		n.Outputs[0].SetType(dt, append(Shape{}, dims...))
	} else if in := n.In(0); in.HasShape && len(in.Shape) == 1 && in.Shape[0].IsFixed() {
		s := make(Shape, in.Shape[0].Size)
		for i := range s {
			s[i] = UnknownDim
		}
		n.Outputs[0].SetType(dt, s)
	}
	return nil
}

func inferExpand(n *Node) error {
	in := n.In(0)
	n.Outputs[0].DType = in.DType
	dims, ok := symDims(n.In(1))
	if !ok || !in.HasShape {
		return nil
	}
	s, err := Broadcast(in.Shape, append(Shape{}, dims...))
	if err != nil {
		return err
	}
	n.Outputs[0].SetType(in.DType, s)
	return nil
}

func inferSlice(n *Node) error {
	in := n.In(0)
	n.Outputs[0].DType = in.DType
	if !in.HasShape {
		return nil
	}
	starts, ok1 := symDims(n.In(1))
	ends, ok2 := symDims(n.In(2))
	if !ok1 || !ok2 || len(starts) != len(ends) {
		return nil
	}
	axes, ok := constInts(n.In(3))
	if n.In(3) == nil {
		axes, ok = nil, true
		for i := range starts {
			axes = append(axes, int64(i))
		}
	}
	steps, okS := constInts(n.In(4))
	if n.In(4) == nil {
		okS = true
	}
	if !ok || !okS || len(axes) != len(starts) {
		return nil
	}
	out := in.Shape.Clone()
	for i, a := range axes {
		ax, err := normAxis(a, len(out))
		if err != nil {
			return err
		}
		step := int64(1)
		if steps != nil {
			step = steps[i]
		}
		d, start, end := in.Shape[ax], starts[i], ends[i]
		switch {
		case d.IsFixed() && start.IsFixed() && end.IsFixed():
			out[ax] = Fixed(SliceLen(start.Size, end.Size, step, d.Size))
		case start == Fixed(0) && step == 1 && end.IsFixed() && end.Size >= 1<<31-1:
			// [0:end-of-axis] keeps a symbolic axis as it is.
		case start == Fixed(0) && step == 1 && !end.IsFixed() && !end.IsUnknown():
			// position_ids[:, :seq]: a symbolic end is a length that fits
			// the axis (BERT's positions table is longer than any input).
			out[ax] = end
		default:
			out[ax] = UnknownDim
		}
	}
	n.Outputs[0].SetType(in.DType, out)
	return nil
}

// SliceLen is the length of ONNX Slice over an axis of size dim, after
// clamping start and end the way the spec does.
func SliceLen(start, end, step, dim int64) int64 {
	if step == 0 {
		return 0
	}
	if start < 0 {
		start += dim
	}
	if end < 0 {
		end += dim
	}
	if step > 0 {
		start, end = min(max(start, 0), dim), min(max(end, 0), dim)
		if end <= start {
			return 0
		}
		return (end - start + step - 1) / step
	}
	start, end = min(max(start, 0), dim-1), min(max(end, -1), dim-1)
	if start <= end {
		return 0
	}
	return (start - end - step - 1) / -step
}

func inferSplit(n *Node) error {
	in := n.In(0)
	for _, o := range n.Outputs {
		if o != nil {
			o.DType = in.DType
		}
	}
	if !in.HasShape {
		return nil
	}
	axis, err := normAxis(n.Attrs.Int("axis", 0), len(in.Shape))
	if err != nil {
		return err
	}
	sizes, ok := axesOf(n, "split", 1)
	if !ok {
		return nil
	}
	d := in.Shape[axis]
	if sizes == nil {
		if !d.IsFixed() {
			return nil
		}
		k := int64(len(n.Outputs))
		per := (d.Size + k - 1) / k
		for i := int64(0); i < k; i++ {
			sizes = append(sizes, min(per, d.Size-i*per))
		}
	}
	if len(sizes) != len(n.Outputs) {
		return fmt.Errorf("%d split sizes for %d outputs", len(sizes), len(n.Outputs))
	}
	for i, o := range n.Outputs {
		if o == nil {
			continue
		}
		s := in.Shape.Clone()
		s[axis] = Fixed(sizes[i])
		o.SetType(in.DType, s)
	}
	return nil
}

func inferDropout(n *Node) error {
	if err := sameAsInput0(n); err != nil {
		return err
	}
	if len(n.Outputs) > 1 && n.Outputs[1] != nil {
		in := n.In(0)
		n.Outputs[1].DType = Bool
		if in.HasShape {
			n.Outputs[1].SetType(Bool, in.Shape.Clone())
		}
	}
	return nil
}

func inferLayerNorm(n *Node) error {
	if err := sameAsInput0(n); err != nil {
		return err
	}
	in := n.In(0)
	for _, o := range n.Outputs[1:] {
		if o == nil {
			continue
		}
		o.DType = Float32
		if in.HasShape {
			axis, err := normAxis(n.Attrs.Int("axis", -1), len(in.Shape))
			if err != nil {
				return err
			}
			s := in.Shape.Clone()
			for i := axis; i < len(s); i++ {
				s[i] = Fixed(1)
			}
			o.SetType(Float32, s)
		}
	}
	return nil
}

func inferSCE(n *Node) error {
	scores := n.In(0)
	n.Outputs[0].DType = scores.DType
	if n.Attrs.String("reduction", "mean") != "none" {
		n.Outputs[0].SetType(scores.DType, Shape{})
	} else if labels := n.In(1); labels.HasShape {
		n.Outputs[0].SetType(scores.DType, labels.Shape.Clone())
	}
	if len(n.Outputs) > 1 && n.Outputs[1] != nil {
		n.Outputs[1].DType = scores.DType
		if scores.HasShape {
			n.Outputs[1].SetType(scores.DType, scores.Shape.Clone())
		}
	}
	return nil
}

func inferRange(n *Node) error {
	dt := n.In(0).DType
	n.Outputs[0].DType = dt
	n.Outputs[0].SetType(dt, Shape{UnknownDim})
	start, ok1 := symDims(n.In(0))
	limit, ok2 := symDims(n.In(1))
	delta, ok3 := symDims(n.In(2))
	if ok1 && ok2 && ok3 && len(start) == 1 && len(limit) == 1 && len(delta) == 1 &&
		start[0] == Fixed(0) && delta[0] == Fixed(1) && !limit[0].IsUnknown() {
		n.Outputs[0].SetType(dt, Shape{limit[0]}) // range(0, n) has n elements, symbolic or not
	}
	if n.In(0).IsConst() && n.In(1).IsConst() && n.In(2).IsConst() {
		start, limit, delta := n.In(0).Init.Float64At(0), n.In(1).Init.Float64At(0), n.In(2).Init.Float64At(0)
		if delta != 0 {
			cnt := int64(0)
			if q := (limit - start) / delta; q > 0 {
				cnt = int64(q)
				if float64(cnt) < q {
					cnt++
				}
			}
			n.Outputs[0].SetType(dt, Shape{Fixed(cnt)})
		}
	}
	return nil
}

func inferTile(n *Node) error {
	in := n.In(0)
	n.Outputs[0].DType = in.DType
	reps, ok := symDims(n.In(1))
	if !ok || !in.HasShape || len(reps) != len(in.Shape) {
		return nil
	}
	out := make(Shape, len(reps))
	for i, r := range reps {
		out[i] = in.Shape[i].Mul(r)
	}
	n.Outputs[0].SetType(in.DType, out)
	return nil
}

func inferArgReduce(n *Node) error {
	in := n.In(0)
	n.Outputs[0].DType = Int64
	if !in.HasShape {
		return nil
	}
	axis, err := normAxis(n.Attrs.Int("axis", 0), len(in.Shape))
	if err != nil {
		return err
	}
	out := in.Shape.Clone()
	if n.Attrs.Int("keepdims", 1) != 0 {
		out[axis] = Fixed(1)
	} else {
		out = append(out[:axis], out[axis+1:]...)
	}
	n.Outputs[0].SetType(Int64, out)
	return nil
}

func inferReduce(n *Node) error {
	in := n.In(0)
	n.Outputs[0].DType = in.DType
	axes, ok := axesOf(n, "axes", 1)
	if !ok || !in.HasShape {
		return nil
	}
	if len(axes) == 0 && n.Attrs.Int("noop_with_empty_axes", 0) != 0 {
		n.Outputs[0].SetType(in.DType, in.Shape.Clone())
		return nil
	}
	reduce := map[int]bool{}
	for _, a := range axes {
		ax, err := normAxis(a, len(in.Shape))
		if err != nil {
			return err
		}
		reduce[ax] = true
	}
	keep := n.Attrs.Int("keepdims", 1) != 0
	var out Shape
	for i, d := range in.Shape {
		switch {
		case len(axes) > 0 && !reduce[i]:
			out = append(out, d)
		case keep:
			out = append(out, Fixed(1))
		}
	}
	n.Outputs[0].SetType(in.DType, append(Shape{}, out...))
	return nil
}

// KnownOps lists the ops with a shape rule (for diagnostics).
func KnownOps() []string {
	var ops []string
	for k := range inferRules {
		ops = append(ops, k)
	}
	sort.Strings(ops)
	return ops
}
