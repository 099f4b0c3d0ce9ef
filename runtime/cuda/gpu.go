//go:build linux && (amd64 || arm64)

package cuda

import (
	"errors"
	"fmt"
	"runtime"
	"unsafe"
)

// The real device, file by file: loader.go finds the libraries and
// dlopen.go opens and binds them; driver.go, nvrtc.go and cublas.go are the
// three APIs; gpu.go (this file) opens the device and runs its goroutine;
// copy.go moves memory, module.go compiles and launches kernels, cublas.go
// runs GEMMs (mapped to column-major in gemmmap.go); cache.go keeps compiled
// code on disk.

// gpuDevice is the real Device. A CUDA context is current per OS thread, so
// every driver and cuBLAS call runs on one goroutine locked to its thread
// (run): methods send it closures (do) and wait. The fields below "worker
// state" are touched only by that goroutine, so they need no lock.
type gpuDevice struct {
	drv   *driverAPI
	blas  *cublasAPI
	info  Info // fixed after Open
	cache codeCache

	calls chan func()
	quit  chan struct{} // closed when the worker has exited

	// worker state
	dev         int32
	ctx         uintptr
	driverAPI   int // cuDriverGetVersion, e.g. 13000 for CUDA 13.0
	allocs      map[Ptr]int64
	modules     map[*gpuModule]bool
	staging     []byte // pinned host buffer for copies; nil: none (yet)
	stagingMem  unsafe.Pointer
	stagingDone bool // tried to allocate it (it may have failed)
	blasHandle  uintptr
	workspace   Ptr
	closed      bool
}

// gpuModule is a loaded CUmodule and the kernels looked up in it so far.
type gpuModule struct {
	name  string
	dev   *gpuDevice
	h     uintptr
	funcs map[string]uintptr // worker state
	smem  map[string]uint32  // dynamic shared memory limit raised to, per kernel
}

func (m *gpuModule) Name() string { return m.name }

const (
	stagingSize   = 16 << 20 // pinned buffer copies go through, in chunks
	workspaceSize = 32 << 20 // cuBLAS workspace
)

var errClosed = errors.New("cuda: device is closed")

// Open opens GPU ordinal (0 for the first), loading the driver, NVRTC and
// cuBLAS on first use. Without a driver or a GPU it returns an error that
// says what is missing; it never panics.
func Open(ordinal int) (Device, error) {
	drv, err := loadDriver()
	if err != nil {
		return nil, err
	}
	d, err := openDevice(drv, ordinal, (*gpuDevice).openLibraries)
	if err != nil {
		return nil, err // not a nil *gpuDevice in a non-nil interface
	}
	return d, nil
}

// openDevice starts the device goroutine on drv and, once the context is
// up, runs libs to load what else the device needs. Tests pass fakes.
func openDevice(drv *driverAPI, ordinal int, libs func(*gpuDevice) error) (*gpuDevice, error) {
	if ordinal < 0 {
		return nil, fmt.Errorf("cuda: bad device ordinal %d", ordinal)
	}
	d := &gpuDevice{
		drv:     drv,
		cache:   defaultCache(),
		calls:   make(chan func()),
		quit:    make(chan struct{}),
		allocs:  map[Ptr]int64{},
		modules: map[*gpuModule]bool{},
	}
	ready := make(chan error)
	go d.run(ordinal, ready)
	if err := <-ready; err != nil {
		return nil, err
	}
	if err := libs(d); err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}

// run is the device's goroutine: it owns the OS thread the context is
// current on. It never unlocks, so the thread exits with it.
func (d *gpuDevice) run(ordinal int, ready chan<- error) {
	runtime.LockOSThread()
	if err := d.init(ordinal); err != nil {
		close(d.quit)
		ready <- err
		return
	}
	ready <- nil
	for !d.closed {
		(<-d.calls)()
	}
	close(d.quit)
}

