package cpu

import (
	"math"
	"math/rand"
	"slices"
	"strings"
	"testing"

	"crsc/compiler/ir"
)

// The gradient kernels are checked against the forward kernels they invert,
// by central differences in float64: for a random cotangent c,
// ⟨c, (f(x+h·e_i) - f(x-h·e_i))/2h⟩ must equal the backward kernel's entry i.

func gF64(shape []int, v ...float64) *ir.Tensor {
	return &ir.Tensor{DType: ir.Float64, Shape: append([]int{}, shape...), F64: v}
}
func gI64(shape []int, v ...int64) *ir.Tensor { return ir.FromInt64(shape, v) }
func gBool(v bool) *ir.Tensor                 { return &ir.Tensor{DType: ir.Bool, Shape: []int{}, Bool: []bool{v}} }
func gShape(d ...int) *ir.Tensor {
	v := make([]int64, len(d))
	for i, x := range d {
		v[i] = int64(x)
	}
	return gI64([]int{len(d)}, v...)
}

// gRand is a float64 tensor of values in [-1, 1).
func gRand(r *rand.Rand, shape ...int) *ir.Tensor {
	t := ir.NewTensor(ir.Float64, shape...)
	for i := range t.F64 {
		t.F64[i] = 2*r.Float64() - 1
	}
	return t
}

// gNode builds a node; outputs, when given, are placeholders whose nil
// entries mark outputs the graph does not need.
func gNode(domain, op, name string, a ir.Attrs, outs ...*ir.Value) *ir.Node {
	return &ir.Node{Name: name, Op: op, Domain: domain, Attrs: a, Outputs: outs}
}

func gRun(t *testing.T, ctx *Ctx, n *ir.Node, ins ...*ir.Tensor) []*ir.Tensor {
	t.Helper()
	outs, err := gTry(ctx, n, ins...)
	if err != nil {
		t.Fatal(err)
	}
	return outs
}

func gTry(ctx *Ctx, n *ir.Node, ins ...*ir.Tensor) ([]*ir.Tensor, error) {
	k, ok := Lookup(n.Domain, n.Op)
	if !ok {
		return nil, errf(n, "no kernel")
	}
	if ctx == nil {
		ctx = &Ctx{Threads: 4}
	}
	return k(ctx, n, ins)
}

// checkNodeErr fails t unless err contains want and names the node (as
// errf does): a kernel's errors say which node of a graph failed.
func checkNodeErr(t *testing.T, op, node string, ins []*ir.Tensor, err error, want string) {
	t.Helper()
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("%s %v: error %v, want one containing %q", op, ins, err, want)
		return
	}
	if !strings.Contains(err.Error(), `"`+node+`"`) {
		t.Errorf("%s: error %q does not name the node", op, err)
	}
}

// fdCheck compares grad with central differences of ⟨cot, f(ins)⟩ over
// every element of the float64 input ins[wrt].
func fdCheck(t *testing.T, what string, f func(ins []*ir.Tensor) *ir.Tensor, ins []*ir.Tensor, wrt int, cot, grad *ir.Tensor) {
	t.Helper()
	const h = 1e-6
	x := ins[wrt]
	if grad == nil || !slices.Equal(grad.Shape, x.Shape) || grad.DType != ir.Float64 {
		t.Fatalf("%s: gradient %v, want f64 of shape %v", what, grad, x.Shape)
	}
	dot := func() float64 {
		y := f(ins)
		if !slices.Equal(y.Shape, cot.Shape) {
			t.Fatalf("%s: forward shape %v, cotangent %v", what, y.Shape, cot.Shape)
		}
		s := 0.0
		for i, v := range y.F64 {
			s += v * cot.F64[i]
		}
		return s
	}
	saved := x.F64
	for i := range saved {
		x.F64 = append([]float64(nil), saved...)
		x.F64[i] = saved[i] + h
		ins[wrt] = x
		up := dot()
		x.F64[i] = saved[i] - h
		down := dot()
		fd := (up - down) / (2 * h)
		if g := grad.F64[i]; math.Abs(fd-g) > 1e-6*(1+math.Abs(g)) {
			t.Errorf("%s: d/dx[%d]: backward %.10g, finite difference %.10g", what, i, g, fd)
		}
	}
	x.F64 = saved
}

