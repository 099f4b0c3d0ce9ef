package cpu

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"crsc/compiler/ir"
)

func f32(shape []int, v ...float32) *ir.Tensor { return ir.FromFloat32(shape, v) }
func i64(shape []int, v ...int64) *ir.Tensor   { return ir.FromInt64(shape, v) }
func bools(shape []int, v ...bool) *ir.Tensor {
	return &ir.Tensor{DType: ir.Bool, Shape: shape, Bool: v}
}
func sh(d ...int) []int { return d }

type attrs = ir.Attrs

// call runs op on ins and returns its outputs.
func call(t *testing.T, op string, a attrs, ins ...*ir.Tensor) ([]*ir.Tensor, error) {
	t.Helper()
	k, ok := Lookup("", op)
	if !ok {
		t.Fatalf("no kernel for %s", op)
	}
	return k(&Ctx{Threads: 4}, &ir.Node{Name: "n_" + op, Op: op, Attrs: a}, ins)
}

type kcase struct {
	name string
	op   string
	a    attrs
	ins  []*ir.Tensor
	want []*ir.Tensor // nil entries are not checked
	err  string       // substring of the expected error
}

func runCases(t *testing.T, cases []kcase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			outs, err := call(t, c.op, c.a, c.ins...)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("error %v, want one containing %q", err, c.err)
				}
				if !strings.Contains(err.Error(), c.op) {
					t.Fatalf("error %q does not name the op", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(outs) < len(c.want) {
				t.Fatalf("%d outputs, want %d", len(outs), len(c.want))
			}
			for i, w := range c.want {
				if w == nil {
					continue
				}
				if err := compareTensors(outs[i], w, 1e-5, 1e-6); err != nil {
					t.Errorf("output %d: %v", i, err)
				}
				if outs[i].DType != w.DType {
					t.Errorf("output %d dtype %v, want %v", i, outs[i].DType, w.DType)
				}
			}
		})
	}
}

func ins(ts ...*ir.Tensor) []*ir.Tensor  { return ts }
func outs(ts ...*ir.Tensor) []*ir.Tensor { return ts }

func TestElementwise(t *testing.T) {
	x23 := f32(sh(2, 3), 1, 2, 3, 4, 5, 6)
	runCases(t, []kcase{
		{"add same shape", "Add", nil, ins(x23, x23), outs(f32(sh(2, 3), 2, 4, 6, 8, 10, 12)), ""},
		{"add scalar", "Add", nil, ins(x23, f32(nil, 10)), outs(f32(sh(2, 3), 11, 12, 13, 14, 15, 16)), ""},
		{"sub scalar left", "Sub", nil, ins(f32(nil, 10), x23), outs(f32(sh(2, 3), 9, 8, 7, 6, 5, 4)), ""},
		{"mul row", "Mul", nil, ins(x23, f32(sh(3), 1, 0, -1)), outs(f32(sh(2, 3), 1, 0, -3, 4, 0, -6)), ""},
		{"div column", "Div", nil, ins(x23, f32(sh(2, 1), 1, 2)), outs(f32(sh(2, 3), 1, 2, 3, 2, 2.5, 3)), ""},
		{"outer broadcast", "Add", nil, ins(f32(sh(2, 1), 10, 20), f32(sh(1, 3), 1, 2, 3)), outs(f32(sh(2, 3), 11, 12, 13, 21, 22, 23)), ""},
		{"rank broadcast", "Add", nil, ins(f32(sh(2, 1, 2), 0, 1, 2, 3), f32(sh(3, 1), 10, 20, 30)),
			outs(f32(sh(2, 3, 2), 10, 11, 20, 21, 30, 31, 12, 13, 22, 23, 32, 33)), ""},
		{"int64 div truncates", "Div", nil, ins(i64(sh(2), 7, -7), i64(sh(2), 2, 2)), outs(i64(sh(2), 3, -3)), ""},
		{"int64 div by zero", "Div", nil, ins(i64(sh(1), 1), i64(sh(1), 0)), nil, "division by zero"},
		{"bad broadcast", "Add", nil, ins(x23, f32(sh(2), 1, 2)), nil, "broadcast"},
		{"dtype mismatch", "Mul", nil, ins(x23, i64(nil, 1)), nil, "dtypes differ"},
		{"missing input", "Add", nil, ins(x23), nil, "missing"},
		{"pow 2", "Pow", nil, ins(f32(sh(3), 1, -2, 3), f32(nil, 2)), outs(f32(sh(3), 1, 4, 9)), ""},
		{"pow 0.5", "Pow", nil, ins(f32(sh(2), 4, 9), f32(nil, 0.5)), outs(f32(sh(2), 2, 3)), ""},
		{"pow int exponent", "Pow", nil, ins(f32(sh(2), 2, 3), i64(sh(2), 3, 2)), outs(f32(sh(2), 8, 9)), ""},
		{"pow broadcast", "Pow", nil, ins(f32(sh(2, 1), 2, 3), f32(sh(2), 1, 2)), outs(f32(sh(2, 2), 2, 4, 3, 9)), ""},
		{"mod python", "Mod", nil, ins(i64(sh(2), -7, 7), i64(sh(2), 3, -3)), outs(i64(sh(2), 2, -2)), ""},
		{"mod fmod", "Mod", attrs{"fmod": ir.IntAttr(1)}, ins(f32(sh(2), -7, 7), f32(sh(2), 3, -3)), outs(f32(sh(2), -1, 1)), ""},
		{"sum 3", "Sum", nil, ins(f32(sh(2), 1, 2), f32(nil, 10), f32(sh(2, 1), 100, 200)), outs(f32(sh(2, 2), 111, 112, 211, 212)), ""},
		{"max", "Max", nil, ins(f32(sh(3), 1, 5, 3), f32(sh(3), 4, 2, 3)), outs(f32(sh(3), 4, 5, 3)), ""},
		{"min int64", "Min", nil, ins(i64(sh(3), 1, 5, 3), i64(nil, 2)), outs(i64(sh(3), 1, 2, 2)), ""},
		{"mean", "Mean", nil, ins(f32(sh(2), 1, 2), f32(sh(2), 3, 6)), outs(f32(sh(2), 2, 4)), ""},
		{"relu", "Relu", nil, ins(f32(sh(3), -1, 0, 2)), outs(f32(sh(3), 0, 0, 2)), ""},
		{"neg int64", "Neg", nil, ins(i64(sh(2), 3, -4)), outs(i64(sh(2), -3, 4)), ""},
		{"abs", "Abs", nil, ins(f32(sh(2), -3, 4)), outs(f32(sh(2), 3, 4)), ""},
		{"sqrt", "Sqrt", nil, ins(f32(sh(2), 4, 2)), outs(f32(sh(2), 2, float32(math.Sqrt2))), ""},
		{"reciprocal", "Reciprocal", nil, ins(f32(sh(2), 4, -0.5)), outs(f32(sh(2), 0.25, -2)), ""},
		{"erf", "Erf", nil, ins(f32(sh(2), 0, 1)), outs(f32(sh(2), 0, 0.8427008)), ""},
		{"tanh", "Tanh", nil, ins(f32(sh(2), 0, 1)), outs(f32(sh(2), 0, 0.7615942)), ""},
		{"sigmoid", "Sigmoid", nil, ins(f32(sh(3), 0, 100, -100)), outs(f32(sh(3), 0.5, 1, 0)), ""},
		{"exp log", "Log", nil, ins(f32(sh(1), float32(math.E))), outs(f32(sh(1), 1)), ""},
		{"sign", "Sign", nil, ins(f32(sh(3), -2, 0, 5)), outs(f32(sh(3), -1, 0, 1)), ""},
		{"floor ceil", "Ceil", nil, ins(f32(sh(2), -1.5, 1.2)), outs(f32(sh(2), -1, 2)), ""},
		{"unary bool rejected", "Exp", nil, ins(bools(sh(1), true)), nil, "unsupported dtype"},
		{"gelu", "Gelu", nil, ins(f32(sh(2), 0, 1)), outs(f32(sh(2), 0, 0.8413447)), ""},
		{"gelu tanh", "Gelu", attrs{"approximate": ir.StringAttr("tanh")}, ins(f32(sh(1), 1)), outs(f32(sh(1), 0.8411920)), ""},
		{"clip inputs", "Clip", nil, ins(f32(sh(3), -5, 0, 5), f32(nil, -1), f32(nil, 1)), outs(f32(sh(3), -1, 0, 1)), ""},
		{"clip min only", "Clip", nil, ins(f32(sh(3), -5, 0, 5), f32(nil, -1)), outs(f32(sh(3), -1, 0, 5)), ""},
		{"clip attrs", "Clip", attrs{"max": ir.FloatAttr(2)}, ins(f32(sh(2), -5, 5)), outs(f32(sh(2), -5, 2)), ""},
	})
}

