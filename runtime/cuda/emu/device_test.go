package emu

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"

	"crsc/runtime/cuda"
)

func TestInfo(t *testing.T) {
	d := open(t)
	info := d.Info()
	if info.Name != "CPU emulator" || info.Arch != "emu" || info.Major != 0 || info.Minor != 0 || info.TotalMem != TotalMem {
		t.Fatalf("Info = %+v", info)
	}
}

func TestMemory(t *testing.T) {
	d := open(t)
	src := make([]byte, 1000)
	for i := range src {
		src[i] = byte(i * 7)
	}
	a, err := d.Alloc(1000)
	if err != nil {
		t.Fatal(err)
	}
	b, err := d.Alloc(1000)
	if err != nil {
		t.Fatal(err)
	}
	if a%256 != 0 || b%256 != 0 {
		t.Errorf("allocations %#x %#x are not 256-byte aligned", a, b)
	}
	if free, total, err := d.MemInfo(); err != nil || total != TotalMem || free != TotalMem-2*1024 {
		t.Fatalf("MemInfo = %d, %d, %v; want %d free", free, total, err, TotalMem-2*1024)
	}

	// Round trip: host -> a -> b (offset) -> host, then Zero a part.
	if err := d.CopyToDevice(a, src); err != nil {
		t.Fatal(err)
	}
	if err := d.CopyDevice(b+100, a, 900); err != nil {
		t.Fatal(err)
	}
	if err := d.Zero(b+100, 50); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 900)
	if err := d.CopyToHost(got, b+100); err != nil {
		t.Fatal(err)
	}
	want := append(make([]byte, 50), src[50:900]...)
	if !bytes.Equal(got, want) {
		t.Fatal("round trip differs")
	}
	// Fresh memory is 0xff garbage, not zeros.
	head := make([]byte, 100)
	if err := d.CopyToHost(head, b); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(head, bytes.Repeat([]byte{0xff}, 100)) {
		t.Errorf("fresh memory = %x..., want 0xff bytes", head[:8])
	}

	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"copy past end", d.CopyToDevice(a+1, src), "outside every allocation"},
		{"copy out past end", d.CopyToHost(make([]byte, 10), a+995), "outside every allocation"},
		{"device copy past end", d.CopyDevice(a, b+1, 1000), "outside every allocation"},
		{"zero bad pointer", d.Zero(12345, 8), "outside every allocation"},
		{"negative zero", d.Zero(a, -1), "negative"},
		{"alloc zero", func() error { _, err := d.Alloc(0); return err }(), "positive"},
		{"alloc over budget", func() error { _, err := d.Alloc(TotalMem); return err }(), "out of memory"},
		{"free interior", d.Free(a + 8), "not an allocation"},
	} {
		if tc.err == nil || !strings.Contains(tc.err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.name, tc.err, tc.want)
		}
	}
	if err := d.CopyToDevice(a, nil); err != nil {
		t.Errorf("empty copy: %v", err)
	}

	if err := d.Free(a); err != nil {
		t.Fatal(err)
	}
	if err := d.Free(a); err == nil {
		t.Error("double free succeeded")
	}
	if err := d.CopyToHost(got, a); err == nil {
		t.Error("copy from freed memory succeeded")
	}
	if free, _, _ := d.MemInfo(); free != TotalMem-1024 {
		t.Errorf("free after Free = %d, want %d", free, TotalMem-1024)
	}
	if err := d.Synchronize(); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Alloc(8); err == nil {
		t.Error("Alloc after Close succeeded")
	}
	if err := d.Synchronize(); err == nil {
		t.Error("Synchronize after Close succeeded")
	}
}

// TestConcurrent launches from several goroutines on two devices at once:
// launches are serialised, so every result must still be exact.
func TestConcurrent(t *testing.T) {
	devs := []cuda.Device{open(t), open(t)}
	const n = 3000
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		d := devs[g%2]
		m := compile(t, d, "toy", toySource)
		x := ramp(n, uint32(g))
		px, pp := upload(t, d, x), allocN(t, d, 4)
		want := float32(0)
		for _, v := range x {
			want += v
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			var first []byte
			for r := 0; r < 20; r++ {
				if err := d.Launch(m, "block_sum", cuda.Dim3{X: 1, Y: 1, Z: 1}, cuda.Dim3{X: 128, Y: 1, Z: 1}, 512, px, pp, int32(n)); err != nil {
					errs <- err
					return
				}
				b := make([]byte, 4)
				if err := d.CopyToHost(b, pp); err != nil {
					errs <- err
					return
				}
				if got := math.Float32frombits(binary.NativeEndian.Uint32(b)); math.Abs(float64(got-want)) > 1e-3 {
					errs <- fmt.Errorf("sum = %v, want %v", got, want)
					return
				}
				if first != nil && !bytes.Equal(b, first) {
					errs <- fmt.Errorf("run %d differs from the first: launches are not deterministic", r)
					return
				}
				first = b
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}