// fwd wraps a forward node as f(ins) = output k.
func fwd(t *testing.T, ctx *Ctx, n *ir.Node, k int) func([]*ir.Tensor) *ir.Tensor {
	return func(ins []*ir.Tensor) *ir.Tensor { return gRun(t, ctx, n, ins...)[k] }
}

func crsc(op string, a ir.Attrs, outs ...*ir.Value) *ir.Node {
	return gNode(crscDomain, op, "g_"+op, a, outs...)
}

func TestSumToGrad(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	// Expand [3,1] → [2,3,4].
	x := gRand(r, 3, 1)
	cot := gRand(r, 2, 3, 4)
	g := gRun(t, nil, crsc("SumTo", nil), cot, gShape(3, 1))[0]
	fdCheck(t, "Expand", fwd(t, nil, gNode("", "Expand", "e", nil), 0), []*ir.Tensor{x, gShape(2, 3, 4)}, 0, cot, g)

	// Add of [1,4] and [2,3,1]: each operand's gradient sums to its shape.
	a, b := gRand(r, 1, 4), gRand(r, 2, 3, 1)
	add := fwd(t, nil, gNode("", "Add", "add", nil), 0)
	ga := gRun(t, nil, crsc("SumTo", nil), cot, gShape(1, 4))[0]
	gb := gRun(t, nil, crsc("SumTo", nil), cot, gShape(2, 3, 1))[0]
	fdCheck(t, "Add a", add, []*ir.Tensor{a, b}, 0, cot, ga)
	fdCheck(t, "Add b", add, []*ir.Tensor{a, b}, 1, cot, gb)

	// To a scalar, and the same-shape copy (which must not alias dY).
	s := gRun(t, nil, crsc("SumTo", nil), cot, gShape())[0]
	want := 0.0
	for _, v := range cot.F64 {
		want += v
	}
	if len(s.Shape) != 0 || math.Abs(s.F64[0]-want) > 1e-12 {
		t.Errorf("SumTo scalar: %v, want %g", s, want)
	}
	c := gRun(t, nil, crsc("SumTo", nil), cot, gShape(2, 3, 4))[0]
	if !slices.Equal(c.Shape, cot.Shape) || &c.F64[0] == &cot.F64[0] || c.F64[5] != cot.F64[5] {
		t.Errorf("SumTo same shape: %v", c)
	}
	// float32 accumulates in float64.
	f := ir.FromFloat32([]int{3, 2}, []float32{1, 2, 3, 4, 5, 6})
	if got := gRun(t, nil, crsc("SumTo", nil), f, gShape(1, 2))[0]; !slices.Equal(got.Shape, []int{1, 2}) || got.F32[0] != 9 || got.F32[1] != 12 {
		t.Errorf("SumTo f32: %v", got)
	}
}

func TestGatherGrad(t *testing.T) {
	r := rand.New(rand.NewSource(2))
	for _, tc := range []struct {
		name  string
		data  []int
		idx   *ir.Tensor
		axis  int64
		outSh []int
	}{
		{"axis0 dup neg", []int{5, 3}, gI64([]int{2, 2}, 1, -1, 1, 0), 0, []int{2, 2, 3}},
		{"axis1 3-D", []int{2, 4, 3}, gI64([]int{3}, 3, -4, 3), 1, []int{2, 3, 3}},
		{"axis-1 scalar index", []int{2, 4}, gI64(nil, -2), -1, []int{2}},
	} {
		a := ir.Attrs{"axis": ir.IntAttr(tc.axis)}
		x := gRand(r, tc.data...)
		cot := gRand(r, tc.outSh...)
		g := gRun(t, nil, crsc("GatherGrad", a), cot, tc.idx, gShape(tc.data...))[0]
		fdCheck(t, tc.name, fwd(t, nil, gNode("", "Gather", "gather", a), 0), []*ir.Tensor{x, tc.idx}, 0, cot, g)
	}
}