func TestCompareLogic(t *testing.T) {
	runCases(t, []kcase{
		{"equal int64", "Equal", nil, ins(i64(sh(3), 1, 2, 3), i64(nil, 2)), outs(bools(sh(3), false, true, false)), ""},
		{"equal bool", "Equal", nil, ins(bools(sh(2), true, false), bools(sh(2), true, true)), outs(bools(sh(2), true, false)), ""},
		{"less broadcast", "Less", nil, ins(f32(sh(2, 1), 1, 3), f32(sh(2), 2, 4)), outs(bools(sh(2, 2), true, true, false, true)), ""},
		{"greater", "Greater", nil, ins(f32(sh(2), 1, 3), f32(sh(2), 2, 2)), outs(bools(sh(2), false, true)), ""},
		{"greater or equal", "GreaterOrEqual", nil, ins(i64(sh(2), 2, 1), i64(sh(2), 2, 2)), outs(bools(sh(2), true, false)), ""},
		{"less or equal", "LessOrEqual", nil, ins(i64(sh(2), 2, 3), i64(sh(2), 2, 2)), outs(bools(sh(2), true, false)), ""},
		{"and", "And", nil, ins(bools(sh(2), true, true), bools(sh(2), true, false)), outs(bools(sh(2), true, false)), ""},
		{"or", "Or", nil, ins(bools(sh(2), false, false), bools(sh(1), true)), outs(bools(sh(2), true, true)), ""},
		{"xor", "Xor", nil, ins(bools(sh(2), true, false), bools(sh(2), true, true)), outs(bools(sh(2), false, true)), ""},
		{"not", "Not", nil, ins(bools(sh(2), true, false)), outs(bools(sh(2), false, true)), ""},
		{"and needs bool", "And", nil, ins(f32(sh(1), 1), f32(sh(1), 1)), nil, "bool"},
		{"where mask", "Where", nil, ins(bools(sh(1, 2), true, false), f32(sh(2, 2), 1, 2, 3, 4), f32(nil, -1)),
			outs(f32(sh(2, 2), 1, -1, 3, -1)), ""},
		{"where int64", "Where", nil, ins(bools(sh(2), false, true), i64(nil, 7), i64(sh(2), 1, 2)), outs(i64(sh(2), 1, 7)), ""},
		{"where cond dtype", "Where", nil, ins(f32(sh(1), 1), f32(sh(1), 1), f32(sh(1), 1)), nil, "bool"},
	})
}

