package gpu

import (
	"sync"
	"testing"

	"crsc/cuda"
	"crsc/cuda/emu"
)

var (
	emuOnce sync.Once
	emuDev  cuda.Device
	emuErr  error
)

// device opens the emulator once for the package's tests (compiled kernel
// modules are cached per device), skipping when it cannot run here.
func device(t testing.TB) cuda.Device {
	t.Helper()
	emuOnce.Do(func() { emuDev, emuErr = emu.Open() })
	if emuErr != nil {
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
