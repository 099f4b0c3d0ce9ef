package passes_test

import (
	"math"
	"math/rand"
	"testing"

	"crsc/compiler/ir"
	"crsc/compiler/passes"
	"crsc/internal/testutil"
	"crsc/runtime"
)

// gradSeed is logged so a failing draw can be reproduced.
const gradSeed = 20261127

// operand describes one input of the op under test.
type operand struct {
	shape []int
	dtype ir.DType // Float32 (trained) unless set
	ints  []int64  // fixed integer data (indices, labels)
	bools []bool
	away  float64 // keep |x| ≥ away from 0 (kinks of Relu/Abs)
	pos   bool    // strictly positive (Log, Sqrt, Pow bases)
	value float32 // the value of a scalar float constant (shape nil)
}

func scalar(v float32) operand { return operand{dtype: ir.Float32, value: v} }

type gradCase struct {
	name  string
	op    string
	attrs ir.Attrs
	ins   []operand
	nOut  int
}

func f(shape ...int) operand { return operand{shape: shape} }

func gradCases() []gradCase {
	lbl := operand{shape: []int{4}, dtype: ir.Int64, ints: []int64{0, 2, -100, 1}}
	return []gradCase{
		{"add broadcast", "Add", nil, []operand{f(2, 3), f(3)}, 1},
		{"sub broadcast both", "Sub", nil, []operand{f(2, 1, 3), f(4, 1)}, 1},
		{"mul broadcast", "Mul", nil, []operand{f(2, 3, 4), f(1, 3, 1)}, 1},
		{"div", "Div", nil, []operand{f(3, 4), {shape: []int{4}, pos: true}}, 1},
		{"pow square", "Pow", nil, []operand{f(3, 4), scalar(2)}, 1},
		{"pow both", "Pow", nil, []operand{{shape: []int{3, 4}, pos: true}, f(4)}, 1},
		{"sqrt", "Sqrt", nil, []operand{{shape: []int{5}, pos: true}}, 1},
		{"reciprocal", "Reciprocal", nil, []operand{{shape: []int{5}, pos: true}}, 1},
		{"neg", "Neg", nil, []operand{f(5)}, 1},
		{"abs", "Abs", nil, []operand{{shape: []int{5}, away: 0.1}}, 1},
		{"exp", "Exp", nil, []operand{f(2, 3)}, 1},
		{"log", "Log", nil, []operand{{shape: []int{2, 3}, pos: true}}, 1},
		{"erf", "Erf", nil, []operand{f(2, 3)}, 1},
		{"tanh", "Tanh", nil, []operand{f(2, 3)}, 1},
		{"sigmoid", "Sigmoid", nil, []operand{f(2, 3)}, 1},
		{"relu", "Relu", nil, []operand{{shape: []int{2, 5}, away: 0.1}}, 1},
		{"gelu", "Gelu", nil, []operand{f(2, 5)}, 1},
		{"softmax last", "Softmax", ir.Attrs{"axis": ir.IntAttr(-1)}, []operand{f(2, 3, 4)}, 1},
		{"softmax axis 1", "Softmax", ir.Attrs{"axis": ir.IntAttr(1)}, []operand{f(2, 3, 4)}, 1},
		{"log softmax", "LogSoftmax", ir.Attrs{"axis": ir.IntAttr(-1)}, []operand{f(3, 5)}, 1},
		{"matmul linear", "MatMul", nil, []operand{f(2, 3, 4), f(4, 5)}, 1},
		{"matmul batched broadcast", "MatMul", nil, []operand{f(2, 1, 3, 4), f(3, 4, 2)}, 1},
		{"gemm", "Gemm", nil, []operand{f(3, 4), f(4, 2), f(2)}, 1},
		{"gemm transB alpha beta", "Gemm", ir.Attrs{"transB": ir.IntAttr(1), "alpha": ir.FloatAttr(0.5), "beta": ir.FloatAttr(2)}, []operand{f(3, 4), f(2, 4), f(3, 1)}, 1},
		{"gemm transA", "Gemm", ir.Attrs{"transA": ir.IntAttr(1)}, []operand{f(4, 3), f(4, 2)}, 1},
		{"gemm transA transB", "Gemm", ir.Attrs{"transA": ir.IntAttr(1), "transB": ir.IntAttr(1)}, []operand{f(4, 3), f(2, 4)}, 1},
		{"transpose", "Transpose", ir.Attrs{"perm": ir.IntsAttr(2, 0, 1)}, []operand{f(2, 3, 4)}, 1},
		{"reshape", "Reshape", nil, []operand{f(2, 3, 4), {shape: []int{2}, dtype: ir.Int64, ints: []int64{-1, 6}}}, 1},
		{"flatten", "Flatten", ir.Attrs{"axis": ir.IntAttr(2)}, []operand{f(2, 3, 4)}, 1},
		{"unsqueeze", "Unsqueeze", ir.Attrs{"axes": ir.IntsAttr(0, 3)}, []operand{f(2, 3)}, 1},
		{"squeeze", "Squeeze", ir.Attrs{"axes": ir.IntsAttr(1)}, []operand{f(2, 1, 3)}, 1},
		{"expand", "Expand", nil, []operand{f(3, 1), {shape: []int{3}, dtype: ir.Int64, ints: []int64{2, 3, 4}}}, 1},
		{"concat", "Concat", ir.Attrs{"axis": ir.IntAttr(1)}, []operand{f(2, 3), f(2, 2)}, 1},
		{"split", "Split", ir.Attrs{"axis": ir.IntAttr(1), "split": ir.IntsAttr(1, 3)}, []operand{f(2, 4)}, 2},
		{"slice negative step", "Slice", nil, []operand{f(4, 5),
			{shape: []int{2}, dtype: ir.Int64, ints: []int64{3, -1}}, {shape: []int{2}, dtype: ir.Int64, ints: []int64{0, -6}},
			{shape: []int{2}, dtype: ir.Int64, ints: []int64{0, 1}}, {shape: []int{2}, dtype: ir.Int64, ints: []int64{-1, -2}}}, 1},
		{"gather rows with repeats", "Gather", nil, []operand{f(5, 3), {shape: []int{2, 3}, dtype: ir.Int64, ints: []int64{0, 4, 0, -1, 2, 2}}}, 1},
		{"gather axis 1", "Gather", ir.Attrs{"axis": ir.IntAttr(1)}, []operand{f(2, 4, 3), {shape: []int{2}, dtype: ir.Int64, ints: []int64{3, 1}}}, 1},
		{"where", "Where", nil, []operand{{shape: []int{2, 3}, dtype: ir.Bool, bools: []bool{true, false, true, false, false, true}}, f(2, 3), f(3)}, 1},
		{"min", "Min", nil, []operand{f(3, 4), f(4)}, 1},
		{"max", "Max", nil, []operand{f(3, 4), f(3, 1)}, 1},
		{"clip", "Clip", nil, []operand{f(3, 4), scalar(-0.5), scalar(0.5)}, 1},
		{"dropout training", "Dropout", nil, []operand{f(4, 5), scalar(0.3), {dtype: ir.Bool, bools: []bool{true}}}, 1},
		{"dropout eval", "Dropout", nil, []operand{f(4, 5), scalar(0.3)}, 1},
		{"reduce sum", "ReduceSum", ir.Attrs{"axes": ir.IntsAttr(1), "keepdims": ir.IntAttr(0)}, []operand{f(2, 3, 4)}, 1},
		{"reduce mean keepdims", "ReduceMean", ir.Attrs{"axes": ir.IntsAttr(-1)}, []operand{f(2, 3, 4)}, 1},
		{"reduce mean all", "ReduceMean", ir.Attrs{"keepdims": ir.IntAttr(0)}, []operand{f(2, 3)}, 1},
		{"layer norm", "LayerNormalization", ir.Attrs{"axis": ir.IntAttr(-1), "epsilon": ir.FloatAttr(1e-5)}, []operand{f(2, 3, 6), f(6), f(6)}, 1},
		{"layer norm axis 1", "LayerNormalization", ir.Attrs{"axis": ir.IntAttr(1)}, []operand{f(2, 3, 4), f(3, 4), f(3, 4)}, 1},
		{"cross entropy mean ignore", "SoftmaxCrossEntropyLoss", ir.Attrs{"reduction": ir.StringAttr("mean"), "ignore_index": ir.IntAttr(-100)}, []operand{f(4, 3), lbl}, 1},
		{"cross entropy sum 3d", "SoftmaxCrossEntropyLoss", ir.Attrs{"reduction": ir.StringAttr("sum")}, []operand{f(2, 3, 4), {shape: []int{2, 4}, dtype: ir.Int64, ints: []int64{0, 1, 2, 0, 1, 1, 2, 2}}}, 1},
		{"identity", "Identity", nil, []operand{f(3)}, 1},
	}
}

