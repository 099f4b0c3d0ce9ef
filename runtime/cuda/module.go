//go:build linux && (amd64 || arm64)

package cuda

import (
	"fmt"
	"runtime"
	"unsafe"
)

// Compile compiles source for this GPU (through the disk cache) and loads
// it. NVRTC runs on the calling goroutine, so modules compile in parallel;
// only the load goes to the device goroutine.
func (d *gpuDevice) Compile(name, source string) (Module, error) {
	c, err := compileCached(d.cache, name, source, d.info.Arch)
	if err != nil {
		return nil, err
	}
	m, err := d.loadModule(name, c.code)
	if err == nil {
		return m, nil
	}
	if err == errClosed {
		return nil, err
	}
	// The driver refused the code. If it came from the cache the entry may
	// be bad in a way the checksum cannot see (e.g. written by a broken
	// NVRTC); drop it and compile afresh once. Fresh code it refuses would
	// only be refused again: say what was loaded into what instead.
	if c.hit {
		d.cache.remove(c.key)
		fresh, err2 := compileCached(codeCache{}, name, source, d.info.Arch)
		if err2 != nil {
			return nil, err2
		}
		if m, err2 := d.loadModule(name, fresh.code); err2 == nil {
			return m, nil
		}
	}
	return nil, fmt.Errorf("%w; it is %s from NVRTC %s (%s), the driver supports CUDA %s (driver API %d)",
		err, c.kind, nvrtcOnce.api.versionStr, nvrtcLib.path, driverCUDA(d.driverAPI), d.driverAPI)
}

func (d *gpuDevice) loadModule(name string, code []byte) (*gpuModule, error) {
	m := &gpuModule{name: name, dev: d, funcs: map[string]uintptr{}, smem: map[string]uint32{}}
	err := d.do(func() error {
		r := d.drv.cuModuleLoadData(&m.h, unsafe.Pointer(&code[0]))
		runtime.KeepAlive(code)
		if r != cuSuccess {
			return fmt.Errorf("cuda: load module %q for %s: %s (%s)", name, d.info.Arch, d.drv.name(r), d.drv.errorString(r))
		}
		d.modules[m] = true
		return nil
	})
	if err != nil {
		return nil, err
	}
	return m, nil
}

// Launch queues kernel on the default stream. It returns once queued:
// faults inside the kernel are reported by a later Synchronize.
func (d *gpuDevice) Launch(mod Module, kernel string, grid, block Dim3, sharedBytes uint32, args ...any) error {
	m, ok := mod.(*gpuModule)
	if !ok || m.dev != d {
		return fmt.Errorf("cuda: launch %s: module %q was not compiled by this device", kernel, mod.Name())
	}
	for _, v := range []uint32{grid.X, grid.Y, grid.Z, block.X, block.Y, block.Z} {
		if v == 0 {
			return fmt.Errorf("cuda: launch %s: zero in grid %v or block %v", kernel, grid, block)
		}
	}
	kp, err := marshalArgs(kernel, args)
	if err != nil {
		return err
	}
	return d.do(func() error {
		f, err := d.function(m, kernel, sharedBytes)
		if err != nil {
			return err
		}
		r := d.drv.cuLaunchKernel(f, grid.X, grid.Y, grid.Z, block.X, block.Y, block.Z, sharedBytes, 0, kp.base(), nil)
		runtime.KeepAlive(kp) // the driver copies the arguments before returning
		return d.drv.check(r, "launch %s.%s (grid %v, block %v, %d B shared)", m.name, kernel, grid, block, sharedBytes)
	})
}

// function looks kernel up in m (once) and raises its dynamic shared memory
// limit when a launch asks for more than the default 48 KiB, which CUDA
// requires an explicit opt-in for.
func (d *gpuDevice) function(m *gpuModule, kernel string, sharedBytes uint32) (uintptr, error) {
	if m.h == 0 {
		return 0, fmt.Errorf("cuda: launch %s: module %q is unloaded", kernel, m.name)
	}
	f, ok := m.funcs[kernel]
	if !ok {
		if err := d.drv.check(d.drv.cuModuleGetFunction(&f, m.h, kernel), "kernel %q in module %q", kernel, m.name); err != nil {
			return 0, err
		}
		m.funcs[kernel] = f
	}
	if sharedBytes > cuDefaultDynamicSharedLimit && sharedBytes > m.smem[kernel] && d.drv.cuFuncSetAttribute != nil {
		r := d.drv.cuFuncSetAttribute(f, cuFuncAttrMaxDynamicShared, int32(sharedBytes))
		if err := d.drv.check(r, "%s.%s: allow %s of dynamic shared memory", m.name, kernel, formatBytes(int64(sharedBytes))); err != nil {
			return 0, err
		}
		m.smem[kernel] = sharedBytes
	}
	return f, nil
}