// TestGatherGradEmbedding: the embedding case, with a hot row (padding),
// must give bit-identical results whatever the thread count (row split vs
// column split) and equal the float64 sum rounded once.
func TestGatherGradEmbedding(t *testing.T) {
	r := rand.New(rand.NewSource(3))
	const vocab, hidden, batch, seq = 50, 512, 4, 80
	idx := make([]int64, batch*seq)
	for i := range idx {
		if r.Intn(2) == 0 {
			idx[i] = 0 // padding
		} else {
			idx[i] = int64(r.Intn(vocab)) - vocab*int64(r.Intn(2)) // negatives wrap
		}
	}
	dy := ir.NewTensor(ir.Float32, batch, seq, hidden)
	for i := range dy.F32 {
		dy.F32[i] = float32(r.NormFloat64())
	}
	ins := []*ir.Tensor{dy, gI64([]int{batch, seq}, idx...), gShape(vocab, hidden)}
	one := gRun(t, &Ctx{Threads: 1}, crsc("GatherGrad", nil), ins...)[0]
	many := gRun(t, &Ctx{Threads: 8}, crsc("GatherGrad", nil), ins...)[0]
	want := make([]float64, vocab*hidden)
	for j, v := range idx {
		if v < 0 {
			v += vocab
		}
		for c := 0; c < hidden; c++ {
			want[int(v)*hidden+c] += float64(dy.F32[j*hidden+c])
		}
	}
	for i := range want {
		if one.F32[i] != many.F32[i] || one.F32[i] != float32(want[i]) {
			t.Fatalf("element %d: 1 thread %g, 8 threads %g, want %g", i, one.F32[i], many.F32[i], float32(want[i]))
		}
	}
}

func TestSliceGrad(t *testing.T) {
	r := rand.New(rand.NewSource(4))
	for _, tc := range []struct {
		name  string
		shape []int
		sl    []*ir.Tensor // starts, ends, axes?, steps?
	}{
		{"negative steps", []int{4, 5, 6}, []*ir.Tensor{gI64([]int{2}, -1, 1), gI64([]int{2}, -100, 100), gI64([]int{2}, 0, -1), gI64([]int{2}, -2, 2)}},
		{"negative step inner", []int{3, 7}, []*ir.Tensor{gI64([]int{1}, 100), gI64([]int{1}, 0), gI64([]int{1}, 1), gI64([]int{1}, -3)}},
		{"defaults", []int{4, 5}, []*ir.Tensor{gI64([]int{2}, 1, 0), gI64([]int{2}, 3, -1)}},
		{"empty", []int{4, 5}, []*ir.Tensor{gI64([]int{1}, 3), gI64([]int{1}, 1)}},
	} {
		x := gRand(r, tc.shape...)
		sl := gNode("", "Slice", "slice", nil)
		y := gRun(t, nil, sl, append([]*ir.Tensor{x}, tc.sl...)...)[0]
		cot := gRand(r, y.Shape...)
		g := gRun(t, nil, crsc("SliceGrad", nil), append([]*ir.Tensor{cot, gShape(tc.shape...)}, tc.sl...)...)[0]
		fdCheck(t, tc.name, fwd(t, nil, sl, 0), append([]*ir.Tensor{x}, tc.sl...), 0, cot, g)
	}
}

