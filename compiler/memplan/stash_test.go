package memplan

import (
	"bytes"
	"strings"
	"testing"

	"crsc/compiler/ir"
)

// A bfloat16 stash (Cast to type 16 in forward, read in backward) takes 2
// bytes an element, rounded up to whole int32 words, in a slot the CPU's
// Cast asks for as those words; the report names the op it narrows. A
// node under RematPrefix is listed as recomputed.
func TestStashAndRecomputeReport(t *testing.T) {
	g := ir.NewGraph("stash", 17)
	x := g.AddInput("x", ir.Float32, ir.StaticShape(3, 5)) // 15 elements: odd
	set := func(v *ir.Value, dt ir.DType) *ir.Value { v.SetType(dt, ir.StaticShape(3, 5)); return v }
	s := set(g.AddNode("Softmax", "fwd/softmax", []*ir.Value{x}, 1, nil).Outputs[0], ir.Float32)
	h := set(g.AddNode("Cast", "stash/s", []*ir.Value{s}, 1, ir.Attrs{"to": ir.IntAttr(16)}).Outputs[0], ir.BFloat16)
	w := set(g.AddNode("Cast", "grad/stash/s", []*ir.Value{h}, 1, ir.Attrs{"to": ir.IntAttr(1)}).Outputs[0], ir.Float32)
	r := set(g.AddNode("Tanh", RematPrefix+"fwd/tanh", []*ir.Value{w}, 1, nil).Outputs[0], ir.Float32)
	g.Outputs = []*ir.Value{r}
	p, err := Plan(g, Options{ForwardEnd: ForwardEnd(g)})
	if err != nil {
		t.Fatal(err)
	}
	b := p.BufferOf(h)
	if b.Bytes != 32 {
		t.Errorf("15 bf16 elements take %d bytes, want 32 (8 int32 words)", b.Bytes)
	}
	if slots := p.NodeSlots(1); len(slots) != 1 || slots[0].DType != ir.Int32 || slots[0].Elems != 8 || slots[0].Bytes != 32 {
		t.Errorf("slot %+v, want 8 int32 words", slots)
	}
	if len(p.Saved) != 1 || p.Saved[0].Op != "Softmax→bf16" || p.SavedActivationBytes != 32 {
		t.Errorf("saved %+v (%d bytes), want the bf16 stash of the softmax", p.Saved, p.SavedActivationBytes)
	}
	if len(p.Recomputed) != 1 || p.Recomputed[0].Op != "Tanh" || p.RecomputedBytes != 60 {
		t.Errorf("recomputed %+v (%d bytes), want the Tanh", p.Recomputed, p.RecomputedBytes)
	}
	var out bytes.Buffer
	p.Report(&out, 0)
	for _, want := range []string{"recomputed in backward, not kept (1 tensors, 60 B)", "Softmax→bf16"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
}