func TestShapeOps(t *testing.T) {
	x := f32(sh(2, 3), 0, 1, 2, 3, 4, 5)
	runCases(t, []kcase{
		{"reshape infer", "Reshape", nil, ins(x, i64(sh(2), -1, 2)), outs(f32(sh(3, 2), 0, 1, 2, 3, 4, 5)), ""},
		{"reshape copy dim", "Reshape", nil, ins(x, i64(sh(3), 0, 3, 1)), outs(f32(sh(2, 3, 1), 0, 1, 2, 3, 4, 5)), ""},
		{"reshape allowzero", "Reshape", attrs{"allowzero": ir.IntAttr(1)}, ins(f32(sh(0, 3)), i64(sh(2), 3, 0)), outs(f32(sh(3, 0))), ""},
		{"reshape bad", "Reshape", nil, ins(x, i64(sh(1), 4)), nil, "does not hold"},
		{"reshape two -1", "Reshape", nil, ins(x, i64(sh(2), -1, -1)), nil, "more than one -1"},
		{"flatten", "Flatten", attrs{"axis": ir.IntAttr(0)}, ins(x), outs(f32(sh(1, 6), 0, 1, 2, 3, 4, 5)), ""},
		{"transpose default", "Transpose", nil, ins(x), outs(f32(sh(3, 2), 0, 3, 1, 4, 2, 5)), ""},
		{"transpose perm", "Transpose", attrs{"perm": ir.IntsAttr(1, 0, 2)}, ins(f32(sh(2, 2, 1), 1, 2, 3, 4)), outs(f32(sh(2, 2, 1), 1, 3, 2, 4)), ""},
		{"transpose bad perm", "Transpose", attrs{"perm": ir.IntsAttr(0, 0)}, ins(x), nil, "repeated"},
		{"unsqueeze attr", "Unsqueeze", attrs{"axes": ir.IntsAttr(0, -1)}, ins(x), outs(f32(sh(1, 2, 3, 1), 0, 1, 2, 3, 4, 5)), ""},
		{"unsqueeze input", "Unsqueeze", nil, ins(x, i64(sh(1), 1)), outs(f32(sh(2, 1, 3), 0, 1, 2, 3, 4, 5)), ""},
		{"squeeze all", "Squeeze", nil, ins(f32(sh(1, 2, 1), 1, 2)), outs(f32(sh(2), 1, 2)), ""},
		{"squeeze input", "Squeeze", nil, ins(f32(sh(1, 2, 1), 1, 2), i64(sh(1), -1)), outs(f32(sh(1, 2), 1, 2)), ""},
		{"squeeze non-unit", "Squeeze", attrs{"axes": ir.IntsAttr(1)}, ins(f32(sh(1, 2, 1), 1, 2)), nil, "cannot squeeze"},
		{"concat", "Concat", attrs{"axis": ir.IntAttr(-1)}, ins(x, f32(sh(2, 1), 9, 8)), outs(f32(sh(2, 4), 0, 1, 2, 9, 3, 4, 5, 8)), ""},
		{"concat int64 1-D", "Concat", attrs{"axis": ir.IntAttr(0)}, ins(i64(sh(1), 1), i64(sh(2), 2, 3)), outs(i64(sh(3), 1, 2, 3)), ""},
		{"concat mismatch", "Concat", attrs{"axis": ir.IntAttr(0)}, ins(x, f32(sh(1, 2), 1, 2)), nil, "differ"},
		{"slice basic", "Slice", nil, ins(x, i64(sh(1), 1), i64(sh(1), 3), i64(sh(1), 1)), outs(f32(sh(2, 2), 1, 2, 4, 5)), ""},
		{"slice clamp", "Slice", nil, ins(x, i64(sh(1), -10), i64(sh(1), math.MaxInt64), i64(sh(1), 0)), outs(x), ""},
		{"slice neg step", "Slice", nil, ins(x, i64(sh(1), -1), i64(sh(1), math.MinInt64), i64(sh(1), 1), i64(sh(1), -1)),
			outs(f32(sh(2, 3), 2, 1, 0, 5, 4, 3)), ""},
		{"slice step 2", "Slice", nil, ins(f32(sh(5), 0, 1, 2, 3, 4), i64(sh(1), 0), i64(sh(1), 5), nil, i64(sh(1), 2)), outs(f32(sh(3), 0, 2, 4)), ""},
		{"slice empty", "Slice", nil, ins(x, i64(sh(1), 2), i64(sh(1), 1), i64(sh(1), 1)), outs(f32(sh(2, 0))), ""},
		{"slice step 0", "Slice", nil, ins(x, i64(sh(1), 0), i64(sh(1), 1), i64(sh(1), 1), i64(sh(1), 0)), nil, "step 0"},
		{"gather axis 0", "Gather", nil, ins(x, i64(sh(2), 1, -2)), outs(f32(sh(2, 3), 3, 4, 5, 0, 1, 2)), ""},
		{"gather axis 1 2-D idx", "Gather", attrs{"axis": ir.IntAttr(1)}, ins(x, i64(sh(1, 2), 2, 0)), outs(f32(sh(2, 1, 2), 2, 0, 5, 3)), ""},
		{"gather scalar idx", "Gather", nil, ins(x, i64(nil, 1)), outs(f32(sh(3), 3, 4, 5)), ""},
		{"gather out of range", "Gather", nil, ins(x, i64(sh(1), 2)), nil, "out of range"},
		{"gather elements", "GatherElements", attrs{"axis": ir.IntAttr(1)}, ins(f32(sh(2, 2), 1, 2, 3, 4), i64(sh(2, 2), 0, 0, 1, 0)),
			outs(f32(sh(2, 2), 1, 1, 4, 3)), ""},
		{"expand", "Expand", nil, ins(f32(sh(3, 1), 1, 2, 3), i64(sh(3), 2, 1, 2)), outs(f32(sh(2, 3, 2), 1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3)), ""},
		{"expand smaller shape", "Expand", nil, ins(f32(sh(2, 1), 1, 2), i64(sh(1), 1)), outs(f32(sh(2, 1), 1, 2)), ""},
		{"tile", "Tile", nil, ins(f32(sh(1, 2), 1, 2), i64(sh(2), 2, 2)), outs(f32(sh(2, 4), 1, 2, 1, 2, 1, 2, 1, 2)), ""},
		{"shape", "Shape", nil, ins(x), outs(i64(sh(2), 2, 3)), ""},
		{"shape start end", "Shape", attrs{"start": ir.IntAttr(-1), "end": ir.IntAttr(10)}, ins(x), outs(i64(sh(1), 3)), ""},
		{"size", "Size", nil, ins(x), outs(i64(nil, 6)), ""},
		{"constant of shape", "ConstantOfShape", attrs{"value": ir.TensorAttr(i64(sh(1), 7))}, ins(i64(sh(2), 1, 2)), outs(i64(sh(1, 2), 7, 7)), ""},
		{"constant of shape default", "ConstantOfShape", nil, ins(i64(sh(1), 2)), outs(f32(sh(2), 0, 0)), ""},
		{"constant", "Constant", attrs{"value": ir.TensorAttr(x)}, nil, outs(x), ""},
		{"constant ints", "Constant", attrs{"value_ints": ir.IntsAttr(1, 2)}, nil, outs(i64(sh(2), 1, 2)), ""},
		{"identity", "Identity", nil, ins(x), outs(x), ""},
		{"range int", "Range", nil, ins(i64(nil, 10), i64(nil, 4), i64(nil, -3)), outs(i64(sh(2), 10, 7)), ""},
		{"range float", "Range", nil, ins(f32(nil, 1), f32(nil, 2), f32(nil, 0.25)), outs(f32(sh(4), 1, 1.25, 1.5, 1.75)), ""},
		{"range empty", "Range", nil, ins(i64(nil, 5), i64(nil, 1), i64(nil, 1)), outs(i64(sh(0))), ""},
		{"trilu upper", "Trilu", nil, ins(f32(sh(3, 3), 1, 2, 3, 4, 5, 6, 7, 8, 9)), outs(f32(sh(3, 3), 1, 2, 3, 0, 5, 6, 0, 0, 9)), ""},
		{"trilu lower k=-1", "Trilu", attrs{"upper": ir.IntAttr(0)}, ins(f32(sh(3, 3), 1, 2, 3, 4, 5, 6, 7, 8, 9), i64(nil, -1)),
			outs(f32(sh(3, 3), 0, 0, 0, 4, 0, 0, 7, 8, 0)), ""},
		{"trilu upper k=1", "Trilu", nil, ins(f32(sh(2, 3), 1, 2, 3, 4, 5, 6), i64(nil, 1)), outs(f32(sh(2, 3), 0, 2, 3, 0, 0, 6)), ""},
		{"cumsum", "CumSum", nil, ins(f32(sh(4), 1, 2, 3, 4), i64(nil, 0)), outs(f32(sh(4), 1, 3, 6, 10)), ""},
		{"cumsum exclusive reverse", "CumSum", attrs{"exclusive": ir.IntAttr(1), "reverse": ir.IntAttr(1)},
			ins(f32(sh(4), 1, 2, 3, 4), i64(nil, 0)), outs(f32(sh(4), 9, 7, 4, 0)), ""},
		{"cumsum axis 1", "CumSum", nil, ins(i64(sh(2, 2), 1, 2, 3, 4), i64(nil, -1)), outs(i64(sh(2, 2), 1, 3, 3, 7)), ""},
		{"cast f32 to i64", "Cast", attrs{"to": ir.IntAttr(7)}, ins(f32(sh(3), 1.7, -1.7, 0)), outs(i64(sh(3), 1, -1, 0)), ""},
		{"cast bool to f32", "Cast", attrs{"to": ir.IntAttr(1)}, ins(bools(sh(2), true, false)), outs(f32(sh(2), 1, 0)), ""},
		{"cast i64 to bool", "Cast", attrs{"to": ir.IntAttr(9)}, ins(i64(sh(2), 0, 5)), outs(bools(sh(2), false, true)), ""},
		{"cast to string", "Cast", attrs{"to": ir.IntAttr(8)}, ins(x), nil, "unsupported target"},
	})
}

