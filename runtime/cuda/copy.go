//go:build linux && (amd64 || arm64)

package cuda

import (
	"fmt"
	"unsafe"
)

// pinned returns the staging buffer, allocating it on first use. Copies go
// through page-locked memory because the GPU can only DMA from that; given
// pageable memory the driver would stage through its own small buffer. If
// pinning fails (e.g. a locked-memory limit), copies fall back to letting
// the driver do that, which is slower but correct.
func (d *gpuDevice) pinned() []byte {
	if !d.stagingDone {
		d.stagingDone = true
		var p unsafe.Pointer
		if d.drv.cuMemHostAlloc(&p, stagingSize, 0) == cuSuccess && p != nil {
			d.stagingMem = p
			d.staging = unsafe.Slice((*byte)(p), stagingSize)
		}
	}
	return d.staging
}

// CopyToDevice copies chunk by chunk through the pinned buffer. A copy from
// pinned memory returns only when it is done, so the buffer can be refilled.
func (d *gpuDevice) CopyToDevice(dst Ptr, src []byte) error {
	if len(src) == 0 {
		return nil
	}
	return d.staged(len(src),
		func() string {
			return fmt.Sprintf("cuMemcpyHtoD(%s to %#x)", formatBytes(int64(len(src))), uintptr(dst))
		},
		func() cuResult { return d.drv.cuMemcpyHtoD(uint64(dst), unsafe.Pointer(&src[0]), uint64(len(src))) },
		func(buf []byte, off, n int) cuResult {
			copy(buf, src[off:off+n])
			return d.drv.cuMemcpyHtoD(uint64(dst)+uint64(off), d.stagingMem, uint64(n))
		})
}

func (d *gpuDevice) CopyToHost(dst []byte, src Ptr) error {
	if len(dst) == 0 {
		return nil
	}
	return d.staged(len(dst),
		func() string {
			return fmt.Sprintf("cuMemcpyDtoH(%s from %#x)", formatBytes(int64(len(dst))), uintptr(src))
		},
		func() cuResult { return d.drv.cuMemcpyDtoH(unsafe.Pointer(&dst[0]), uint64(src), uint64(len(dst))) },
		func(buf []byte, off, n int) cuResult {
			r := d.drv.cuMemcpyDtoH(d.stagingMem, uint64(src)+uint64(off), uint64(n))
			if r == cuSuccess {
				copy(dst[off:off+n], buf[:n])
			}
			return r
		})
}

// staged runs a copy of size bytes on the device goroutine: through the
// pinned buffer, chunk moving bytes [off, off+n) by way of buf, or, where
// nothing could be pinned, as the one direct copy; what names the copy in
// an error.
func (d *gpuDevice) staged(size int, what func() string, direct func() cuResult, chunk func(buf []byte, off, n int) cuResult) error {
	return d.do(func() error {
		buf := d.pinned()
		if buf == nil {
			return d.drv.check(direct(), "%s", what())
		}
		for off := 0; off < size; off += len(buf) {
			if r := chunk(buf, off, min(len(buf), size-off)); r != cuSuccess {
				return d.drv.check(r, "%s", what())
			}
		}
		return nil
	})
}

func (d *gpuDevice) CopyDevice(dst, src Ptr, size int64) error {
	if size < 0 {
		return fmt.Errorf("cuda: CopyDevice: negative size %d", size)
	}
	if size == 0 {
		return nil
	}
	return d.do(func() error {
		return d.drv.check(d.drv.cuMemcpyDtoD(uint64(dst), uint64(src), uint64(size)),
			"cuMemcpyDtoD(%s from %#x to %#x)", formatBytes(size), uintptr(src), uintptr(dst))
	})
}

func (d *gpuDevice) Zero(p Ptr, size int64) error {
	if size < 0 {
		return fmt.Errorf("cuda: Zero: negative size %d", size)
	}
	if size == 0 {
		return nil
	}
	return d.do(func() error {
		return d.drv.check(d.drv.cuMemsetD8(uint64(p), 0, uint64(size)), "cuMemsetD8(%s at %#x)", formatBytes(size), uintptr(p))
	})
}