// do runs f on the device goroutine and returns its error. A panic in f
// (a purego surprise) becomes an error rather than killing the worker.
func (d *gpuDevice) do(f func() error) error {
	done := make(chan error, 1)
	call := func() {
		defer func() {
			if p := recover(); p != nil {
				done <- fmt.Errorf("cuda: internal error: %v", p)
			}
		}()
		done <- f()
	}
	select {
	case d.calls <- call:
		return <-done
	case <-d.quit:
		return errClosed
	}
}

// init selects the device and makes its primary context current on this
// thread. The primary context is the one the CUDA runtime (and so PyTorch)
// uses too, which keeps memory accounting in one place.
func (d *gpuDevice) init(ordinal int) error {
	drv := d.drv
	if r := drv.cuInit(0); r != cuSuccess {
		if drv.name(r) == "CUDA_ERROR_NO_DEVICE" {
			return &NoDeviceError{Driver: driverLib.path, Reason: "cuInit: " + drv.name(r)}
		}
		return fmt.Errorf("cuda: cuInit: %s (%s)", drv.name(r), drv.errorString(r))
	}
	var count int32
	if err := drv.check(drv.cuDeviceGetCount(&count), "cuDeviceGetCount"); err != nil {
		return err
	}
	if count == 0 {
		return &NoDeviceError{Driver: driverLib.path, Reason: "cuDeviceGetCount: 0 devices"}
	}
	if ordinal >= int(count) {
		return fmt.Errorf("cuda: no CUDA device %d (%d present)", ordinal, count)
	}
	if err := drv.check(drv.cuDeviceGet(&d.dev, int32(ordinal)), "cuDeviceGet(%d)", ordinal); err != nil {
		return err
	}
	name := make([]byte, 256)
	if err := drv.check(drv.cuDeviceGetName(&name[0], int32(len(name)), d.dev), "cuDeviceGetName"); err != nil {
		return err
	}
	var major, minor, version int32
	var total uint64
	for _, c := range []struct {
		r    cuResult
		what string
	}{
		{drv.cuDeviceGetAttribute(&major, cuAttrComputeMajor, d.dev), "compute capability"},
		{drv.cuDeviceGetAttribute(&minor, cuAttrComputeMinor, d.dev), "compute capability"},
		{drv.cuDeviceTotalMem(&total, d.dev), "cuDeviceTotalMem"},
		{drv.cuDriverGetVersion(&version), "cuDriverGetVersion"},
	} {
		if err := drv.check(c.r, "%s", c.what); err != nil {
			return err
		}
	}
	if err := drv.check(drv.cuDevicePrimaryCtxRetain(&d.ctx, d.dev), "cuDevicePrimaryCtxRetain"); err != nil {
		return err
	}
	if err := drv.check(drv.cuCtxSetCurrent(d.ctx), "cuCtxSetCurrent"); err != nil {
		drv.cuDevicePrimaryCtxRelease(d.dev)
		return err
	}
	d.driverAPI = int(version)
	d.info = Info{
		Name:     goString(&name[0]),
		Arch:     fmt.Sprintf("sm_%d%d", major, minor),
		Major:    int(major),
		Minor:    int(minor),
		TotalMem: int64(total),
		Libraries: map[string]string{
			"driver":         driverLib.path,
			"driver-version": driverCUDA(int(version)),
		},
	}
	return nil
}

// openLibraries loads NVRTC and cuBLAS, preferring ones this driver can
// run, says clearly when it cannot run the ones found, and sets up the
// cuBLAS handle.
func (d *gpuDevice) openLibraries() error {
	nv, err := loadNVRTC(d.driverAPI / 1000)
	if err != nil {
		return err
	}
	if err := d.checkNVRTC(nv, nvrtcLib.path); err != nil {
		return err
	}
	blas, err := loadCublas(d.driverAPI / 1000)
	if err != nil {
		return err
	}
	if err := checkCublas(d.driverAPI, cublasLib.path); err != nil {
		return err
	}
	d.blas = blas
	d.info.Libraries["nvrtc"] = nvrtcLib.path
	d.info.Libraries["nvrtc-version"] = nv.versionStr
	d.info.Libraries["cublas"] = cublasLib.path
	return d.do(d.initCublas)
}

