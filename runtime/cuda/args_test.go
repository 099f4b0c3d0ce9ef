package cuda

import (
	"math"
	"strings"
	"testing"
	"unsafe"
)

func TestMarshalArgs(t *testing.T) {
	args := []any{Ptr(0xdead0000), int32(-2), uint32(7), int64(-3), uint64(1 << 40), float32(1.5)}
	kp, err := marshalArgs("k", args)
	if err != nil {
		t.Fatal(err)
	}
	if len(kp.ptrs) != len(args) {
		t.Fatalf("%d pointers for %d args", len(kp.ptrs), len(args))
	}
	// Read each argument back the way the driver does: through its pointer,
	// at the parameter's own width.
	if got := *(*uintptr)(kp.ptrs[0]); got != 0xdead0000 {
		t.Errorf("Ptr arg = %#x", got)
	}
	if got := *(*int32)(kp.ptrs[1]); got != -2 {
		t.Errorf("int32 arg = %d", got)
	}
	if got := *(*uint32)(kp.ptrs[2]); got != 7 {
		t.Errorf("uint32 arg = %d", got)
	}
	if got := *(*int64)(kp.ptrs[3]); got != -3 {
		t.Errorf("int64 arg = %d", got)
	}
	if got := *(*uint64)(kp.ptrs[4]); got != 1<<40 {
		t.Errorf("uint64 arg = %d", got)
	}
	if got := *(*float32)(kp.ptrs[5]); got != 1.5 {
		t.Errorf("float32 arg = %v", got)
	}
	if kp.base() != unsafe.Pointer(&kp.ptrs[0]) {
		t.Error("base is not the pointer array")
	}
	if empty, _ := marshalArgs("k", nil); empty.base() != nil {
		t.Error("no-arg launch should pass a nil kernelParams")
	}
}

func TestMarshalArgsRejects(t *testing.T) {
	for i, bad := range []any{int(1), float64(1), uintptr(1), "s", []float32{1}, nil, math.Pi} {
		_, err := marshalArgs("saxpy", []any{Ptr(1), bad})
		if err == nil {
			t.Errorf("case %d: %T accepted", i, bad)
			continue
		}
		if msg := err.Error(); !strings.Contains(msg, "saxpy") || !strings.Contains(msg, "argument 1") {
			t.Errorf("error %q does not name the kernel and argument index", msg)
		}
	}
}

func TestFormatBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 3 << 30: "3.0 GiB", 32 << 20: "32.0 MiB", 1536: "1.5 KiB"} {
		if got := formatBytes(n); got != want {
			t.Errorf("formatBytes(%d) = %q, want %q", n, got, want)
		}
	}
}
