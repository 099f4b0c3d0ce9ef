package ir

import (
	"runtime"
	"strings"
	"testing"
)

func TestAbstractTensor(t *testing.T) {
	// 16384×1024 float32 is 64 MiB: large enough that allocating it would
	// show in the heap, which is what abstract tensors exist to avoid.
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	a := AbstractTensor(Float32, 16384, 1024)
	runtime.ReadMemStats(&after)
	if grew := int64(after.TotalAlloc - before.TotalAlloc); grew > 1<<20 {
		t.Errorf("AbstractTensor allocated %d bytes", grew)
	}
	if !a.Abstract || a.F32 != nil {
		t.Fatalf("abstract tensor holds data: %+v", a)
	}
	if a.Len() != 16384*1024 || a.Bytes() != 16384*1024*4 {
		t.Errorf("Len %d Bytes %d", a.Len(), a.Bytes())
	}
	if err := a.CheckData(); err == nil || !strings.Contains(err.Error(), "abstract") {
		t.Errorf("CheckData on an abstract tensor = %v, want an error saying it is abstract", err)
	}
	if c := a.Clone(); !c.Abstract || c.F32 != nil {
		t.Errorf("Clone lost abstractness: %+v", c)
	}
	if s := a.String(); !strings.Contains(s, "abstract") {
		t.Errorf("String = %q", s)
	}

	// Verify accepts an abstract initializer, and still checks its
	// declaration, and still rejects a concrete one with missing data.
	g := NewGraph("g", 17)
	x := g.AddInput("x", Float32, StaticShape(2, 1024))
	w := g.AddInit("w", AbstractTensor(Float32, 1024, 8))
	g.Outputs = []*Value{g.AddNode("MatMul", "mm", []*Value{x, w}, 1, nil).Outputs[0]}
	if err := g.Verify(); err != nil {
		t.Fatalf("Verify rejects an abstract initializer: %v", err)
	}
	if err := g.InferShapes(); err != nil {
		t.Fatal(err)
	}
	if got := g.Outputs[0].Shape.String(); got != "[2,8]" {
		t.Errorf("inferred %s, want [2,8]", got)
	}
	w.Shape = StaticShape(1024, 9)
	if err := g.Verify(); err == nil {
		t.Error("Verify accepts an abstract initializer declared with another shape")
	}
	w.Shape = StaticShape(1024, 8)
	w.Init.F32 = make([]float32, 3)
	if err := g.Verify(); err == nil {
		t.Error("Verify accepts an abstract initializer that holds data")
	}
	w.Init = &Tensor{DType: Float32, Shape: []int{1024, 8}}
	if err := g.Verify(); err == nil {
		t.Error("Verify accepts a concrete initializer with no data")
	}
}
