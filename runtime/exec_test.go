package runtime_test

import (
	"testing"

	"crsc/compiler/ir"
	"crsc/runtime"
)

// TestValuesFreedAfterLastUse: a chain of ten 1 MiB activations never holds
// more than two of them (the one being read and the one being written),
// and a Reshape view of a buffer is not counted twice.
func TestValuesFreedAfterLastUse(t *testing.T) {
	g := ir.NewGraph("chain", 17)
	x := g.AddInput("x", ir.Float32, ir.StaticShape(256, 1024))
	v := x
	for i := 0; i < 10; i++ {
		v = g.AddNode("Relu", "", []*ir.Value{v}, 1, nil).Outputs[0]
		if i == 4 {
			shape := g.AddInit("shape", ir.FromInt64([]int{1}, []int64{-1}))
			v = g.AddNode("Reshape", "", []*ir.Value{v, shape}, 1, nil).Outputs[0]
		}
	}
	g.Outputs = []*ir.Value{v}
	if err := g.InferShapes(); err != nil {
		t.Fatal(err)
	}
	var stats runtime.Stats
	in := ir.NewTensor(ir.Float32, 256, 1024)
	if _, err := runtime.Run(g, map[string]*ir.Tensor{"x": in}, runtime.Options{Stats: &stats}); err != nil {
		t.Fatal(err)
	}
	const mib = 1 << 20
	if stats.PeakLiveBytes != 2*mib {
		t.Fatalf("peak live %d bytes, want %d (two 1 MiB activations)", stats.PeakLiveBytes, 2*mib)
	}
}
