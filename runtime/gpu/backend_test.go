package gpu

import (
	"strings"
	"testing"

	"crsc/compiler/ir"
	"crsc/compiler/memplan"
	"crsc/internal/testutil"
	"crsc/runtime"
)

// run1 runs one node on b, failing the test on error.
func run1(t *testing.T, b *Backend, n *ir.Node, ins ...*ir.Tensor) []*ir.Tensor {
	t.Helper()
	outs, err := b.Run(n, ins)
	if err != nil {
		t.Fatal(err)
	}
	return outs
}

func host(t *testing.T, b *Backend, d *ir.Tensor) *ir.Tensor {
	t.Helper()
	return testutil.Must(t, b.ToHost, d)
}

// TestViewRefcount: views share their base's block, which returns to the
// pool only when the base and every view are released, in any order.
func TestViewRefcount(t *testing.T) {
	b, err := New(device(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	x := randF32(1, -1, 1, 4, 6)
	y := run1(t, b, caseNode("Neg", nil, 1, 1), x)[0]
	uploads := b.mem.inUse - dataOf(y).buf.size
	v := run1(t, b, caseNode("Reshape", nil, 2, 1), y, i64s(3, 8))[0]
	w := run1(t, b, caseNode("Unsqueeze", nil, 2, 1), v, i64s(0))[0]
	id := run1(t, b, caseNode("Identity", nil, 1, 1), w)[0]
	for _, view := range []*ir.Tensor{v, w, id} {
		if dataOf(view).buf != dataOf(y).buf {
			t.Fatalf("view %v does not share its base's storage", view.Shape)
		}
	}
	if got := dataOf(y).buf.refs; got != 4 {
		t.Fatalf("refs = %d, want 4 (base and three views)", got)
	}
	b.Release(y)
	b.Release(w)
	if b.mem.inUse == uploads {
		t.Fatal("block freed while views of it live")
	}
	h := host(t, b, v) // still readable
	for i, e := range h.F32 {
		if e != -x.F32[i] || len(h.Shape) != 2 {
			t.Fatalf("view element %d = %v, want %v", i, e, -x.F32[i])
		}
	}
	b.Release(v)
	b.Release(id)
	if b.mem.inUse != uploads {
		t.Fatalf("pool in use %d after releasing everything, want the uploads' %d", b.mem.inUse, uploads)
	}
	b.Release(id) // a second release of a dead tensor is harmless
	b.Release(nil)
	b.Release(x) // host tensors are not the backend's
	if b.mem.inUse != uploads {
		t.Fatalf("extra releases changed the pool: %d, want %d", b.mem.inUse, uploads)
	}
	// A new run (StartNode(0)) drops the previous run's uploads.
	b.StartNode(0)
	if b.mem.inUse != 0 || len(b.mem.uploads) != 0 {
		t.Fatalf("after a new run starts: %d bytes in use, %d uploads; want none", b.mem.inUse, len(b.mem.uploads))
	}
	// The freed block is reused by the next output of its size class.
	z := run1(t, b, caseNode("Neg", nil, 1, 1), x)[0]
	if b.mem.held != b.mem.poolHigh {
		t.Errorf("pool grew to %d bytes with %d already held: freed blocks are not reused", b.mem.held, b.mem.poolHigh)
	}
	b.Release(z)
}

// mlp builds x[4,8] → MatMul → Add → Relu → Reshape → Transpose →
// Reshape → Gemm → (Split into two) → Concat, ReduceMean: outputs
// "logits" [4,3] and "mean" [4].
func mlp(t *testing.T) (*ir.Graph, map[string]*ir.Tensor) {
	t.Helper()
	g := ir.NewGraph("mlp", 17)
	x := g.AddInput("x", ir.Float32, ir.StaticShape(4, 8))
	w1 := g.AddInit("w1", randF32(2, -1, 1, 8, 16))
	b1 := g.AddInit("b1", randF32(3, -1, 1, 16))
	w2 := g.AddInit("w2", randF32(4, -1, 1, 3, 16))
	b2 := g.AddInit("b2", randF32(5, -1, 1, 3))
	s1 := g.AddInit("s1", i64s(4, 4, 4))
	s2 := g.AddInit("s2", i64s(4, 16))
	h := g.AddNode("MatMul", "mm1", []*ir.Value{x, w1}, 1, nil).Outputs[0]
	h = g.AddNode("Add", "add1", []*ir.Value{h, b1}, 1, nil).Outputs[0]
	h = g.AddNode("Relu", "relu", []*ir.Value{h}, 1, nil).Outputs[0]
	h = g.AddNode("Reshape", "r1", []*ir.Value{h, s1}, 1, nil).Outputs[0]
	h = g.AddNode("Transpose", "tr", []*ir.Value{h}, 1, ir.Attrs{"perm": ir.IntsAttr(0, 2, 1)}).Outputs[0]
	h = g.AddNode("Reshape", "r2", []*ir.Value{h, s2}, 1, nil).Outputs[0]
	y := g.AddNode("Gemm", "gemm", []*ir.Value{h, w2, b2}, 1, ir.Attrs{"transB": ir.IntAttr(1)}).Outputs[0]
	parts := g.AddNode("Split", "split", []*ir.Value{y}, 2, ir.Attrs{"axis": ir.IntAttr(0)}).Outputs
	logits := g.AddNode("Concat", "cat", parts, 1, ir.Attrs{"axis": ir.IntAttr(0)}).Outputs[0]
	mean := g.AddNode("ReduceMean", "mean", []*ir.Value{logits}, 1, ir.Attrs{"axes": ir.IntsAttr(-1), "keepdims": ir.IntAttr(0)}).Outputs[0]
	logits.Name, mean.Name = "logits", "mean"
	g.Outputs = []*ir.Value{logits, mean}
	if err := g.InferShapes(); err != nil {
		t.Fatal(err)
	}
	return g, map[string]*ir.Tensor{"x": randF32(6, -1, 1, 4, 8)}
}

// sameResults compares two Execute results.
func sameResults(t *testing.T, got, want map[string]*ir.Tensor, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d results, want %d", len(got), len(want))
	}
	for name, w := range want {
		g, ok := got[name]
		if !ok {
			t.Fatalf("missing result %q", name)
		}
		if g.Device != nil {
			t.Fatalf("result %q is still on the device", name)
		}
		if err := compare(g, w, tol); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestExecuteMLP runs a small multi-node graph through runtime.Execute on
// the pool allocator: same results as the CPU backend, no GPU op falls
// back, and every node output is back in the pool afterwards.
func TestExecuteMLP(t *testing.T) {
	g, inputs := mlp(t)
	want, err := runtime.Run(g, inputs, runtime.Options{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := New(device(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for run := 0; run < 2; run++ {
		got, err := runtime.Execute(g, b, inputs, runtime.Options{})
		if err != nil {
			t.Fatal(err)
		}
		sameResults(t, got, want, 1e-5)
		// Only this run's uploads (input and weights) may still hold blocks.
		if live, ups := len(b.mem.live), len(b.mem.uploads); live != ups {
			t.Errorf("run %d: %d pool blocks live, %d of them uploads: node outputs leaked", run, live, ups)
		}
	}
	st := b.Stats()
	if len(st.Fallbacks) != 0 {
		t.Errorf("fallbacks %v, want none", st.Fallbacks)
	}
	if st.Uploads == 0 || st.PoolHighWater == 0 || st.PeakDeviceBytes < st.PoolHighWater {
		t.Errorf("implausible stats %+v", st)
	}
}

// placed wraps a Backend to check, after every node, that each output the
// plan gave a slot sits at exactly that slot's arena offset.
type placed struct {
	*Backend
	plan *memplan.MemPlan
	t    *testing.T
	node int
	hits int
}

func (p *placed) StartNode(i int) {
	p.node = i
	p.Backend.StartNode(i)
}

func (p *placed) Run(n *ir.Node, ins []*ir.Tensor) ([]*ir.Tensor, error) {
	outs, err := p.Backend.Run(n, ins)
	if err != nil {
		return nil, err
	}
	for _, s := range p.plan.NodeSlots(p.node) {
		d := dataOf(outs[s.Output])
		if d == nil || d.buf != p.mem.arena || d.off != s.Offset {
			p.t.Errorf("node %d (%s) output %d is not at its planned offset %d", p.node, n.Op, s.Output, s.Offset)
			continue
		}
		p.hits++
	}
	return outs, nil
}

// TestPlannedPlacement runs the graph with a memory plan: outputs land in
// their slots of the one arena, views stay views, results equal the CPU's
// and no pool memory is used for node outputs.
func TestPlannedPlacement(t *testing.T) {
	g, inputs := mlp(t)
	plan, err := memplan.Plan(g, memplan.Options{ForwardEnd: -1})
	if err != nil {
		t.Fatal(err)
	}
	want, err := runtime.Run(g, inputs, runtime.Options{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := New(device(t), Options{Plan: plan})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	p := &placed{Backend: b, plan: plan, t: t}
	for run := 0; run < 2; run++ {
		got, err := runtime.Execute(g, p, inputs, runtime.Options{Plan: plan})
		if err != nil {
			t.Fatal(err)
		}
		sameResults(t, got, want, 1e-5)
	}
	if p.hits == 0 {
		t.Fatal("no output was checked against the plan")
	}
	st := b.Stats()
	if st.ArenaBytes != plan.PlannedPeak {
		t.Errorf("arena %d bytes, plan %d", st.ArenaBytes, plan.PlannedPeak)
	}
	// Only uploads hold pool blocks after the run: no output leaked there.
	if len(b.mem.live) != len(b.mem.uploads) {
		t.Errorf("pool blocks outside uploads: %d live, %d uploads", len(b.mem.live), len(b.mem.uploads))
	}
}

// TestFallback: an op without a GPU kernel, and a dtype a GPU kernel
// leaves to the CPU, run through the CPU kernel, are counted, and give the
// CPU's results; an input the CPU rejects fails on the GPU backend too.
func TestFallback(t *testing.T) {
	b, err := New(device(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	cases := []Case{
		mk("Mod", "Mod", ir.Attrs{"fmod": intA(1)}, 1e-6, randF32(7, -5, 5, 3, 4), randF32(8, 1, 2, 4)),
		mk("CumSum", "CumSum", nil, 1e-5, randF32(9, -1, 1, 5, 3), i64s(0)),
		mk("Div i64", "Div", nil, 0, randI64(10, -20, 20, 6), randI64(11, 1, 5, 6)),
	}
	// Feed one input from the device, as inside a graph.
	dev := run1(t, b, caseNode("Identity", nil, 1, 1), cases[0].Inputs[0])[0]
	cases[0].Inputs[0] = dev
	for _, c := range cases {
		got := run1(t, b, c.Node, c.Inputs...)
		h := host(t, b, got[0])
		ins := append([]*ir.Tensor{}, c.Inputs...)
		ins[0] = host(t, b, ins[0])
		want, err := runtime.CPU(runtime.Options{}).Run(c.Node, ins)
		if err != nil {
			t.Fatal(err)
		}
		if err := compare(h, want[0], c.Tol); err != nil {
			t.Errorf("%s: %v", c.Name, err)
		}
	}
	st := b.Stats()
	for _, op := range []string{"Mod", "CumSum", "Div"} {
		if st.Fallbacks[op] != 1 {
			t.Errorf("Fallbacks[%s] = %d, want 1 (all: %v)", op, st.Fallbacks[op], st.Fallbacks)
		}
	}
	if st.FallbackBytes == 0 {
		t.Error("FallbackBytes is 0")
	}
	if !b.Supports("", "Mod") || b.OnDevice("", "Mod") || !b.OnDevice("", "MatMul") {
		t.Error("Supports/OnDevice disagree with the registries")
	}
	_, err = b.Run(caseNode("Gather", nil, 2, 1), []*ir.Tensor{randF32(12, 0, 1, 4, 2), i64s(4)})
	if err == nil || !strings.Contains(err.Error(), "out of range") {
		t.Errorf("out-of-range Gather: err = %v, want the CPU's range error", err)
	}
}

// TestPlaceSwappedOutputs: a kernel that asked for its two same-sized
// outputs in reverse order has each one in the other's slot; place moves
// them (through the pool) into their own slots, data intact, and counts
// the node as misplaced.
func TestPlaceSwappedOutputs(t *testing.T) {
	g, _ := mlp(t)
	plan, err := memplan.Plan(g, memplan.Options{ForwardEnd: -1})
	if err != nil {
		t.Fatal(err)
	}
	idx := -1
	for i, n := range g.Nodes {
		if n.Op == "Split" {
			idx = i
		}
	}
	slots := plan.NodeSlots(idx)
	if len(slots) != 2 || slots[0].Offset == slots[1].Offset {
		t.Fatalf("split slots %+v: want two distinct ones", slots)
	}
	b, err := New(device(t), Options{Plan: plan})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	b.StartNode(idx)
	shape := []int{2, 3}
	second, _ := b.mem.output(ir.Float32, shape) // takes slot 0
	first, _ := b.mem.output(ir.Float32, shape)  // takes slot 1
	h0, h1 := randF32(20, 0, 1, shape...), randF32(21, 0, 1, shape...)
	if err := b.mem.copyIn(first, h0); err != nil {
		t.Fatal(err)
	}
	if err := b.mem.copyIn(second, h1); err != nil {
		t.Fatal(err)
	}
	outs, err := b.place(g.Nodes[idx], []*ir.Tensor{first, second})
	if err != nil {
		t.Fatal(err)
	}
	b.mem.endNode()
	for j, want := range []*ir.Tensor{h0, h1} {
		d := dataOf(outs[j])
		if d.buf != b.mem.arena || d.off != slots[j].Offset {
			t.Errorf("output %d at offset %d, want its slot at %d", j, d.off, slots[j].Offset)
		}
		if err := compare(host(t, b, outs[j]), want, 0); err != nil {
			t.Errorf("output %d: %v", j, err)
		}
	}
	if b.Stats().Misplaced["Split"] != 2 {
		t.Errorf("Misplaced = %v, want Split: 2", b.Stats().Misplaced)
	}
	if len(b.mem.live) != 0 {
		t.Errorf("%d pool blocks left behind by the moves", len(b.mem.live))
	}
}
