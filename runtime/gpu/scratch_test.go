package gpu

import "testing"

// TestKernelsFreeTheirScratch runs every check case three times on one
// backend, releasing the outputs after each run: the device bytes in use
// must not grow after the first run (which uploads the inputs), so no
// kernel leaks the scratch tensors it frees through nnFreeAll.
func TestKernelsFreeTheirScratch(t *testing.T) {
	dev := device(t)
	for _, c := range Cases() {
		b, err := New(dev, Options{Seed: checkSeed, Step: checkStep})
		if err != nil {
			t.Fatal(err)
		}
		var first int64
		for run := range 3 {
			outs, err := b.Run(c.Node, c.Inputs)
			if err != nil {
				t.Fatalf("%s: %v", c.Name, err)
			}
			b.releaseAll(outs)
			if run == 0 {
				first = b.mem.inUse
			} else if b.mem.inUse != first {
				t.Errorf("%s: %d device bytes in use after run %d, %d after the first", c.Name, b.mem.inUse, run+1, first)
				break
			}
		}
		b.Close()
	}
}