// TestGradCheck compares every rule with central differences of the
// forward kernels in float32 (step 1e-3, max error 1.5e-2 relative to
// max(1, |derivative|): ONNX Runtime's gradient-checker settings).
func TestGradCheck(t *testing.T) {
	t.Logf("random inputs from seed %d", gradSeed)
	r := rand.New(rand.NewSource(gradSeed))
	for _, tc := range gradCases() {
		t.Run(tc.name, func(t *testing.T) { checkGrad(t, r, tc) })
	}
}

func checkGrad(t *testing.T, r *rand.Rand, tc gradCase) {
	g := ir.NewGraph(tc.name, 17)
	var ins []*ir.Value
	for i, o := range tc.ins {
		var tensor *ir.Tensor
		switch {
		case o.dtype == ir.Int64:
			tensor = ir.FromInt64(o.shape, append([]int64{}, o.ints...))
		case o.dtype == ir.Bool:
			tensor = &ir.Tensor{DType: ir.Bool, Shape: o.shape, Bool: o.bools}
		case o.shape == nil && o.dtype == ir.Float32:
			tensor = ir.ScalarF32(o.value)
		default:
			tensor = ir.NewTensor(ir.Float32, o.shape...)
			for j := range tensor.F32 {
				x := r.NormFloat64()
				if o.pos {
					x = 0.5 + math.Abs(x)
				}
				if math.Abs(x) < o.away {
					x = math.Copysign(o.away+math.Abs(x), x)
				}
				tensor.F32[j] = float32(x)
			}
		}
		ins = append(ins, g.AddInit(string(rune('a'+i)), tensor))
	}
	n := g.AddNode(tc.op, tc.op, ins, tc.nOut, tc.attrs)
	if tc.op == "Dropout" {
		n.Outputs = n.Outputs[:1]
	}
	// Several outputs (Split) are joined so one VJP covers them all.
	out := n.Outputs[0]
	if tc.nOut > 1 {
		out = g.AddNode("Concat", "join", n.Outputs, 1, ir.Attrs{"axis": ir.IntAttr(1)}).Outputs[0]
	}
	out.Name = "y"
	g.Outputs = []*ir.Value{out}
	if err := g.InferShapes(); err != nil {
		t.Fatal(err)
	}
	trained, err := trainedParams(g, passes.TrainingSpec{Loss: passes.LossSpec{Kind: passes.LossVJP, Output: "y"}})
	if err != nil {
		t.Fatal(err)
	}
	dims, ok := out.Shape.Ints()
	if !ok {
		t.Fatalf("output shape %s not static", ir.TypeString(out))
	}
	cot := ir.NewTensor(ir.Float32, dims...)
	for j := range cot.F32 {
		cot.F32[j] = float32(r.NormFloat64())
	}
	feeds := map[string]*ir.Tensor{"y_cotangent": cot}
	res := testutil.Run(t, g, feeds, runtime.Options{})
	loss := func() float64 {
		res := testutil.Run(t, g, feeds, runtime.Options{})
		return res["loss"].Float64At(0)
	}
	const h = 1e-3
	for _, pg := range trained {
		p, grad := pg.Param.Init, res[pg.Grad.Name]
		if grad.Len() != p.Len() {
			t.Fatalf("%s: gradient has %v elements for a %v parameter", pg.Param.Name, grad.Shape, p.Shape)
		}
		for j := range p.F32 {
			orig := p.F32[j]
			p.F32[j] = orig + h
			up := loss()
			p.F32[j] = orig - h
			down := loss()
			p.F32[j] = orig
			fd := (up - down) / (2 * h)
			an := grad.Float64At(j)
			if math.Abs(fd-an) > 1.5e-2*math.Max(1, math.Abs(fd)) {
				t.Errorf("%s[%d]: analytic %.5g, finite difference %.5g", pg.Param.Name, j, an, fd)
			}
		}
	}
}
