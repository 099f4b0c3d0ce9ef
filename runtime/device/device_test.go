package device

import (
	"errors"
	"strings"
	"testing"

	"crsc/runtime/cuda"
)

// Without a GPU, --device cuda says so in --device's words while keeping
// cuda's typed error, from which `crsc selftest` names what was searched.
func TestOpenCudaWithoutGPUKeepsTheReason(t *testing.T) {
	if d, err := cuda.Open(0); err == nil {
		d.Close()
		t.Skip("this machine has a GPU")
	}
	_, err := Open("cuda")
	if err == nil {
		t.Fatal("--device cuda opened without a GPU")
	}
	var nf *cuda.NotFoundError
	var nd *cuda.NoDeviceError
	if !errors.As(err, &nf) && !errors.As(err, &nd) {
		t.Errorf("error %q (%T) unwraps to neither *cuda.NotFoundError nor *cuda.NoDeviceError", err, err)
	}
	if msg := err.Error(); !strings.HasPrefix(msg, "--device cuda: ") || strings.Contains(msg, "cuda: cuda:") || strings.Contains(msg, "\n") {
		t.Errorf("error %q", msg)
	}
	if nf != nil && (nf.Library != "driver" || !strings.Contains(nf.Searched, "the loader path")) {
		t.Errorf("NotFoundError %+v", nf)
	}
}
