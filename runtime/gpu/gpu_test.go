package gpu

import (
	"os"
	"sync"
	"testing"

	"crsc/runtime/cuda"
	"crsc/runtime/cuda/emu"
)

var (
	emuOnce sync.Once
	emuDev  cuda.Device
	emuErr  error
)

// device opens the emulator once for the package's tests (compiled kernel
// modules are cached per device), skipping when it cannot run here. With
// CRSC_TEST_DEVICE=cuda the tests run on the machine's GPU instead (and
// fail if there is none): scripts/gpu-check.sh does that.
func device(t testing.TB) cuda.Device {
	t.Helper()
	onGPU := os.Getenv("CRSC_TEST_DEVICE") == "cuda"
	emuOnce.Do(func() {
		if onGPU {
			emuDev, emuErr = cuda.Open(0)
		} else {
			emuDev, emuErr = emu.Open()
		}
	})
	switch {
	case emuErr != nil && onGPU:
		t.Fatalf("CRSC_TEST_DEVICE=cuda: %v", emuErr)
	case emuErr != nil:
		t.Skipf("CPU emulator unavailable: %v", emuErr)
	}
	return emuDev
}

func TestCases(t *testing.T) {
	dev := device(t)
	seen := map[string]bool{}
	for _, c := range Cases() {
		if seen[c.Name] {
			t.Errorf("duplicate case name %q", c.Name)
		}
		seen[c.Name] = true
		t.Run(c.Name, func(t *testing.T) {
			if err := Check(dev, c); err != nil {
				t.Error(err)
			}
		})
	}
}