func TestSplit(t *testing.T) {
	x := f32(sh(2, 3), 0, 1, 2, 3, 4, 5)
	two := []*ir.Value{{}, {}}
	cases := []struct {
		name string
		a    attrs
		ins  []*ir.Tensor
		outs []*ir.Value
		want []*ir.Tensor
	}{
		{"input sizes", attrs{"axis": ir.IntAttr(1)}, ins(x, i64(sh(2), 1, 2)), nil, outs(f32(sh(2, 1), 0, 3), f32(sh(2, 2), 1, 2, 4, 5))},
		{"attr sizes", attrs{"split": ir.IntsAttr(2, 1), "axis": ir.IntAttr(-1)}, ins(x), nil, outs(f32(sh(2, 2), 0, 1, 3, 4), f32(sh(2, 1), 2, 5))},
		{"even by outputs", nil, ins(x), two, outs(f32(sh(1, 3), 0, 1, 2), f32(sh(1, 3), 3, 4, 5))},
		{"uneven num_outputs", attrs{"axis": ir.IntAttr(1), "num_outputs": ir.IntAttr(2)}, ins(x), nil, outs(f32(sh(2, 2), 0, 1, 3, 4), f32(sh(2, 1), 2, 5))},
	}
	for _, c := range cases {
		k, _ := Lookup("", "Split")
		got, err := k(nil, &ir.Node{Name: "s", Op: "Split", Attrs: c.a, Outputs: c.outs}, c.ins)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if len(got) != len(c.want) {
			t.Fatalf("%s: %d outputs, want %d", c.name, len(got), len(c.want))
		}
		for i := range got {
			if err := compareTensors(got[i], c.want[i], 0, 0); err != nil {
				t.Errorf("%s output %d: %v", c.name, i, err)
			}
		}
	}
	if _, err := call(t, "Split", attrs{"split": ir.IntsAttr(1, 2)}, x, nil); err == nil {
		t.Error("split sizes not summing to the dim were accepted")
	}
}