func TestDropoutGrad(t *testing.T) {
	r := rand.New(rand.NewSource(5))
	ctx := &Ctx{Seed: 7, Step: 3, Threads: 4}
	x := gRand(r, 6, 7)
	ratio := gF64(nil, 0.3)
	drop := gNode("", "Dropout", "drop", nil)
	outs := gRun(t, ctx, drop, x, ratio, gBool(true))
	mask := outs[1]
	kept := 0
	for _, k := range mask.Bool {
		if k {
			kept++
		}
	}
	if kept == 0 || kept == len(mask.Bool) {
		t.Fatalf("degenerate mask: %d of %d kept", kept, len(mask.Bool))
	}
	cot := gRand(r, 6, 7)
	g := gRun(t, ctx, crsc("DropoutGrad", nil), cot, mask, ratio, gBool(true))[0]
	fdCheck(t, "Dropout", fwd(t, ctx, drop, 0), []*ir.Tensor{x, ratio, gBool(true)}, 0, cot, g)

	// float32: the backward scales exactly as the forward does.
	x32 := ir.FromFloat32([]int{50}, make([]float32, 50))
	for i := range x32.F32 {
		x32.F32[i] = float32(r.NormFloat64())
	}
	r32 := ir.ScalarF32(0.1)
	fo := gRun(t, ctx, drop, x32, r32, gBool(true))
	bo := gRun(t, ctx, crsc("DropoutGrad", nil), x32, fo[1], r32, gBool(true))[0]
	for i := range fo[0].F32 {
		if fo[0].F32[i] != bo.F32[i] {
			t.Fatalf("f32 element %d: forward %g, backward %g", i, fo[0].F32[i], bo.F32[i])
		}
	}

	// Identity: no training_mode, training_mode false, ForceEval, ratio 0;
	// the mask is not needed then.
	for _, tc := range []struct {
		name string
		ctx  *Ctx
		ins  []*ir.Tensor
	}{
		{"no training_mode", ctx, []*ir.Tensor{cot, mask, ratio}},
		{"training false", ctx, []*ir.Tensor{cot, nil, ratio, gBool(false)}},
		{"ForceEval", &Ctx{Seed: 7, ForceEval: true}, []*ir.Tensor{cot, mask, ratio, gBool(true)}},
		{"ratio 0", ctx, []*ir.Tensor{cot, mask, gF64(nil, 0), gBool(true)}},
	} {
		got := gRun(t, tc.ctx, crsc("DropoutGrad", nil), tc.ins...)[0]
		for i := range cot.F64 {
			if got.F64[i] != cot.F64[i] {
				t.Fatalf("%s: element %d %g, want %g", tc.name, i, got.F64[i], cot.F64[i])
			}
		}
		if &got.F64[0] == &cot.F64[0] {
			t.Errorf("%s: output aliases dY", tc.name)
		}
	}
}

func TestLayerNormGrad(t *testing.T) {
	r := rand.New(rand.NewSource(6))
	for _, tc := range []struct {
		name        string
		axis        int64
		x, scale, b []int
	}{
		{"axis -1", -1, []int{2, 3, 4}, []int{4}, []int{4}},
		{"axis 1", 1, []int{2, 3, 4}, []int{3, 4}, []int{3, 4}},
		{"axis 1 broadcast scale", 1, []int{2, 3, 4}, []int{4}, []int{4}},
		{"axis 0", 0, []int{3, 2}, []int{3, 2}, []int{3, 2}},
	} {
		a := ir.Attrs{"axis": ir.IntAttr(tc.axis), "epsilon": ir.FloatAttr(1e-3)}
		x, scale, bias := gRand(r, tc.x...), gRand(r, tc.scale...), gRand(r, tc.b...)
		ln := gNode("", "LayerNormalization", "ln", a)
		fo := gRun(t, nil, ln, x, scale, bias)
		cot := gRand(r, tc.x...)
		g := gRun(t, nil, crsc("LayerNormalizationGrad", ir.Attrs{"axis": ir.IntAttr(tc.axis)}), cot, x, scale, fo[1], fo[2])
		f := fwd(t, nil, ln, 0)
		fdCheck(t, tc.name+" dX", f, []*ir.Tensor{x, scale, bias}, 0, cot, g[0])
		fdCheck(t, tc.name+" dScale", f, []*ir.Tensor{x, scale, bias}, 1, cot, g[1])
		if slices.Equal(tc.scale, tc.b) {
			fdCheck(t, tc.name+" dBias", f, []*ir.Tensor{x, scale, bias}, 2, cot, g[2])
		}
	}

	// Partially requested outputs: nil entries are skipped.
	x, scale := gRand(r, 3, 5), gRand(r, 5)
	fo := gRun(t, nil, gNode("", "LayerNormalization", "ln", nil), x, scale)
	v := &ir.Value{Name: "v"}
	onlyScale := gRun(t, nil, crsc("LayerNormalizationGrad", nil, nil, v, nil), x, x, scale, fo[1], fo[2])
	if len(onlyScale) != 3 || onlyScale[0] != nil || onlyScale[1] == nil || onlyScale[2] != nil {
		t.Errorf("outputs (nil, v, nil): got %v", onlyScale)
	}
	onlyDX := gRun(t, nil, crsc("LayerNormalizationGrad", nil, v), x, x, scale, fo[1], fo[2])
	if len(onlyDX) != 1 || onlyDX[0] == nil {
		t.Errorf("outputs (v): got %v", onlyDX)
	}
}

