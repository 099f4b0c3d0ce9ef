package gpu

import (
	"testing"

	"crsc/runtime"
)

// The nn cases themselves run in TestCases (gpu_test.go), which checks
// every case of Cases() against the CPU and its fallback against its name.

// TestNNErrors checks that inputs the CPU kernels reject give the same
// error on the GPU backend: the kernels hand them to the CPU rather than
// guess.
func TestNNErrors(t *testing.T) {
	dev := device(t)
	for _, c := range nnErrorCases() {
		t.Run(c.Name, func(t *testing.T) {
			_, want := runtime.CPU(runtime.Options{Seed: checkSeed, Step: checkStep}).Run(c.Node, c.Inputs)
			if want == nil {
				t.Fatal("the CPU accepts these inputs: not an error case")
			}
			b, err := New(dev, Options{Seed: checkSeed, Step: checkStep})
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			_, got := b.Run(c.Node, c.Inputs)
			if got == nil || got.Error() != want.Error() {
				t.Errorf("gpu error %v, want the cpu's %v", got, want)
			}
		})
	}
}