func TestReduce(t *testing.T) {
	x := f32(sh(2, 3), 1, 2, 3, 4, 5, 6)
	x3 := f32(sh(2, 2, 2), 1, 2, 3, 4, 5, 6, 7, 8)
	runCases(t, []kcase{
		{"mean last keepdims", "ReduceMean", attrs{"axes": ir.IntsAttr(-1)}, ins(x), outs(f32(sh(2, 1), 2, 5)), ""},
		{"mean axes input (opset 18)", "ReduceMean", attrs{"keepdims": ir.IntAttr(0)}, ins(x, i64(sh(1), 0)), outs(f32(sh(3), 2.5, 3.5, 4.5)), ""},
		{"sum all", "ReduceSum", attrs{"keepdims": ir.IntAttr(0)}, ins(x), outs(f32(nil, 21)), ""},
		{"sum all keepdims", "ReduceSum", nil, ins(x), outs(f32(sh(1, 1), 21)), ""},
		{"sum noop", "ReduceSum", attrs{"noop_with_empty_axes": ir.IntAttr(1)}, ins(x, i64(sh(0))), outs(x), ""},
		{"sum int64", "ReduceSum", nil, ins(i64(sh(3), 1, 2, 3), i64(sh(1), 0)), outs(i64(sh(1), 6)), ""},
		{"sum non-adjacent axes", "ReduceSum", attrs{"axes": ir.IntsAttr(0, 2), "keepdims": ir.IntAttr(0)}, ins(x3), outs(f32(sh(2), 14, 22)), ""},
		{"sum middle axis", "ReduceSum", attrs{"axes": ir.IntsAttr(1)}, ins(x3), outs(f32(sh(2, 1, 2), 4, 6, 12, 14)), ""},
		{"max", "ReduceMax", attrs{"axes": ir.IntsAttr(1), "keepdims": ir.IntAttr(0)}, ins(x), outs(f32(sh(2), 3, 6)), ""},
		{"min", "ReduceMin", attrs{"axes": ir.IntsAttr(0), "keepdims": ir.IntAttr(0)}, ins(x), outs(f32(sh(3), 1, 2, 3)), ""},
		{"prod", "ReduceProd", attrs{"axes": ir.IntsAttr(1), "keepdims": ir.IntAttr(0)}, ins(x), outs(f32(sh(2), 6, 120)), ""},
		{"l2", "ReduceL2", attrs{"axes": ir.IntsAttr(1), "keepdims": ir.IntAttr(0)}, ins(f32(sh(1, 2), 3, 4)), outs(f32(sh(1), 5)), ""},
		{"sum square", "ReduceSumSquare", attrs{"keepdims": ir.IntAttr(0)}, ins(f32(sh(2), 3, 4)), outs(f32(nil, 25)), ""},
		{"logsumexp", "ReduceLogSumExp", attrs{"axes": ir.IntsAttr(0), "keepdims": ir.IntAttr(0)}, ins(f32(sh(2, 1), 0, 0)), outs(f32(sh(1), float32(math.Ln2))), ""},
		{"bad axis", "ReduceMean", attrs{"axes": ir.IntsAttr(2)}, ins(x), nil, "out of range"},
		{"argmax", "ArgMax", attrs{"axis": ir.IntAttr(1)}, ins(f32(sh(2, 3), 1, 3, 3, 9, 0, 0)), outs(i64(sh(2, 1), 1, 0)), ""},
		{"argmax last", "ArgMax", attrs{"axis": ir.IntAttr(1), "keepdims": ir.IntAttr(0), "select_last_index": ir.IntAttr(1)},
			ins(f32(sh(2, 3), 1, 3, 3, 9, 0, 0)), outs(i64(sh(2), 2, 0)), ""},
	})
}