// TestLayerNormGradThreads: row blocks do not depend on the thread count,
// so the parameter gradients are bit-identical with 1 and 8 threads.
func TestLayerNormGradThreads(t *testing.T) {
	r := rand.New(rand.NewSource(7))
	const rows, d = 300, 96
	mk := func(n int) *ir.Tensor {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(r.NormFloat64())
		}
		return ir.FromFloat32([]int{n}, v)
	}
	x, dy, scale := mk(rows*d).Reshaped([]int{rows, d}), mk(rows*d).Reshaped([]int{rows, d}), mk(d)
	fo := gRun(t, nil, gNode("", "LayerNormalization", "ln", nil), x, scale)
	one := gRun(t, &Ctx{Threads: 1}, crsc("LayerNormalizationGrad", nil), dy, x, scale, fo[1], fo[2])
	many := gRun(t, &Ctx{Threads: 8}, crsc("LayerNormalizationGrad", nil), dy, x, scale, fo[1], fo[2])
	for k := range one {
		for i := range one[k].F32 {
			if one[k].F32[i] != many[k].F32[i] {
				t.Fatalf("output %d element %d: %g vs %g", k, i, one[k].F32[i], many[k].F32[i])
			}
		}
	}
}

func TestSoftmaxCrossEntropyLossGrad(t *testing.T) {
	r := rand.New(rand.NewSource(8))
	for _, shape := range [][]int{{3, 4, 2}, {5, 3}} {
		N, C := shape[0], shape[1]
		labShape := append([]int{N}, shape[2:]...)
		nl := ir.NumElements(labShape)
		lab := make([]int64, nl)
		for i := range lab {
			lab[i] = int64(r.Intn(C))
		}
		lab[1] = -1 // ignored
		labels := gI64(labShape, lab...)
		for _, red := range []string{"none", "sum", "mean"} {
			for _, withW := range []bool{false, true} {
				a := ir.Attrs{"reduction": ir.StringAttr(red), "ignore_index": ir.IntAttr(-1)}
				ins := []*ir.Tensor{gRand(r, shape...), labels}
				if withW {
					w := gRand(r, C)
					for i := range w.F64 {
						w.F64[i] += 1.5 // positive weights
					}
					ins = append(ins, w)
				}
				sce := gNode("", "SoftmaxCrossEntropyLoss", "sce", a)
				fo := gRun(t, nil, sce, ins...)
				cot := gRand(r, fo[0].Shape...)
				gins := []*ir.Tensor{cot, fo[1], labels}
				if withW {
					gins = append(gins, ins[2])
				}
				g := gRun(t, nil, crsc("SoftmaxCrossEntropyLossGrad", a), gins...)[0]
				name := red
				if withW {
					name += " weighted"
				}
				fdCheck(t, name, fwd(t, nil, sce, 0), ins, 0, cot, g)
				D := nl / N
				i, j := 1/D, 1%D // label position 1, the ignored one
				for c := 0; c < C; c++ {
					if q := (i*C+c)*D + j; g.F64[q] != 0 {
						t.Errorf("%s: ignored position has gradient %g", name, g.F64[q])
					}
				}
			}
		}
	}
	// Every label ignored: mean is the constant 0, so is its gradient.
	a := ir.Attrs{"ignore_index": ir.IntAttr(2)}
	scores := gRand(r, 2, 3)
	fo := gRun(t, nil, gNode("", "SoftmaxCrossEntropyLoss", "sce", a), scores, gI64([]int{2}, 2, 2))
	g := gRun(t, nil, crsc("SoftmaxCrossEntropyLossGrad", a), gF64(nil, 1), fo[1], gI64([]int{2}, 2, 2))[0]
	for i, v := range g.F64 {
		if v != 0 {
			t.Errorf("all ignored: element %d is %g", i, v)
		}
	}
	// float32 runs too.
	s32 := ir.FromFloat32([]int{2, 3}, []float32{1, 2, 3, 0, 0, 0})
	fo = gRun(t, nil, gNode("", "SoftmaxCrossEntropyLoss", "sce", nil), s32, gI64([]int{2}, 0, 1))
	g = gRun(t, nil, crsc("SoftmaxCrossEntropyLossGrad", nil), ir.ScalarF32(1), fo[1], gI64([]int{2}, 0, 1))[0]
	if g.DType != ir.Float32 || math.Abs(float64(g.F32[4])-(1.0/3-1)/2) > 1e-6 {
		t.Errorf("f32: %v", g)
	}
}

