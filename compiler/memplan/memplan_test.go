package memplan

import (
	"slices"
	"strings"
	"testing"

	"crsc/compiler/ir"
)

// chain builds x → Relu → Reshape (view) → Relu → … with one weight, and a
// "grad/" node reading an early activation, so lifetimes, views and the
// saved-for-backward report can be checked by hand.
func chain(t *testing.T) *ir.Graph {
	t.Helper()
	g := ir.NewGraph("chain", 17)
	x := g.AddInput("x", ir.Float32, ir.StaticShape(4, 16)) // 256 B
	w := g.AddInit("w", ir.NewTensor(ir.Float32, 16))
	shape := g.AddInit("shape", ir.FromInt64([]int{1}, []int64{-1}))
	set := func(v *ir.Value, dims ...int) *ir.Value { v.SetType(ir.Float32, ir.StaticShape(dims...)); return v }
	a := set(g.AddNode("Add", "fwd/a", []*ir.Value{x, w}, 1, nil).Outputs[0], 4, 16)      // node 0
	r := set(g.AddNode("Reshape", "fwd/r", []*ir.Value{a, shape}, 1, nil).Outputs[0], 64) // node 1, view of a
	b := set(g.AddNode("Relu", "fwd/b", []*ir.Value{r}, 1, nil).Outputs[0], 64)           // node 2
	c := set(g.AddNode("Relu", "fwd/c", []*ir.Value{b}, 1, nil).Outputs[0], 64)           // node 3
	d := set(g.AddNode("Mul", "grad/d", []*ir.Value{c, r}, 1, nil).Outputs[0], 64)        // node 4 reads the view
	g.Outputs = []*ir.Value{d}
	return g
}

func TestPlanChain(t *testing.T) {
	g := chain(t)
	if fe := ForwardEnd(g); fe != 4 {
		t.Fatalf("ForwardEnd = %d, want 4", fe)
	}
	p, err := Plan(g, Options{ForwardEnd: ForwardEnd(g)})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Buffers) != 4 {
		t.Fatalf("%d buffers, want 4 (the Reshape is a view)", len(p.Buffers))
	}
	a := p.BufferOf(g.Nodes[0].Outputs[0])
	if p.BufferOf(g.Nodes[1].Outputs[0]) != a || a.First != 0 || a.Last != 4 {
		t.Errorf("buffer of a: %+v; want it shared with the view and alive over [0, 4]", a)
	}
	// a lives throughout; b [2,3], c [3,4], d [4,4]: at most three 256-byte
	// buffers at once (a, c, d at node 4; a, b, c at node 3).
	if p.LowerBound != 768 {
		t.Errorf("lower bound %d, want 768", p.LowerBound)
	}
	if p.PlannedPeak != 768 {
		t.Errorf("planned peak %d, want 768 (b's bytes reused by d)", p.PlannedPeak)
	}
	checkNoOverlap(t, p)
	if want := []int64{256, 256, 512, 768, 768}; !slices.Equal(p.Timeline(), want) {
		t.Errorf("timeline %v, want %v", p.Timeline(), want)
	}
	if p.ParamsBytes != 64 || p.ConstBytes != 8 || p.InputsBytes != 256 {
		t.Errorf("params %d consts %d inputs %d, want 64 8 256", p.ParamsBytes, p.ConstBytes, p.InputsBytes)
	}
	if len(p.Saved) != 2 || p.SavedActivationBytes != 512 {
		t.Fatalf("saved %+v (%d B), want a (via its view) and c, 512 B", p.Saved, p.SavedActivationBytes)
	}
	if p.Saved[0].Node != "fwd/a" || p.Saved[0].Readers[0] != "grad/d" {
		t.Errorf("saved[0] = %+v", p.Saved[0])
	}
	var b strings.Builder
	p.Report(&b, 1)
	for _, want := range []string{"arena (planned peak)", "768 B", "saved for backward", "fwd/a"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, b.String())
		}
	}
}