func TestNN(t *testing.T) {
	e1, e2 := math.Exp(1), math.Exp(2)
	s := func(a, b, c float64) []float32 {
		z := a + b + c
		return []float32{float32(a / z), float32(b / z), float32(c / z)}
	}
	row := s(1, e1, e2)
	runCases(t, []kcase{
		{"softmax default axis", "Softmax", nil, ins(f32(sh(2, 3), 0, 1, 2, 5, 6, 7)), outs(f32(sh(2, 3), append(append([]float32{}, row...), row...)...)), ""},
		{"softmax axis 0", "Softmax", attrs{"axis": ir.IntAttr(0)}, ins(f32(sh(2, 1), 0, 0)), outs(f32(sh(2, 1), 0.5, 0.5)), ""},
		{"softmax opset 11 coerces to 2-D", "Softmax", attrs{"_opset": ir.IntAttr(11)}, ins(f32(sh(1, 2, 2), 0, 0, 0, 0)), outs(f32(sh(1, 2, 2), 0.25, 0.25, 0.25, 0.25)), ""},
		{"softmax opset 13 axis 1", "Softmax", attrs{"axis": ir.IntAttr(1)}, ins(f32(sh(1, 2, 2), 0, 0, 0, 0)), outs(f32(sh(1, 2, 2), 0.5, 0.5, 0.5, 0.5)), ""},
		{"log softmax", "LogSoftmax", nil, ins(f32(sh(2), 0, 0)), outs(f32(sh(2), -float32(math.Ln2), -float32(math.Ln2))), ""},
		{"layernorm", "LayerNormalization", nil, ins(f32(sh(2, 2), 1, 3, 0, 0), f32(sh(2), 1, 2), f32(sh(2), 0, 1)),
			outs(f32(sh(2, 2), -0.999995, 2.99999, 0, 1), f32(sh(2, 1), 2, 0), f32(sh(2, 1), float32(1/math.Sqrt(1+1e-5)), float32(1/math.Sqrt(1e-5)))), ""},
		{"layernorm axis 0", "LayerNormalization", attrs{"axis": ir.IntAttr(0), "epsilon": ir.FloatAttr(0)}, ins(f32(sh(2, 1), 1, 3), f32(sh(2, 1), 1, 1)),
			outs(f32(sh(2, 1), -1, 1)), ""},
		{"matmul 2-D", "MatMul", nil, ins(f32(sh(2, 2), 1, 2, 3, 4), f32(sh(2, 1), 1, 1)), outs(f32(sh(2, 1), 3, 7)), ""},
		{"matmul 1-D x 2-D", "MatMul", nil, ins(f32(sh(2), 1, 2), f32(sh(2, 2), 1, 2, 3, 4)), outs(f32(sh(2), 7, 10)), ""},
		{"matmul 2-D x 1-D", "MatMul", nil, ins(f32(sh(2, 2), 1, 2, 3, 4), f32(sh(2), 1, 1)), outs(f32(sh(2), 3, 7)), ""},
		{"matmul 1-D x 1-D", "MatMul", nil, ins(f32(sh(2), 1, 2), f32(sh(2), 3, 4)), outs(f32(nil, 11)), ""},
		{"matmul batch x shared", "MatMul", nil, ins(f32(sh(2, 1, 2), 1, 2, 3, 4), f32(sh(2, 1), 1, 10)), outs(f32(sh(2, 1, 1), 21, 43)), ""},
		{"matmul batch broadcast", "MatMul", nil, ins(f32(sh(2, 1, 1, 2), 1, 2, 3, 4), f32(sh(3, 2, 1), 1, 0, 0, 1, 1, 1)),
			outs(f32(sh(2, 3, 1, 1), 1, 2, 3, 3, 4, 7)), ""},
		{"matmul shared x batch", "MatMul", nil, ins(f32(sh(1, 2), 1, 2), f32(sh(2, 2, 1), 1, 1, 2, 2)), outs(f32(sh(2, 1, 1), 3, 6)), ""},
		{"matmul f64", "MatMul", nil, ins(toFloat64(f32(sh(1, 2), 1, 2)), toFloat64(f32(sh(2, 1), 3, 4))), outs(toFloat64(f32(sh(1, 1), 11))), ""},
		{"matmul k mismatch", "MatMul", nil, ins(f32(sh(2, 2), 1, 2, 3, 4), f32(sh(3), 1, 1, 1)), nil, "inner dims"},
		{"gemm", "Gemm", attrs{"transB": ir.IntAttr(1), "alpha": ir.FloatAttr(2), "beta": ir.FloatAttr(0.5)},
			ins(f32(sh(1, 2), 1, 2), f32(sh(2, 2), 1, 0, 0, 1), f32(sh(2), 2, 4)), outs(f32(sh(1, 2), 3, 6)), ""},
		{"gemm transA", "Gemm", attrs{"transA": ir.IntAttr(1)}, ins(f32(sh(2, 1), 1, 2), f32(sh(2, 1), 3, 4)), outs(f32(sh(1, 1), 11)), ""},
		{"gemm bad C", "Gemm", nil, ins(f32(sh(1, 2), 1, 2), f32(sh(2, 2), 1, 0, 0, 1), f32(sh(3), 1, 2, 3)), nil, "broadcast"},
	})
}

func TestSoftmaxCrossEntropy(t *testing.T) {
	scores := f32(sh(2, 2), 0, 0, 0, float32(math.Log(3))) // log_probs: [ln.5 ln.5], [ln.25 ln.75]
	labels := i64(sh(2), 0, 1)
	l0, l1 := math.Log(2), -math.Log(0.75)
	runCases(t, []kcase{
		{"mean", "SoftmaxCrossEntropyLoss", nil, ins(scores, labels), outs(f32(nil, float32((l0+l1)/2))), ""},
		{"none with log_prob", "SoftmaxCrossEntropyLoss", attrs{"reduction": ir.StringAttr("none")}, ins(scores, labels),
			outs(f32(sh(2), float32(l0), float32(l1)), f32(sh(2, 2), float32(-math.Log(2)), float32(-math.Log(2)), float32(math.Log(0.25)), float32(math.Log(0.75)))), ""},
		{"sum", "SoftmaxCrossEntropyLoss", attrs{"reduction": ir.StringAttr("sum")}, ins(scores, labels), outs(f32(nil, float32(l0+l1))), ""},
		{"ignore index", "SoftmaxCrossEntropyLoss", attrs{"ignore_index": ir.IntAttr(-100)}, ins(scores, i64(sh(2), -100, 1)), outs(f32(nil, float32(l1))), ""},
		{"weights mean", "SoftmaxCrossEntropyLoss", nil, ins(scores, labels, f32(sh(2), 1, 3)), outs(f32(nil, float32((l0+3*l1)/4))), ""},
		{"3-D", "SoftmaxCrossEntropyLoss", attrs{"reduction": ir.StringAttr("none")}, ins(f32(sh(1, 2, 2), 0, 0, 0, float32(math.Log(3))), i64(sh(1, 2), 1, 1)),
			outs(f32(sh(1, 2), float32(math.Log(2)), float32(math.Log(4.0/3)))), ""},
		{"label out of range", "SoftmaxCrossEntropyLoss", nil, ins(scores, i64(sh(2), 0, 2)), nil, "out of range"},
		{"labels shape", "SoftmaxCrossEntropyLoss", nil, ins(scores, i64(sh(3), 0, 1, 1)), nil, "labels shape"},
	})
}

