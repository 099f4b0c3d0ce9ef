package gpu

import (
	"fmt"
	"math/rand/v2"

	"crsc/compiler/ir"
)

// Test-input builders for Cases: fixed seeds, small shapes (≤ 4k
// elements), so a case fails the same way every time.

// caseRand is the generator of case number seed.
func caseRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15)) }

// randF32 is uniform in [lo, hi).
func randF32(seed uint64, lo, hi float32, shape ...int) *ir.Tensor {
	r := caseRand(seed)
	t := ir.NewTensor(ir.Float32, shape...)
	for i := range t.F32 {
		t.F32[i] = lo + (hi-lo)*r.Float32()
	}
	return t
}

// randI64 is uniform in [lo, hi].
func randI64(seed uint64, lo, hi int64, shape ...int) *ir.Tensor {
	r := caseRand(seed)
	t := ir.NewTensor(ir.Int64, shape...)
	for i := range t.I64 {
		t.I64[i] = lo + r.Int64N(hi-lo+1)
	}
	return t
}

func randI32(seed uint64, lo, hi int64, shape ...int) *ir.Tensor {
	r := caseRand(seed)
	t := ir.NewTensor(ir.Int32, shape...)
	for i := range t.I32 {
		t.I32[i] = int32(lo + r.Int64N(hi-lo+1))
	}
	return t
}

func randBool(seed uint64, shape ...int) *ir.Tensor {
	r := caseRand(seed)
	t := ir.NewTensor(ir.Bool, shape...)
	for i := range t.Bool {
		t.Bool[i] = r.IntN(2) == 1
	}
	return t
}

func i64s(v ...int64) *ir.Tensor { return ir.FromInt64([]int{len(v)}, v) }

// caseNode builds a node with nIn inputs and nOut outputs (values named
// after the node; Split reads its output count).
func caseNode(op string, attrs ir.Attrs, nIn, nOut int) *ir.Node {
	domain := ""
	if op == "ai.crsc.MatMul" {
		domain, op = "ai.crsc", "MatMul"
	}
	n := &ir.Node{Name: "case_" + op, Op: op, Domain: domain, Attrs: attrs}
	if n.Attrs == nil {
		n.Attrs = ir.Attrs{}
	}
	for i := 0; i < nIn; i++ {
		n.Inputs = append(n.Inputs, &ir.Value{Name: fmt.Sprintf("in%d", i)})
	}
	for i := 0; i < nOut; i++ {
		n.Outputs = append(n.Outputs, &ir.Value{Name: fmt.Sprintf("out%d", i), Producer: n})
	}
	return n
}

// mk is a Case of op over the inputs with one output.
func mk(name, op string, attrs ir.Attrs, tol float64, ins ...*ir.Tensor) Case {
	return Case{Name: name, Node: caseNode(op, attrs, len(ins), 1), Inputs: ins, Tol: tol}
}

// mkN is mk with nOut outputs.
func mkN(name, op string, attrs ir.Attrs, nOut int, ins ...*ir.Tensor) Case {
	return Case{Name: name, Node: caseNode(op, attrs, len(ins), nOut), Inputs: ins}
}

func ints(v ...int64) *ir.Attr { return ir.IntsAttr(v...) }
func intA(v int64) *ir.Attr    { return ir.IntAttr(v) }

