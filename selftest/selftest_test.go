package selftest

import (
	"testing"

	"crsc/cuda/emu"
)

// TestSelftestOnEmulator runs every check of `crsc selftest` on the CPU
// emulator of a GPU: all must pass (a real GPU runs the same list).
func TestSelftestOnEmulator(t *testing.T) {
	if testing.Short() {
		t.Skip("whole self-test on the emulator")
	}
	dev, err := emu.Open()
	if err != nil {
		t.Skipf("no emulator: %v", err)
	}
	defer dev.Close()
	passed, failed := Run(dev, func(r Result) {
		if r.Err != nil {
			t.Errorf("%s: %v", r.Name, r.Err)
		}
	})
	if failed != 0 || passed < 200 {
		t.Fatalf("%d passed, %d failed", passed, failed)
	}
}
