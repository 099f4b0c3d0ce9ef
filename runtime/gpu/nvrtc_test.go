package gpu

import (
	"strings"
	"testing"

	"crsc/internal/testenv"
	"crsc/runtime/cuda"
)

// TestKernelsCompileWithNVRTC compiles every kernel file with the real
// NVRTC for the GPUs crsc targets (A100, H100), which needs no GPU. It
// skips where no libnvrtc is installed; .ci/run installs Debian's.
func TestKernelsCompileWithNVRTC(t *testing.T) {
	if _, err := cuda.NVRTCVersion(); err != nil {
		testenv.Missing(t, "NVRTC (.ci/run installs Debian's libnvrtc11.2)", err)
	}
	t.Setenv("CRSC_CACHE_DIR", t.TempDir()) // compile for real, not from a cache
	for _, src := range Sources() {
		for _, arch := range []string{"sm_80", "sm_90"} {
			code, kind, err := cuda.CompileSource(src.Name, src.Code, arch)
			if err != nil {
				t.Errorf("%s for %s: %v", src.Name, arch, err)
				continue
			}
			if len(code) == 0 {
				t.Errorf("%s for %s: empty %s", src.Name, arch, kind)
			}
		}
		if !strings.Contains(src.Code, "KERNEL") {
			t.Errorf("%s declares no KERNEL", src.Name)
		}
	}
}