// TestPlanGreedyBySize: many buffers of mixed sizes and lifetimes never
// overlap in memory while alive together, offsets are aligned, and the
// arena is at least the lower bound.
func TestPlanGreedyBySize(t *testing.T) {
	g := ir.NewGraph("mixed", 17)
	x := g.AddInput("x", ir.Float32, ir.StaticShape(1))
	vals := []*ir.Value{x}
	for i := 0; i < 60; i++ {
		// Read one earlier value, so lifetimes vary.
		in := vals[(i*7)%len(vals)]
		v := g.AddNode("Relu", "", []*ir.Value{in}, 1, nil).Outputs[0]
		v.SetType(ir.Float32, ir.StaticShape(1+(i*37)%50))
		vals = append(vals, v)
	}
	g.Outputs = []*ir.Value{vals[len(vals)-1]}
	p, err := Plan(g, Options{ForwardEnd: -1, Align: 16})
	if err != nil {
		t.Fatal(err)
	}
	checkNoOverlap(t, p)
	if p.PlannedPeak < p.LowerBound {
		t.Errorf("arena %d below the lower bound %d", p.PlannedPeak, p.LowerBound)
	}
	if p.Saved != nil {
		t.Error("a graph without backward reports saved tensors")
	}
}

func TestPlanNeedsStaticShapes(t *testing.T) {
	g := ir.NewGraph("sym", 17)
	x := g.AddInput("x", ir.Float32, ir.Shape{ir.Symbol("batch")})
	g.Outputs = g.AddNode("Relu", "r", []*ir.Value{x}, 1, nil).Outputs
	_, err := Plan(g, Options{ForwardEnd: -1})
	if err == nil || !strings.Contains(err.Error(), `"x"`) {
		t.Errorf("error %v, want one naming x", err)
	}
}

func checkNoOverlap(t *testing.T, p *MemPlan) {
	t.Helper()
	for i, a := range p.Buffers {
		if a.Offset%int64(p.Align) != 0 {
			t.Errorf("%s at unaligned offset %d", a.Value.Name, a.Offset)
		}
		if a.Offset+a.Bytes > p.PlannedPeak {
			t.Errorf("%s ends past the arena", a.Value.Name)
		}
		for _, b := range p.Buffers[i+1:] {
			alive := a.First <= b.Last && b.First <= a.Last
			overlap := a.Offset < b.Offset+b.Bytes && b.Offset < a.Offset+a.Bytes
			if alive && overlap && a.Bytes > 0 && b.Bytes > 0 {
				t.Errorf("%s [%d,%d]@%d+%d and %s [%d,%d]@%d+%d overlap", a.Value.Name, a.First, a.Last, a.Offset, a.Bytes,
					b.Value.Name, b.First, b.Last, b.Offset, b.Bytes)
			}
		}
	}
}

// TestAtPeak: the chain's first 768-byte moment is node 3 (a, b, c alive),
// all forward Add/Relu buffers of 64 floats.
func TestAtPeak(t *testing.T) {
	g := chain(t)
	p, err := Plan(g, Options{ForwardEnd: ForwardEnd(g)})
	if err != nil {
		t.Fatal(err)
	}
	node, groups := p.AtPeak()
	if node != 3 {
		t.Fatalf("peak at node %d, want 3", node)
	}
	want := []PeakGroup{
		{Phase: "forward", Op: "Relu", Shape: []int{64}, Count: 2, Bytes: 512},
		{Phase: "forward", Op: "Add", Shape: []int{4, 16}, Count: 1, Bytes: 256},
	}
	if len(groups) != len(want) {
		t.Fatalf("groups %+v, want %+v", groups, want)
	}
	for i := range want {
		g, w := groups[i], want[i]
		if g.Phase != w.Phase || g.Op != w.Op || g.Count != w.Count || g.Bytes != w.Bytes || !slices.Equal(g.Shape, w.Shape) {
			t.Errorf("group %d = %+v, want %+v", i, g, w)
		}
	}
}
