package emu

import (
	"errors"
	"fmt"
	"runtime"
	"sort"
	"sync"

	"crsc/runtime/cuda"
)

// TotalMem is the emulated device's memory budget; Alloc beyond it fails
// with an out-of-memory error, as on a GPU.
const TotalMem int64 = 8 << 30

// Device is the CPU emulator. All methods are safe for concurrent use.
type Device struct {
	tc *toolchain
	rt *rt

	mu       sync.Mutex
	closed   bool
	allocs   []alloc // live allocations, sorted by address
	used     int64   // bytes allocated (rounded as allocated)
	asyncErr error   // first failure inside a launch, for Synchronize
}

// alloc is one live allocation.
type alloc struct {
	p    cuda.Ptr
	size int64 // as requested
}

var _ cuda.Device = (*Device)(nil)

// Open starts an emulated device. It fails only when no C++ compiler is
// available or the runtime library cannot be built.
func Open() (cuda.Device, error) {
	tc, err := findToolchain()
	if err != nil {
		return nil, err
	}
	r, err := loadRuntime(tc)
	if err != nil {
		return nil, err
	}
	return &Device{tc: tc, rt: r}, nil
}

var errClosed = errors.New("emu: device is closed")

// Info describes the emulator.
func (d *Device) Info() cuda.Info {
	return cuda.Info{
		Name:      "CPU emulator",
		Arch:      "emu",
		TotalMem:  TotalMem,
		Libraries: map[string]string{"compiler": d.tc.cxx, "cache": d.tc.cacheDir},
	}
}

// roundAlloc is how much of the budget an allocation uses (runtime.inc
// rounds to 256 bytes).
func roundAlloc(size int64) int64 { return (size + 255) &^ 255 }

// Alloc returns size bytes of emulated device memory. It is filled with
// 0xff bytes (NaN as float32), not zeroed: code that reads memory it never
// wrote should fail here rather than only on a GPU.
func (d *Device) Alloc(size int64) (cuda.Ptr, error) {
	if size <= 0 {
		return 0, fmt.Errorf("emu: Alloc(%d): size must be positive", size)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return 0, errClosed
	}
	if d.used+roundAlloc(size) > TotalMem {
		return 0, fmt.Errorf("emu: Alloc(%d): out of memory (%d of %d bytes in use)", size, d.used, TotalMem)
	}
	p := cuda.Ptr(d.rt.alloc(uint64(size)))
	if p == 0 {
		return 0, fmt.Errorf("emu: Alloc(%d): host out of memory", size)
	}
	i := sort.Search(len(d.allocs), func(i int) bool { return d.allocs[i].p > p })
	d.allocs = append(d.allocs, alloc{})
	copy(d.allocs[i+1:], d.allocs[i:])
	d.allocs[i] = alloc{p, size}
	d.used += roundAlloc(size)
	return p, nil
}

// Free releases an allocation; freeing 0 does nothing.
func (d *Device) Free(p cuda.Ptr) error {
	if p == 0 {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return errClosed
	}
	i := sort.Search(len(d.allocs), func(i int) bool { return d.allocs[i].p >= p })
	if i == len(d.allocs) || d.allocs[i].p != p {
		return fmt.Errorf("emu: Free(%#x): not an allocation of this device", uintptr(p))
	}
	d.used -= roundAlloc(d.allocs[i].size)
	d.allocs = append(d.allocs[:i], d.allocs[i+1:]...)
	d.rt.free(uintptr(p))
	return nil
}

// check reports whether [p, p+size) lies inside one live allocation, so
// copies and GEMMs with a bad pointer fail instead of corrupting the heap.
// The caller holds d.mu.
func (d *Device) check(op string, p cuda.Ptr, size int64) error {
	if d.closed {
		return errClosed
	}
	if size < 0 {
		return fmt.Errorf("emu: %s: negative size %d", op, size)
	}
	i := sort.Search(len(d.allocs), func(i int) bool { return d.allocs[i].p > p }) - 1
	if i < 0 || int64(p-d.allocs[i].p) > d.allocs[i].size || size > d.allocs[i].size-int64(p-d.allocs[i].p) {
		return fmt.Errorf("emu: %s: %d bytes at %#x are outside every allocation", op, size, uintptr(p))
	}
	return nil
}

// CopyToDevice copies len(src) bytes from the host to dst.
func (d *Device) CopyToDevice(dst cuda.Ptr, src []byte) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.check("CopyToDevice", dst, int64(len(src))); err != nil || len(src) == 0 {
		return err
	}
	d.rt.copyIn(uintptr(dst), &src[0], uint64(len(src)))
	runtime.KeepAlive(src)
	return nil
}

// CopyToHost copies len(dst) bytes from src to the host.
func (d *Device) CopyToHost(dst []byte, src cuda.Ptr) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.check("CopyToHost", src, int64(len(dst))); err != nil || len(dst) == 0 {
		return err
	}
	d.rt.copyOut(&dst[0], uintptr(src), uint64(len(dst)))
	runtime.KeepAlive(dst)
	return nil
}

// CopyDevice copies size bytes within the device (overlap is allowed).
func (d *Device) CopyDevice(dst, src cuda.Ptr, size int64) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.check("CopyDevice", dst, size); err != nil {
		return err
	}
	if err := d.check("CopyDevice", src, size); err != nil || size == 0 {
		return err
	}
	d.rt.copy(uintptr(dst), uintptr(src), uint64(size))
	return nil
}

// Zero sets size bytes at p to zero.
func (d *Device) Zero(p cuda.Ptr, size int64) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.check("Zero", p, size); err != nil || size == 0 {
		return err
	}
	d.rt.zero(uintptr(p), uint64(size))
	return nil
}

// Synchronize returns (and clears) the first error recorded since the last
// call. Launches run synchronously, so there is nothing to wait for.
func (d *Device) Synchronize() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return errClosed
	}
	err := d.asyncErr
	d.asyncErr = nil
	return err
}

// MemInfo reports the budget left and the total budget.
func (d *Device) MemInfo() (free, total int64, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return 0, 0, errClosed
	}
	return TotalMem - d.used, TotalMem, nil
}

// Close frees all memory of the device. Compiled modules stay loaded for
// the life of the process (they are shared by path with other devices and
// hold no device memory).
func (d *Device) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil
	}
	for _, a := range d.allocs {
		d.rt.free(uintptr(a.p))
	}
	d.allocs, d.used, d.closed = nil, 0, true
	return nil
}