// checkNVRTC checks that the driver can load what nv emits for this GPU.
func (d *gpuDevice) checkNVRTC(nv *nvrtcAPI, path string) error {
	want, err := parseArch(d.info.Arch)
	if err != nil {
		return err
	}
	_, kind, err := nv.target(want)
	if err != nil {
		return err
	}
	return checkNVRTC(d.driverAPI, nv.major, nv.minor, path, kind, d.info.Arch)
}

func (d *gpuDevice) Info() Info {
	info := d.info
	info.Libraries = make(map[string]string, len(d.info.Libraries))
	for k, v := range d.info.Libraries {
		info.Libraries[k] = v
	}
	return info
}

func (d *gpuDevice) Alloc(size int64) (Ptr, error) {
	if size < 0 {
		return 0, fmt.Errorf("cuda: Alloc(%d): negative size", size)
	}
	var p Ptr
	err := d.do(func() error {
		var dp uint64
		// cuMemAlloc refuses 0 bytes; a 1-byte block gives a distinct pointer.
		if err := d.drv.check(d.drv.cuMemAlloc(&dp, uint64(max(size, 1))), "cuMemAlloc(%s)", formatBytes(size)); err != nil {
			return err
		}
		p = Ptr(dp)
		d.allocs[p] = size
		return nil
	})
	return p, err
}

func (d *gpuDevice) Free(p Ptr) error {
	if p == 0 {
		return nil
	}
	return d.do(func() error {
		if _, ok := d.allocs[p]; !ok {
			return fmt.Errorf("cuda: Free(%#x): not an allocation of this device", uintptr(p))
		}
		delete(d.allocs, p)
		return d.drv.check(d.drv.cuMemFree(uint64(p)), "cuMemFree(%#x)", uintptr(p))
	})
}

func (d *gpuDevice) Synchronize() error {
	return d.do(func() error {
		// Errors from earlier asynchronous work (launches) surface here, so
		// add the driver's sentence: "an illegal memory access was encountered".
		if r := d.drv.cuCtxSynchronize(); r != cuSuccess {
			return fmt.Errorf("cuda: synchronize: %s (%s)", d.drv.name(r), d.drv.errorString(r))
		}
		return nil
	})
}

func (d *gpuDevice) MemInfo() (free, total int64, err error) {
	err = d.do(func() error {
		var f, t uint64
		if err := d.drv.check(d.drv.cuMemGetInfo(&f, &t), "cuMemGetInfo"); err != nil {
			return err
		}
		free, total = int64(f), int64(t)
		return nil
	})
	return free, total, err
}

// Close frees everything this device allocated and releases the context.
// Closing twice is harmless.
func (d *gpuDevice) Close() error {
	err := d.do(func() error {
		d.closed = true // the worker exits after this call
		return d.release()
	})
	if err == errClosed {
		return nil
	}
	return err
}

// release undoes Open, keeping the first error but doing every step.
func (d *gpuDevice) release() error {
	drv := d.drv
	var errs []error
	note := func(r cuResult, what string) {
		if err := drv.check(r, "%s", what); err != nil {
			errs = append(errs, err)
		}
	}
	note(drv.cuCtxSynchronize(), "close: synchronize")
	if d.blasHandle != 0 {
		if s := d.blas.destroy(d.blasHandle); s != 0 {
			errs = append(errs, fmt.Errorf("cuda: cublasDestroy: %s", cublasStatus(s)))
		}
		d.blasHandle = 0
	}
	for m := range d.modules {
		note(drv.cuModuleUnload(m.h), "close: cuModuleUnload("+m.name+")")
		m.h = 0
	}
	d.modules = nil
	for p := range d.allocs {
		note(drv.cuMemFree(uint64(p)), "close: cuMemFree")
	}
	d.allocs = nil
	d.workspace = 0 // it was in allocs
	if d.stagingMem != nil {
		note(drv.cuMemFreeHost(d.stagingMem), "close: cuMemFreeHost")
		d.stagingMem, d.staging = nil, nil
	}
	note(drv.cuDevicePrimaryCtxRelease(d.dev), "close: cuDevicePrimaryCtxRelease")
	if len(errs) > 0 {
		return errs[0]
	}
	return nil
}