func TestDropout(t *testing.T) {
	k, _ := Lookup("", "Dropout")
	const n = 100000
	x := ir.NewTensor(ir.Float32, n)
	for i := range x.F32 {
		x.F32[i] = 1
	}
	node := &ir.Node{Name: "encoder.layer.0.dropout", Op: "Dropout", Outputs: []*ir.Value{{}, {}}}
	train := bools(nil, true)
	run := func(ctx *Ctx, ratio float32, mode *ir.Tensor) []*ir.Tensor {
		t.Helper()
		outs, err := k(ctx, node, ins(x, f32(nil, ratio), mode))
		if err != nil {
			t.Fatal(err)
		}
		return outs
	}
	a := run(&Ctx{Seed: 1, Step: 5, Threads: 1}, 0.1, train)
	b := run(&Ctx{Seed: 1, Step: 5, Threads: 8}, 0.1, train)
	kept := 0
	for i := range a[1].Bool {
		if a[1].Bool[i] != b[1].Bool[i] || a[0].F32[i] != b[0].F32[i] {
			t.Fatal("mask depends on the thread count")
		}
		if a[1].Bool[i] {
			kept++
			if math.Abs(float64(a[0].F32[i])-1/0.9) > 1e-6 {
				t.Fatalf("kept element scaled to %v, want 1/0.9", a[0].F32[i])
			}
		} else if a[0].F32[i] != 0 {
			t.Fatal("dropped element is not zero")
		}
	}
	if frac := float64(kept) / n; math.Abs(frac-0.9) > 0.01 {
		t.Errorf("kept fraction %v, want ~0.9", frac)
	}
	c := run(&Ctx{Seed: 1, Step: 6}, 0.1, train)
	same := 0
	for i := range c[1].Bool {
		if c[1].Bool[i] == a[1].Bool[i] {
			same++
		}
	}
	if same == n {
		t.Error("the mask does not change with the step")
	}
	for _, tc := range []struct {
		name  string
		ctx   *Ctx
		ratio float32
		mode  *ir.Tensor
	}{
		{"no training_mode", &Ctx{Seed: 1}, 0.5, nil},
		{"training_mode false", &Ctx{Seed: 1}, 0.5, bools(nil, false)},
		{"ratio 0", &Ctx{Seed: 1}, 0, train},
		{"forced eval", &Ctx{Seed: 1, ForceEval: true}, 0.5, train},
	} {
		o := run(tc.ctx, tc.ratio, tc.mode)
		for i := range o[0].F32 {
			if o[0].F32[i] != 1 || !o[1].Bool[i] {
				t.Fatalf("%s: not the identity with an all-true mask", tc.name)
			}
		}
	}
	node1 := &ir.Node{Name: "d", Op: "Dropout", Outputs: []*ir.Value{{}}}
	if o, _ := k(nil, node1, ins(x)); len(o) != 1 {
		t.Errorf("single-output node got %d outputs", len(o))
	}
}

// Large tensors take the parallel paths; they must match the serial ones.
func TestParallelMatchesSerial(t *testing.T) {
	const rows, cols = 300, 257
	x := ir.NewTensor(ir.Float32, 4, rows, cols)
	for i := range x.F32 {
		x.F32[i] = float32(math.Sin(float64(i)))
	}
	bias := ir.NewTensor(ir.Float32, cols)
	for i := range bias.F32 {
		bias.F32[i] = float32(i)
	}
	col := ir.NewTensor(ir.Float32, 4, rows, 1)
	for i := range col.F32 {
		col.F32[i] = float32(i % 7)
	}
	scale := f32(sh(cols), make([]float32, cols)...)
	for i := range scale.F32 {
		scale.F32[i] = 1
	}
	cases := []struct {
		op  string
		a   attrs
		ins []*ir.Tensor
	}{
		{"Add", nil, ins(x, bias)},
		{"Sub", nil, ins(x, col)},
		{"Mul", nil, ins(x, x)},
		{"Where", nil, ins(bools(sh(1), true), x, f32(nil, 0))},
		{"Softmax", nil, ins(x)},
		{"Softmax", attrs{"axis": ir.IntAttr(1)}, ins(x)},
		{"ReduceMean", attrs{"axes": ir.IntsAttr(-1)}, ins(x)},
		{"ReduceSum", attrs{"axes": ir.IntsAttr(0, 1)}, ins(x)},
		{"LayerNormalization", nil, ins(x, scale)},
		{"Transpose", attrs{"perm": ir.IntsAttr(0, 2, 1)}, ins(x)},
		{"Tanh", nil, ins(x)},
		{"Gather", nil, ins(x, i64(sh(3), 3, 0, 1))},
	}
	for _, c := range cases {
		k, _ := Lookup("", c.op)
		node := &ir.Node{Name: "p", Op: c.op, Attrs: c.a}
		s, err1 := k(&Ctx{Threads: 1}, node, c.ins)
		p, err2 := k(&Ctx{Threads: 8}, node, c.ins)
		if err1 != nil || err2 != nil {
			t.Fatalf("%s: %v %v", c.op, err1, err2)
		}
		if err := compareTensors(p[0], s[0], 0, 0); err != nil {
			t.Errorf("%s %v: parallel differs from serial: %v", c.op, c.a, err)
		}
	}
	// Spot-check the broadcast add against a direct loop.
	p, _ := call(t, "Add", nil, x, bias)
	for i := 0; i < x.Len(); i += 997 {
		if p[0].F32[i] != x.F32[i]+bias.F32[i%cols] {
			t.Fatalf("Add element %d wrong", i)
		}
	}
}

