package gpu

import (
	"testing"

	"crsc/compiler/ir"
	"crsc/runtime"
)

// TestKeepUploads: with KeepUploads the weights are copied by the first
// run only, a host tensor the next run does not read is freed, and the
// results stay right; without it every run copies them again.
func TestKeepUploads(t *testing.T) {
	g, inputs := mlp(t)
	want, err := runtime.Run(g, inputs, runtime.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, keep := range []bool{false, true} {
		b, err := New(device(t), Options{KeepUploads: keep})
		if err != nil {
			t.Fatal(err)
		}
		var first int64
		for run := 0; run < 3; run++ {
			got, err := runtime.Execute(g, b, inputs, runtime.Options{})
			if err != nil {
				t.Fatal(err)
			}
			sameResults(t, got, want, 1e-5)
			if run == 0 {
				first = b.Stats().Uploads
			}
		}
		total := b.Stats().Uploads
		if keep && total != first || !keep && total != 3*first {
			t.Errorf("keep %v: %d bytes uploaded over 3 runs, %d by the first", keep, total, first)
		}
		// A run fed other inputs drops the old ones, keeps the weights.
		other := map[string]*ir.Tensor{}
		for k, v := range inputs {
			other[k] = v.Clone()
		}
		if _, err := runtime.Execute(g, b, other, runtime.Options{}); err != nil {
			t.Fatal(err)
		}
		b.StartNode(0) // ends that run as the next one would
		for h := range b.mem.uploads {
			for _, v := range inputs {
				if h == v {
					t.Errorf("keep %v: an input of an earlier run is still on the device", keep)
				}
			}
		}
		b.Close()
	}
}