func TestGradKernelErrors(t *testing.T) {
	x := gF64([]int{2, 3}, 1, 2, 3, 4, 5, 6)
	lp := gF64([]int{2, 3}, -1, -1, -1, -1, -1, -1)
	mask := &ir.Tensor{DType: ir.Bool, Shape: []int{3}, Bool: make([]bool, 3)}
	for _, tc := range []struct {
		op  string
		a   ir.Attrs
		ins []*ir.Tensor
		err string
	}{
		{"SumTo", nil, []*ir.Tensor{x, gShape(4)}, "does not broadcast"},
		{"SumTo", nil, []*ir.Tensor{x, gShape(1, 2, 3)}, "larger rank"},
		{"SumTo", nil, []*ir.Tensor{x, gShape(-1, 3)}, "negative dim"},
		{"SumTo", nil, []*ir.Tensor{x}, "missing required input"},
		{"GatherGrad", nil, []*ir.Tensor{x, gI64([]int{2}, 0, 3), gShape(3, 3)}, "out of range"},
		{"GatherGrad", nil, []*ir.Tensor{x, gI64([]int{2}, 0, -4), gShape(3, 3)}, "out of range"},
		{"GatherGrad", nil, []*ir.Tensor{x, gI64([]int{3}, 0, 1, 2), gShape(3, 3)}, "dY shape"},
		{"GatherGrad", ir.Attrs{"axis": ir.IntAttr(2)}, []*ir.Tensor{x, gI64([]int{2}, 0, 1), gShape(3, 3)}, "axis 2 out of range"},
		{"GatherGrad", nil, []*ir.Tensor{x, gI64([]int{2}, 0, 1), gShape()}, "rank >= 1"},
		{"SliceGrad", nil, []*ir.Tensor{x, gShape(4, 3), gI64([]int{1}, 0), gI64([]int{1}, 3)}, "dY shape"},
		{"SliceGrad", nil, []*ir.Tensor{x, gShape(4, 3), gI64([]int{1}, 0), gI64([]int{1}, 2), gI64([]int{1}, 0), gI64([]int{1}, 0)}, "step 0"},
		{"SliceGrad", nil, []*ir.Tensor{x, gShape(4, 3), gI64([]int{1}, 0), gI64([]int{2}, 2, 2)}, "differ in length"},
		{"DropoutGrad", nil, []*ir.Tensor{x, mask, gF64(nil, 0.5), gBool(true)}, "mask must be bool"},
		{"DropoutGrad", nil, []*ir.Tensor{x, nil, gF64(nil, 0.5), gBool(true)}, "missing mask"},
		{"DropoutGrad", nil, []*ir.Tensor{x, nil, gF64(nil, 1.5), gBool(true)}, "outside [0, 1]"},
		{"LayerNormalizationGrad", nil, []*ir.Tensor{x, x, gF64([]int{3}, 1, 1, 1), gF64([]int{3}, 0, 0, 0), gF64([]int{2}, 1, 1)}, "mean and inv_std_dev"},
		{"LayerNormalizationGrad", nil, []*ir.Tensor{lp.Reshaped([]int{3, 2}), x, gF64([]int{3}, 1, 1, 1), gF64([]int{2}, 0, 0), gF64([]int{2}, 1, 1)}, "must match X"},
		{"LayerNormalizationGrad", nil, []*ir.Tensor{x, x, gF64([]int{2}, 1, 1), gF64([]int{2}, 0, 0), gF64([]int{2}, 1, 1)}, "does not broadcast"},
		{"LayerNormalizationGrad", nil, []*ir.Tensor{x, x, gF64([]int{3}, 1, 1, 1), gF64([]int{2}, 0, 0)}, "missing required input 4"},
		{"SoftmaxCrossEntropyLossGrad", nil, []*ir.Tensor{gF64(nil, 1), lp, gI64([]int{2}, 0, 3)}, "label 3 out of range"},
		{"SoftmaxCrossEntropyLossGrad", nil, []*ir.Tensor{gF64([]int{2}, 1, 1), lp, gI64([]int{2}, 0, 1)}, "must be a scalar"},
		{"SoftmaxCrossEntropyLossGrad", ir.Attrs{"reduction": ir.StringAttr("none")}, []*ir.Tensor{gF64(nil, 1), lp, gI64([]int{2}, 0, 1)}, "reduction none"},
		{"SoftmaxCrossEntropyLossGrad", ir.Attrs{"reduction": ir.StringAttr("max")}, []*ir.Tensor{gF64(nil, 1), lp, gI64([]int{2}, 0, 1)}, "unknown reduction"},
		{"SoftmaxCrossEntropyLossGrad", nil, []*ir.Tensor{gF64(nil, 1), lp, gI64([]int{3}, 0, 1, 1)}, "labels shape"},
		{"SoftmaxCrossEntropyLossGrad", nil, []*ir.Tensor{gF64(nil, 1), lp, gI64([]int{2}, 0, 1), gF64([]int{2}, 1, 1)}, "weights must be"},
	} {
		_, err := gTry(nil, crsc(tc.op, tc.a), tc.ins...)
		checkNodeErr(t, tc.op, "g_"+tc.op, tc.ins, err, tc.err)
	}
}

func TestGradRegistry(t *testing.T) {
	// Only ai.crsc.MatMul shares its name (and kernel) with an ONNX op.
	checkCrscRegistry(t, crscKernels, "MatMul")
}

// checkCrscRegistry checks that Ops() lists every op of kernels in the
// ai.crsc domain, that Lookup finds it there, and that the default domain
// lacks it (but for the op named shared, when not "").
func checkCrscRegistry(t *testing.T, kernels map[string]Kernel, shared string) {
	t.Helper()
	have := map[string]bool{}
	for _, op := range Ops() {
		have[op] = true
	}
	for op := range kernels {
		if !have["ai.crsc:"+op] {
			t.Errorf("Ops() lacks ai.crsc:%s", op)
		}
		if _, ok := Lookup("ai.crsc", op); !ok {
			t.Errorf("Lookup(ai.crsc, %s) fails", op)
		}
		if _, ok := Lookup("", op); ok && op != shared {
			t.Errorf("%s found in the default domain", op)
		}
	}
}