// coreCases are the checks of the generic ops (coreKernels).
func coreCases() []Case {
	const tol = 1e-5
	x := func(seed uint64, shape ...int) *ir.Tensor { return randF32(seed, -2, 2, shape...) }
	pos := func(seed uint64, shape ...int) *ir.Tensor { return randF32(seed, 0.1, 3, shape...) }
	var cs []Case
	for i, op := range []string{"Abs", "Neg", "Exp", "Tanh", "Erf", "Relu", "Ceil", "Floor", "Sign"} {
		cs = append(cs, mk(op, op, nil, tol, x(uint64(10+i), 3, 5, 7)))
	}
	for i, op := range []string{"Sqrt", "Reciprocal", "Log"} {
		cs = append(cs, mk(op, op, nil, tol, pos(uint64(20+i), 4, 33)))
	}
	cs = append(cs,
		mk("Sigmoid wide range", "Sigmoid", nil, tol, randF32(30, -20, 20, 2, 300)),
		mk("Abs i64", "Abs", nil, 0, randI64(31, -50, 50, 6, 7)),
		mk("Neg i32", "Neg", nil, 0, randI32(32, -50, 50, 41)),
		mk("Relu i64", "Relu", nil, 0, randI64(33, -5, 5, 3, 3)),

		mk("Add broadcast row", "Add", nil, tol, x(40, 2, 3, 4), x(41, 4)),
		mk("Sub bidirectional", "Sub", nil, tol, x(42, 3, 1, 5), x(43, 1, 4, 5)),
		mk("Mul scalar", "Mul", nil, tol, x(44), x(45, 4, 5)),
		mk("Div column", "Div", nil, tol, x(46, 2, 3, 6), pos(47, 2, 1, 6)),
		mk("Add i64", "Add", nil, 0, randI64(48, -9, 9, 3, 4), randI64(49, -9, 9, 1)),
		mk("Mul i32 broadcast", "Mul", nil, 0, randI32(50, -9, 9, 2, 1, 3), randI32(51, -9, 9, 4, 1)),
		mk("Sub i64 rank 6", "Sub", nil, 0, randI64(52, -9, 9, 2, 1, 3, 1, 2, 2), randI64(53, -9, 9, 1, 2, 1, 2)),
		mk("Div i64 falls back", "Div", nil, 0, randI64(54, -20, 20, 5), randI64(55, 1, 4, 5)),
		mk("Max of three", "Max", nil, tol, x(56, 3, 4), x(57, 4), x(58, 3, 1)),
		mk("Min pair", "Min", nil, tol, x(59, 2, 5), x(60, 2, 1)),
		mk("Sum single", "Sum", nil, tol, x(61, 7)),
		mk("Sum i64 pair", "Sum", nil, 0, randI64(62, -9, 9, 4), randI64(63, -9, 9, 3, 1)),
		mk("Pow square", "Pow", nil, tol, x(64, 3, 8), ir.ScalarF32(2)),
		mk("Pow cube", "Pow", nil, tol, x(65, 3, 8), ir.ScalarF32(3)),
		mk("Pow sqrt", "Pow", nil, tol, pos(66, 3, 8), ir.ScalarF32(0.5)),
		mk("Pow broadcast exponents", "Pow", nil, 1e-5, pos(67, 3, 4), randF32(68, -2, 2, 4)),
		mk("Pow int exponent falls back", "Pow", nil, tol, x(69, 3, 4), i64s(2)),

		mk("Equal i64", "Equal", nil, 0, randI64(70, 0, 3, 4, 5), randI64(71, 0, 3, 5)),
		mk("Less f32 broadcast", "Less", nil, 0, x(72, 3, 1, 4), x(73, 2, 4)),
		mk("Greater f32", "Greater", nil, 0, x(74, 3, 4), x(75, 3, 4)),
		mk("LessOrEqual i32", "LessOrEqual", nil, 0, randI32(76, 0, 3, 6), randI32(77, 0, 3, 2, 1)),
		mk("GreaterOrEqual i64", "GreaterOrEqual", nil, 0, randI64(78, 0, 3, 6), randI64(79, 0, 3, 6)),
		mk("Equal bool", "Equal", nil, 0, randBool(80, 3, 4), randBool(81, 4)),
		mk("And", "And", nil, 0, randBool(82, 3, 4), randBool(83, 3, 1)),
		mk("Or", "Or", nil, 0, randBool(84, 2, 3, 4), randBool(85, 4)),
		mk("Xor", "Xor", nil, 0, randBool(86, 5), randBool(87, 5)),
		mk("Not", "Not", nil, 0, randBool(88, 3, 7)),
		mk("Where f32", "Where", nil, 0, randBool(89, 3, 1), x(90, 1, 4), x(91, 3, 4)),
		mk("Where i64", "Where", nil, 0, randBool(92, 2, 3, 4), randI64(93, -5, 5, 4), randI64(94, -5, 5, 3, 1)),
		mk("Where bool", "Where", nil, 0, randBool(95, 6), randBool(96, 6), randBool(97, 1)),
	)
	casts := []struct {
		name string
		to   int64
		in   *ir.Tensor
	}{
		{"f32 to i64", 7, randF32(100, -50, 50, 4, 5)},
		{"f32 to i32", 6, randF32(101, -50, 50, 9)},
		{"f32 to bool", 9, randI64ToF32(102)},
		{"f32 to f64", 11, x(103, 3, 3)},
		{"i64 to f32", 1, randI64(104, -1000, 1000, 10)},
		{"i64 to i32", 6, randI64(105, -1000, 1000, 10)},
		{"i32 to i64", 7, randI32(106, -1000, 1000, 10)},
		{"bool to f32", 1, randBool(107, 12)},
		{"bool to i64", 7, randBool(108, 12)},
		{"i64 to bool", 9, randI64(109, -1, 1, 12)},
		{"f32 to f32", 1, x(110, 5)},
		{"f32 to f16 falls back", 10, x(111, 5)},
		{"f32 to bf16, odd length", 16, bf16Inputs(112, 1001)},
		{"bf16 to f32", 1, toBF16(bf16Inputs(113, 64))},
	}
	for _, c := range casts {
		cs = append(cs, mk("Cast "+c.name, "Cast", ir.Attrs{"to": intA(c.to)}, 0, c.in))
	}
	cs = append(cs,
		mk("Identity", "Identity", nil, 0, x(120, 3, 4)),
		mk("Reshape 0 and -1", "Reshape", nil, 0, x(121, 2, 3, 4), i64s(0, -1)),
		mk("Reshape i64", "Reshape", nil, 0, randI64(122, 0, 9, 6), i64s(3, 2)),
		mk("Flatten axis 2", "Flatten", ir.Attrs{"axis": intA(2)}, 0, x(123, 2, 3, 4, 2)),
		mk("Flatten axis -1", "Flatten", ir.Attrs{"axis": intA(-1)}, 0, x(124, 2, 3, 4)),
		mk("Squeeze negative axis input", "Squeeze", nil, 0, x(125, 3, 1, 4, 1), i64s(-1)),
		mk("Squeeze all unit dims", "Squeeze", nil, 0, x(126, 1, 3, 1, 4)),
		mk("Unsqueeze attr", "Unsqueeze", ir.Attrs{"axes": ints(0, -1)}, 0, x(127, 3, 4)),
		mk("Unsqueeze input", "Unsqueeze", nil, 0, x(128, 3, 4), i64s(1)),

		mk("Transpose 3-D", "Transpose", ir.Attrs{"perm": ints(2, 0, 1)}, 0, x(130, 3, 4, 5)),
		mk("Transpose default", "Transpose", nil, 0, x(131, 3, 4, 5)),
		mk("Transpose heads", "Transpose", ir.Attrs{"perm": ints(0, 2, 1, 3)}, 0, x(132, 2, 5, 3, 4)),
		mk("Transpose rank 6", "Transpose", ir.Attrs{"perm": ints(5, 3, 1, 0, 2, 4)}, 0, x(133, 2, 3, 2, 3, 2, 3)),
		mk("Transpose i64", "Transpose", ir.Attrs{"perm": ints(1, 0)}, 0, randI64(134, 0, 99, 5, 6)),
		mk("Transpose bool", "Transpose", ir.Attrs{"perm": ints(1, 0)}, 0, randBool(135, 5, 6)),
		mk("Expand", "Expand", nil, 0, x(136, 3, 1), i64s(2, 3, 4)),
		mk("Expand to smaller shape", "Expand", nil, 0, x(137, 2, 3, 4), i64s(3, 1)),
		mk("Expand i64", "Expand", nil, 0, randI64(138, 0, 9, 1, 4), i64s(3, 1)),
		mk("Tile", "Tile", nil, 0, x(139, 2, 3), i64s(2, 3)),
		mk("Concat axis -1", "Concat", ir.Attrs{"axis": intA(-1)}, 0, x(140, 2, 3, 1), x(141, 2, 3, 4), x(142, 2, 3, 2)),
		mk("Concat i64 axis 0", "Concat", ir.Attrs{"axis": intA(0)}, 0, randI64(143, 0, 9, 1), randI64(144, 0, 9, 3)),
		mk("Slice negative step", "Slice", nil, 0, x(145, 4, 10), i64s(-1), i64s(-100), i64s(1), i64s(-2)),
		mk("Slice axes and clamps", "Slice", nil, 0, x(146, 3, 5, 6), i64s(1, -4), i64s(1<<62, 5), i64s(0, -1), i64s(1, 1)),
		mk("Slice opset-1 attributes", "Slice", ir.Attrs{"starts": ints(0, 1), "ends": ints(2, -1), "axes": ints(1, 2)}, 0, x(147, 2, 3, 4)),
		mk("Slice empty", "Slice", nil, 0, x(148, 4, 3), i64s(3), i64s(1), i64s(0)),
		mk("Gather rows negative indices", "Gather", nil, 0, x(150, 10, 8), ir.FromInt64([]int{2, 3}, []int64{0, -1, 3, 9, -10, 4})),
		mk("Gather axis 1 scalar", "Gather", ir.Attrs{"axis": intA(1)}, 0, x(151, 3, 5, 2), ir.FromInt64(nil, []int64{-2})),
		mk("Gather i32 indices i64 data", "Gather", ir.Attrs{"axis": intA(-1)}, 0, randI64(152, 0, 99, 2, 6), randI32(153, -6, 5, 4)),
		mkN("Split sizes input", "Split", ir.Attrs{"axis": intA(1)}, 3, x(160, 2, 6, 3), i64s(1, 3, 2)),
		mkN("Split attribute", "Split", ir.Attrs{"axis": intA(-1), "split": ints(2, 2)}, 2, randI64(161, 0, 9, 3, 4)),
		mkN("Split uneven even split", "Split", nil, 3, x(162, 7, 2)),

		mk("ReduceSum axes input", "ReduceSum", ir.Attrs{"keepdims": intA(0)}, 1e-5, x(170, 3, 4, 5), i64s(1)),
		mk("ReduceMean last axis long rows", "ReduceMean", ir.Attrs{"axes": ints(-1)}, 1e-5, x(171, 4, 300)),
		mk("ReduceMax non-adjacent axes", "ReduceMax", ir.Attrs{"axes": ints(0, 2)}, 0, x(172, 3, 4, 5)),
		mk("ReduceMin", "ReduceMin", ir.Attrs{"axes": ints(1), "keepdims": intA(0)}, 0, x(173, 3, 4, 5)),
		mk("ReduceSum everything", "ReduceSum", nil, 1e-4, x(174, 4, 5, 6)),
		mk("ReduceSum noop", "ReduceSum", ir.Attrs{"noop_with_empty_axes": intA(1)}, 0, x(175, 3, 2)),
		mk("ReduceMean rows of 64", "ReduceMean", ir.Attrs{"axes": ints(0, 1), "keepdims": intA(0)}, 1e-5, x(176, 8, 8, 3)),
		mk("ReduceSum i64 falls back", "ReduceSum", ir.Attrs{"axes": ints(0)}, 0, randI64(177, 0, 9, 3, 2)),

		mk("ConstantOfShape i64", "ConstantOfShape", ir.Attrs{"value": ir.TensorAttr(ir.FromInt64([]int{1}, []int64{7}))}, 0, i64s(2, 3)),
		mk("ConstantOfShape default", "ConstantOfShape", nil, 0, i64s(4)),
		mk("ConstantOfShape bool", "ConstantOfShape", ir.Attrs{"value": ir.TensorAttr(&ir.Tensor{DType: ir.Bool, Shape: []int{1}, Bool: []bool{true}})}, 0, i64s(3, 2)),
		mk("Shape", "Shape", nil, 0, x(180, 2, 3, 4)),
		mk("Shape start end", "Shape", ir.Attrs{"start": intA(-2), "end": intA(10)}, 0, x(181, 2, 3, 4)),
		mk("Size", "Size", nil, 0, x(182, 2, 3, 4)),
		mk("Range", "Range", nil, 0, ir.FromInt64(nil, []int64{2}), ir.FromInt64(nil, []int64{11}), ir.FromInt64(nil, []int64{3})),
		mk("Constant", "Constant", ir.Attrs{"value": ir.TensorAttr(x(183, 2, 2))}, 0),

		mk("MatMul 2-D", "MatMul", nil, 1e-4, x(190, 5, 7), x(191, 7, 3)),
		mk("MatMul batch x shared", "MatMul", nil, 1e-4, x(192, 2, 3, 4, 5), x(193, 5, 6)),
		mk("MatMul shared x batch", "MatMul", nil, 1e-4, x(194, 4, 5), x(195, 2, 5, 6)),
		mk("MatMul batch x batch", "MatMul", nil, 1e-4, x(196, 3, 4, 5), x(197, 3, 5, 2)),
		mk("MatMul broadcast batch", "MatMul", nil, 1e-4, x(198, 2, 1, 4, 5), x(199, 3, 5, 6)),
		mk("MatMul 1-D x 2-D", "MatMul", nil, 1e-4, x(200, 4), x(201, 4, 3)),
		mk("MatMul 2-D x 1-D", "MatMul", nil, 1e-4, x(202, 3, 4), x(203, 4)),
		mk("MatMul 1-D x 1-D", "MatMul", nil, 1e-4, x(204, 6), x(205, 6)),
		mk("MatMul batch x 1-D", "MatMul", nil, 1e-4, x(206, 2, 3, 4), x(207, 4)),
		mk("MatMul k=0", "MatMul", nil, 0, x(208, 3, 0), x(209, 0, 2)),
		mk("ai.crsc.MatMul transA", "ai.crsc.MatMul", ir.Attrs{"transA": intA(1)}, 1e-4, x(210, 2, 5, 4), x(211, 2, 5, 3)),
		mk("ai.crsc.MatMul transB", "ai.crsc.MatMul", ir.Attrs{"transB": intA(1)}, 1e-4, x(212, 2, 4, 5), x(213, 3, 5)),
		mk("ai.crsc.MatMul both", "ai.crsc.MatMul", ir.Attrs{"transA": intA(1), "transB": intA(1)}, 1e-4, x(214, 5, 4), x(215, 2, 3, 5)),
		mk("Gemm plain", "Gemm", nil, 1e-4, x(220, 3, 4), x(221, 4, 5)),
		mk("Gemm bias row", "Gemm", ir.Attrs{"transB": intA(1)}, 1e-4, x(222, 3, 4), x(223, 5, 4), x(224, 5)),
		mk("Gemm alpha beta column bias", "Gemm", ir.Attrs{"transA": intA(1), "alpha": ir.FloatAttr(0.5), "beta": ir.FloatAttr(2)},
			1e-4, x(225, 4, 3), x(226, 4, 5), x(227, 3, 1)),
		mk("Gemm scalar bias", "Gemm", ir.Attrs{"transA": intA(1), "transB": intA(1)}, 1e-4, x(228, 4, 3), x(229, 5, 4), x(230)),
	)
	return cs
}

// randI64ToF32 is a float tensor with exact zeros among small integers
// (Cast to bool must see both).
func randI64ToF32(seed uint64) *ir.Tensor {
	v := randI64(seed, -2, 2, 3, 4)
	t := ir.NewTensor(ir.Float32, 3, 4)
	for i, e := range v.I64 {
		t.F32[i] = float32(e) * 0.5
	}
	return t
}