// Every kernel must answer malformed input with an error, never a panic.
func TestNoPanics(t *testing.T) {
	inputs := [][]*ir.Tensor{
		nil,
		ins(nil, nil, nil),
		ins(f32(nil, 1)),
		ins(f32(sh(2, 3), 1, 2, 3, 4, 5, 6), f32(sh(4), 1, 2, 3, 4)),
		ins(i64(sh(2), 5, -9), i64(sh(1), 99), i64(sh(1), -99), i64(sh(1), 7), i64(sh(1), 0)),
		ins(f32(sh(2, 2), 1, 2, 3, 4), i64(sh(2), 7, 7), f32(sh(3), 1, 2, 3)),
		ins(bools(sh(2), true, false), bools(sh(3), true, false, true)),
		ins(&ir.Tensor{DType: ir.Float32, Shape: []int{3}, F32: []float32{1}}, f32(sh(3), 1, 2, 3)),
		ins(f32(sh(0, 2)), f32(sh(2, 0))),
	}
	attrSets := []attrs{nil, {"axis": ir.IntAttr(5), "axes": ir.IntsAttr(9), "perm": ir.IntsAttr(3, 1)}}
	for _, op := range Ops() {
		domain, name := "", op
		if i := strings.Index(op, ":"); i > 0 {
			domain, name = op[:i], op[i+1:]
		}
		k, _ := Lookup(domain, name)
		for _, in := range inputs {
			for _, a := range attrSets {
				func() {
					defer func() {
						if r := recover(); r != nil {
							t.Errorf("%s panicked on %v %v: %v", op, in, a, r)
						}
					}()
					k(&Ctx{}, &ir.Node{Name: "x", Op: name, Attrs: a}, in)
				}()
			}
		}
	}
}

func TestRegistry(t *testing.T) {
	ops := Ops()
	for _, want := range []string{"MatMul", "Softmax", "LayerNormalization", "Dropout", "SoftmaxCrossEntropyLoss", "com.microsoft:Gelu"} {
		found := false
		for _, op := range ops {
			found = found || op == want
		}
		if !found {
			t.Errorf("Ops() lacks %s", want)
		}
	}
	if _, ok := Lookup("ai.onnx", "Add"); !ok {
		t.Error("ai.onnx domain not accepted")
	}
	if _, ok := Lookup("com.example", "Add"); ok {
		t.Error("unknown domain accepted")
	}
}

// compareTensors checks dtype, shape and values within atol + rtol·|want|;
// NaN matches NaN.
func compareTensors(got, want *ir.Tensor, rtol, atol float64) error {
	if storage(got.DType) != storage(want.DType) {
		return fmt.Errorf("dtype %v, want %v", got.DType, want.DType)
	}
	if fmt.Sprint(got.Shape) != fmt.Sprint(want.Shape) {
		return fmt.Errorf("shape %v, want %v", got.Shape, want.Shape)
	}
	for i := 0; i < want.Len(); i++ {
		g, w := got.Float64At(i), want.Float64At(i)
		if math.IsNaN(w) && math.IsNaN(g) || g == w {
			continue
		}
		if math.IsNaN(g) || math.IsNaN(w) || math.Abs(g-w) > atol+rtol*math.Abs(w) {
			return fmt.Errorf("element %d = %v, want %v (got %v, want %v)", i, g, w, got, want)
		}
	}
	return nil
}

// TestMatMulTransposed: ai.crsc.MatMul's transA/transB equal MatMul on
// explicitly transposed operands, on the GEMM path and the plain-loop path.
func TestMatMulTransposed(t *testing.T) {
	a := f32([]int{2, 3, 4}, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, -1, -2, -3, -4, -5, -6, -7, -8, -9, -10, -11, -12)
	b := f32([]int{2, 3}, 1, -1, 2, 0.5, -3, 4)
	tr := func(x *ir.Tensor, perm ...int64) *ir.Tensor {
		n := &ir.Node{Name: "t", Op: "Transpose", Attrs: ir.Attrs{"perm": ir.IntsAttr(perm...)}}
		out, err := transposeKernel(nil, n, []*ir.Tensor{x})
		if err != nil {
			t.Fatal(err)
		}
		return out[0]
	}
	plain := &ir.Node{Name: "mm", Op: "MatMul"}
	trans := &ir.Node{Name: "mmT", Op: "MatMul", Domain: "ai.crsc", Attrs: ir.Attrs{"transA": ir.IntAttr(1), "transB": ir.IntAttr(1)}}
	// want = Aᵀ·Bᵀ per batch, with A [2,3,4] → [2,4,3] and B [2,3] → [3,2].
	want, err := matMulKernel(nil, plain, []*ir.Tensor{tr(a, 0, 2, 1), tr(b, 1, 0)})
	if err != nil {
		t.Fatal(err)
	}
	got, err := matMulKernel(nil, trans, []*ir.Tensor{a, b})
	if err != nil {
		t.Fatal(err)
	}
	if err := compareTensors(got[0], want[0], 1e-6, 1e-6); err != nil {
		t.Fatal(err)
	}
	a64, b64 := convert(a, ir.Float64), convert(b, ir.Float64)
	got64, err := matMulKernel(nil, trans, []*ir.Tensor{a64, b64})
	if err != nil {
		t.Fatal(err)
	}
	if err := compareTensors(got64[0], convert(want[0], ir.Float64), 1e-6, 1e-6); err != nil {
		t.Fatal(err)
	}
}

// Dividing by a power of two takes the multiply path; it must give the
// division's bits for every operand, subnormals and specials included,
// and powers of two at the ends of the range must keep dividing.
func TestDivByPowerOfTwoExact(t *testing.T) {
	k, _ := Lookup("", "Div")
	xs := []float32{1, -3.7, 1e-40, -1e-45, 3e38, float32(math.Inf(1)), float32(math.NaN()), 0, 0.1, 7.000001}
	for _, y := range []float32{8, 0.125, -2, 1, 0x1p-126, 0x1p-149, 0x1p127, 3, 0.1} {
		a := f32(sh(len(xs)), xs...)
		outs, err := k(&Ctx{}, &ir.Node{Name: "d", Op: "Div"}, ins(a, f32(nil, y)))
		if err != nil {
			t.Fatal(err)
		}
		for i, x := range xs {
			want := x / y
			if got := outs[0].F32[i]; math.Float32bits(got) != math.Float32bits(want) && !(got != got && want != want) {
				t.Errorf("%g / %g = %g, want %g", x, y, got, want)
			}
		}
	}
}
