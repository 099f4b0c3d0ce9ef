package selftest

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"crsc/runtime/cuda"
	"crsc/runtime/cuda/emu"
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

// errIllegal is what a GPU's driver says after a kernel wrote outside its
// memory: every call from then on fails with it.
var errIllegal = errors.New("cuda: synchronize: CUDA_ERROR_ILLEGAL_ADDRESS (an illegal memory access was encountered)")

// faultyGPU is the emulator acting like a GPU whose kernel `fault` makes
// an illegal access: the launch itself returns at once (kernels are
// asynchronous), and the context is poisoned for every later call. The
// emulator runs kernels on the CPU and cannot fault without taking the
// test down, so the fault is injected here.
type faultyGPU struct {
	cuda.Device
	kernel   string
	poisoned bool
}

func (f *faultyGPU) err() error {
	if f.poisoned {
		return errIllegal
	}
	return nil
}

func (f *faultyGPU) Launch(m cuda.Module, kernel string, grid, block cuda.Dim3, shared uint32, args ...any) error {
	if err := f.err(); err != nil {
		return err
	}
	if kernel == f.kernel {
		f.poisoned = true
		return nil
	}
	return f.Device.Launch(m, kernel, grid, block, shared, args...)
}

func (f *faultyGPU) Synchronize() error {
	if err := f.err(); err != nil {
		return err
	}
	return f.Device.Synchronize()
}

func (f *faultyGPU) Alloc(n int64) (cuda.Ptr, error) {
	if err := f.err(); err != nil {
		return 0, err
	}
	return f.Device.Alloc(n)
}

func (f *faultyGPU) CopyToDevice(dst cuda.Ptr, src []byte) error {
	if err := f.err(); err != nil {
		return err
	}
	return f.Device.CopyToDevice(dst, src)
}

func (f *faultyGPU) CopyToHost(dst []byte, src cuda.Ptr) error {
	if err := f.err(); err != nil {
		return err
	}
	return f.Device.CopyToHost(dst, src)
}

func (f *faultyGPU) Gemm(g cuda.GemmArgs) error {
	if err := f.err(); err != nil {
		return err
	}
	return f.Device.Gemm(g)
}

func (f *faultyGPU) MemInfo() (free, total int64, err error) {
	if err := f.err(); err != nil {
		return 0, 0, err
	}
	return f.Device.MemInfo()
}

// faultCheck launches the kernel that faults, then reads its output back,
// where a GPU would first report the fault without the self-test waiting.
var faultCheck = Check{"kernel out of bounds", func(dev cuda.Device) (string, error) {
	m, err := dev.Compile("oob", "KERNEL void fault(float* p, i64 at) { p[at] = 1.0f; }\n")
	if err != nil {
		return "", err
	}
	p, err := dev.Alloc(4)
	if err != nil {
		return "", err
	}
	defer dev.Free(p)
	if err := dev.Launch(m, "fault", cuda.Dim3{X: 1, Y: 1, Z: 1}, cuda.Dim3{X: 1, Y: 1, Z: 1}, 0, p, int64(1)<<40); err != nil {
		return "", err
	}
	return "", dev.CopyToHost(make([]byte, 4), p)
}}

// A kernel that poisons the context stops the self-test at its check,
// naming the kernel; no later check runs against the poisoned context.
func TestSelftestStopsAtStickyError(t *testing.T) {
	dev, err := emu.Open()
	if err != nil {
		t.Skipf("no emulator: %v", err)
	}
	defer dev.Close()
	all := Checks()
	checks := []Check{all[0], faultCheck, all[len(all)-2], all[len(all)-1]}
	var lines []string
	passed, failed := run(&faultyGPU{Device: dev, kernel: "fault"}, checks, func(r Result) {
		line := "ok   " + r.Name
		if r.Err != nil {
			line = "FAIL " + r.Name + ": " + r.Err.Error()
		}
		lines = append(lines, line)
	})
	t.Logf("\n%s", strings.Join(lines, "\n"))
	if passed != 1 || failed != 2 || len(lines) != 3 {
		t.Fatalf("%d passed, %d failed, %d lines; want 1, 2 and 3 (device, the fault, stopped)", passed, failed, len(lines))
	}
	for i, want := range []string{
		"ok   device",
		"FAIL kernel out of bounds: kernel oob.fault (grid {1 1 1}, block {1 1 1}, 0 B shared) faulted: cuda: synchronize: CUDA_ERROR_ILLEGAL_ADDRESS",
		"FAIL stopped: kernel oob.fault (in kernel out of bounds) poisoned the CUDA context, so every later call fails; 2 later checks not run",
	} {
		if !strings.HasPrefix(lines[i], want) {
			t.Errorf("line %d = %q\nwant prefix %q", i, lines[i], want)
		}
	}
}

func TestIsSticky(t *testing.T) {
	wrapped := fmt.Errorf("kernel Add: gpu: %v", errIllegal) // %v: the text is all that survives
	if !cuda.IsSticky(wrapped) || cuda.IsSticky(errors.New("cuda: cuMemAlloc(1.0 GiB): CUDA_ERROR_OUT_OF_MEMORY")) || cuda.IsSticky(nil) {
		t.Error("IsSticky misjudges")
	}
}
