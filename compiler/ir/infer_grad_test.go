package ir

import (
	"strings"
	"testing"
)

// crscNode adds an ai.crsc node with nOut outputs.
func crscNode(g *Graph, op string, ins []*Value, nOut int, a Attrs) *Node {
	n := g.AddNode(op, "", ins, nOut, a)
	n.Domain = "ai.crsc"
	return n
}

// shapeNode adds and infers Shape(x).
func shapeNode(t *testing.T, g *Graph, x *Value, a Attrs) *Value {
	t.Helper()
	n := g.AddNode("Shape", "", []*Value{x}, 1, a)
	if err := InferNode(n); err != nil {
		t.Fatal(err)
	}
	return n.Outputs[0]
}

func wantShape(t *testing.T, what string, v *Value, dt DType, s string) {
	t.Helper()
	got := "none"
	if v.HasShape {
		got = v.Shape.String()
	}
	if v.DType != dt || got != s {
		t.Errorf("%s: %v %s, want %v %s", what, v.DType, got, dt, s)
	}
}

func TestInferGradRulesRegistered(t *testing.T) {
	known := map[string]bool{}
	for _, op := range KnownOps() {
		known[op] = true
	}
	for _, op := range []string{"SumTo", "GatherGrad", "SliceGrad", "DropoutGrad", "LayerNormalizationGrad", "SoftmaxCrossEntropyLossGrad"} {
		if !known["ai.crsc."+op] {
			t.Errorf("no shape rule for ai.crsc.%s", op)
		}
	}
}

func TestInferSumTo(t *testing.T) {
	g := NewGraph("g", 17)
	dy := g.AddInput("dy", Float32, Shape{Symbol("batch"), Fixed(3), Fixed(4)})
	x := g.AddInput("x", Float32, Shape{Fixed(3), Fixed(1)})
	// Through Shape(x).
	n := crscNode(g, "SumTo", []*Value{dy, shapeNode(t, g, x, nil)}, 1, nil)
	if err := InferNode(n); err != nil {
		t.Fatal(err)
	}
	wantShape(t, "Shape(x)", n.Outputs[0], Float32, "[3,1]")
	// Shape with start: Shape(x)[1:].
	n = crscNode(g, "SumTo", []*Value{dy, shapeNode(t, g, x, Attrs{"start": IntAttr(1)})}, 1, nil)
	if err := InferNode(n); err != nil {
		t.Fatal(err)
	}
	wantShape(t, "Shape(x)[1:]", n.Outputs[0], Float32, "[1]")
	// A constant.
	c := g.AddInit("c", FromInt64([]int{2}, []int64{1, 4}))
	n = crscNode(g, "SumTo", []*Value{dy, c}, 1, nil)
	if err := InferNode(n); err != nil {
		t.Fatal(err)
	}
	wantShape(t, "const", n.Outputs[0], Float32, "[1,4]")
	// Unknown values of known length: the rank only.
	s := g.AddInput("s", Int64, StaticShape(2))
	n = crscNode(g, "SumTo", []*Value{dy, s}, 1, nil)
	if err := InferNode(n); err != nil {
		t.Fatal(err)
	}
	wantShape(t, "runtime shape", n.Outputs[0], Float32, "[?,?]")
	// Nothing known.
	u := g.AddInput("u", Int64, nil)
	u.HasShape = false
	n = crscNode(g, "SumTo", []*Value{dy, u}, 1, nil)
	if err := InferNode(n); err != nil {
		t.Fatal(err)
	}
	wantShape(t, "unknown", n.Outputs[0], Float32, "none")
	// Not broadcast-compatible.
	bad := g.AddInit("bad", FromInt64([]int{1}, []int64{5}))
	n = crscNode(g, "SumTo", []*Value{dy, bad}, 1, nil)
	if err := InferNode(n); err == nil || !strings.Contains(err.Error(), n.Name) {
		t.Errorf("SumTo [batch,3,4] to [5]: error %v, want one naming the node", err)
	}
}

func TestInferGatherGrad(t *testing.T) {
	g := NewGraph("g", 17)
	emb := g.AddInit("emb", NewTensor(Float32, 30, 8))
	ids := g.AddInput("ids", Int64, Shape{Symbol("batch"), Symbol("seq")})
	dy := g.AddInput("dy", Float32, Shape{Symbol("batch"), Symbol("seq"), Fixed(8)})
	shp := shapeNode(t, g, emb, nil)
	n := crscNode(g, "GatherGrad", []*Value{dy, ids, shp}, 1, nil)
	if err := InferNode(n); err != nil {
		t.Fatal(err)
	}
	wantShape(t, "GatherGrad", n.Outputs[0], Float32, "[30,8]")
	bad := g.AddInput("bad", Float32, Shape{Symbol("batch"), Symbol("seq"), Fixed(9)})
	n = crscNode(g, "GatherGrad", []*Value{bad, ids, shp}, 1, nil)
	if err := InferNode(n); err == nil || !strings.Contains(err.Error(), "dY shape") {
		t.Errorf("mismatched dY: error %v", err)
	}
	n = crscNode(g, "GatherGrad", []*Value{dy, ids, shp}, 1, Attrs{"axis": IntAttr(2)})
	if err := InferNode(n); err == nil || !strings.Contains(err.Error(), "out of range") {
		t.Errorf("axis 2 of rank 2: error %v", err)
	}
}

func TestInferOtherGradOps(t *testing.T) {
	g := NewGraph("g", 17)
	x := g.AddInput("x", Float64, Shape{Symbol("b"), Fixed(6), Fixed(4)})
	dy := g.AddInput("dy", Float64, Shape{Symbol("b"), Fixed(6), Fixed(4)})
	scale := g.AddInit("scale", NewTensor(Float64, 4))
	shp := shapeNode(t, g, x, nil)

	small := g.AddInput("small", Float64, Shape{Symbol("b"), Fixed(3), Fixed(4)})
	st, en := g.AddInit("st", FromInt64([]int{1}, []int64{0})), g.AddInit("en", FromInt64([]int{1}, []int64{3}))
	n := crscNode(g, "SliceGrad", []*Value{small, shp, st, en}, 1, nil)
	if err := InferNode(n); err != nil {
		t.Fatal(err)
	}
	wantShape(t, "SliceGrad", n.Outputs[0], Float64, "[b,6,4]")

	mask := g.AddInput("mask", Bool, dy.Shape.Clone())
	n = crscNode(g, "DropoutGrad", []*Value{dy, mask}, 1, nil)
	if err := InferNode(n); err != nil {
		t.Fatal(err)
	}
	wantShape(t, "DropoutGrad", n.Outputs[0], Float64, "[b,6,4]")

	mean := g.AddInput("mean", Float64, Shape{Symbol("b"), Fixed(6), Fixed(1)})
	n = crscNode(g, "LayerNormalizationGrad", []*Value{dy, x, scale, mean, mean}, 3, nil)
	n.Outputs[2] = nil // dBias not needed
	if err := InferNode(n); err != nil {
		t.Fatal(err)
	}
	wantShape(t, "dX", n.Outputs[0], Float64, "[b,6,4]")
	wantShape(t, "dScale", n.Outputs[1], Float64, "[4]")
	n = crscNode(g, "LayerNormalizationGrad", []*Value{dy, x, scale, mean, mean}, 3, Attrs{"axis": IntAttr(3)})
	if err := InferNode(n); err == nil {
		t.Error("axis 3 of rank 3 accepted")
	}

	lp := g.AddInput("lp", Float32, Shape{Symbol("n"), Fixed(5)})
	labels := g.AddInput("labels", Int64, Shape{Symbol("n")})
	dl := g.AddInput("dl", Float32, Shape{})
	n = crscNode(g, "SoftmaxCrossEntropyLossGrad", []*Value{dl, lp, labels}, 1, nil)
	if err := InferNode(n); err != nil {
		t.Fatal(err)
	}
	wantShape(t, "SCE grad", n.Outputs[0], Float32, "[n,5]")
}
