//go:build linux && (amd64 || arm64)

package cuda

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"syscall"
	"testing"
	"unsafe"

	"github.com/ebitengine/purego"
)

// fakeGPU stands in for libcuda and cuBLAS: the driverAPI and cublasAPI
// fields are plain Go func variables, so the device goroutine, copies,
// launches and Close run here for real against Go memory. It also checks
// that every call comes from one OS thread, as a CUDA context needs.
type fakeGPU struct {
	t         *testing.T
	mu        sync.Mutex
	tid       int               // OS thread of the first call
	mem       map[uint64][]byte // device blocks by base address
	next      uint64
	hostAlloc int // live pinned buffers
	copies    []uint64
	modules   int // loaded, not unloaded
	launches  [][]uint64
	smemAttr  int32
	retained  int
	gemms     []string
	noDevice  bool
	version   int32    // cuDriverGetVersion (0: 13000)
	refuse    cuResult // what cuModuleLoadData returns (0: success)
	loads     int      // cuModuleLoadData calls
}

const fakeNotFound, fakeOOM, fakeInvalid = cuResult(500), cuResult(2), cuResult(1)

var fakeNames = map[cuResult]string{fakeNotFound: "CUDA_ERROR_NOT_FOUND", fakeOOM: "CUDA_ERROR_OUT_OF_MEMORY",
	fakeInvalid: "CUDA_ERROR_INVALID_VALUE", 100: "CUDA_ERROR_NO_DEVICE", fakeUnsupportedPTX: "CUDA_ERROR_UNSUPPORTED_PTX_VERSION"}

const fakeUnsupportedPTX = cuResult(222)

// on records the calling thread and fails the test if it changed.
func (f *fakeGPU) on() {
	f.mu.Lock()
	defer f.mu.Unlock()
	tid := syscall.Gettid()
	if f.tid == 0 {
		f.tid = tid
	} else if tid != f.tid {
		f.t.Errorf("driver called on thread %d, context is on thread %d", tid, f.tid)
	}
}

// block finds the device bytes [addr, addr+n).
func (f *fakeGPU) block(addr, n uint64) []byte {
	for base, b := range f.mem {
		if addr >= base && addr+n <= base+uint64(len(b)) {
			return b[addr-base : addr-base+n]
		}
	}
	return nil
}

func cstr(s string) *byte { return &append([]byte(s), 0)[0] }

func (f *fakeGPU) driver() *driverAPI {
	return &driverAPI{
		cuInit: func(uint32) cuResult {
			f.on()
			if f.noDevice {
				return 100
			}
			return 0
		},
		cuDriverGetVersion: func(v *int32) cuResult {
			*v = f.version
			if *v == 0 {
				*v = 13000
			}
			return 0
		},
		cuDeviceGetCount: func(n *int32) cuResult { *n = 1; return 0 },
		cuDeviceGet:      func(d *int32, o int32) cuResult { *d = o; return 0 },
		cuDeviceGetName: func(b *byte, n int32, _ int32) cuResult {
			copy(unsafe.Slice(b, n), "Fake H100\x00")
			return 0
		},
		cuDeviceGetAttribute: func(v *int32, a int32, _ int32) cuResult {
			*v = map[int32]int32{cuAttrComputeMajor: 9, cuAttrComputeMinor: 0}[a]
			return 0
		},
		cuDeviceTotalMem:          func(b *uint64, _ int32) cuResult { *b = 80 << 30; return 0 },
		cuDevicePrimaryCtxRetain:  func(c *uintptr, _ int32) cuResult { f.on(); f.retained++; *c = 0xc0; return 0 },
		cuDevicePrimaryCtxRelease: func(int32) cuResult { f.on(); f.retained--; return 0 },
		cuCtxSetCurrent:           func(uintptr) cuResult { f.on(); return 0 },
		cuCtxSynchronize:          func() cuResult { f.on(); return 0 },
		cuMemAlloc: func(p *uint64, n uint64) cuResult {
			f.on()
			if n > 1<<30 {
				return fakeOOM
			}
			f.next += 1 << 20 // a gap, so blocks never touch
			*p = f.next
			f.mem[f.next] = make([]byte, n)
			f.next += n
			return 0
		},
		cuMemFree: func(p uint64) cuResult {
			f.on()
			if f.mem[p] == nil {
				return fakeInvalid
			}
			delete(f.mem, p)
			return 0
		},
		cuMemcpyHtoD: func(dst uint64, src unsafe.Pointer, n uint64) cuResult {
			f.on()
			b := f.block(dst, n)
			if b == nil {
				return fakeInvalid
			}
			f.copies = append(f.copies, n)
			copy(b, unsafe.Slice((*byte)(src), n))
			return 0
		},
		cuMemcpyDtoH: func(dst unsafe.Pointer, src uint64, n uint64) cuResult {
			f.on()
			b := f.block(src, n)
			if b == nil {
				return fakeInvalid
			}
			f.copies = append(f.copies, n)
			copy(unsafe.Slice((*byte)(dst), n), b)
			return 0
		},
		cuMemcpyDtoD: func(dst, src uint64, n uint64) cuResult {
			f.on()
			copy(f.block(dst, n), f.block(src, n))
			return 0
		},
		cuMemsetD8: func(dst uint64, v uint8, n uint64) cuResult {
			f.on()
			for i := range f.block(dst, n) {
				f.block(dst, n)[i] = v
			}
			return 0
		},
		cuMemGetInfo: func(free, total *uint64) cuResult { f.on(); *free, *total = 70<<30, 80<<30; return 0 },
		cuMemHostAlloc: func(p *unsafe.Pointer, n uint64, _ uint32) cuResult {
			f.on()
			f.hostAlloc++
			*p = unsafe.Pointer(&make([]byte, n)[0])
			return 0
		},
		cuMemFreeHost: func(unsafe.Pointer) cuResult { f.on(); f.hostAlloc--; return 0 },
		cuModuleLoadData: func(m *uintptr, img unsafe.Pointer) cuResult {
			f.on()
			f.loads++
			if f.refuse != 0 {
				return f.refuse
			}
			f.modules++
			*m = 0x30
			return 0
		},
		cuModuleGetFunction: func(fn *uintptr, _ uintptr, name string) cuResult {
			f.on()
			if name != "sum" {
				return fakeNotFound
			}
			*fn = 0x40
			return 0
		},
		cuModuleUnload:     func(uintptr) cuResult { f.on(); f.modules--; return 0 },
		cuFuncSetAttribute: func(_ uintptr, attr, v int32) cuResult { f.on(); f.smemAttr = v; return 0 },
		cuLaunchKernel: func(_ uintptr, gx, gy, gz, bx, by, bz, shared uint32, _ uintptr, params, _ unsafe.Pointer) cuResult {
			f.on()
			ptrs := unsafe.Slice((*unsafe.Pointer)(params), 3) // the sum kernel's three
			var vals []uint64
			for _, p := range ptrs {
				vals = append(vals, *(*uint64)(p))
			}
			f.launches = append(f.launches, vals)
			return 0
		},
		cuGetErrorName: func(r cuResult, s **byte) cuResult {
			n, ok := fakeNames[r]
			if !ok {
				return fakeInvalid
			}
			*s = cstr(n)
			return 0
		},
		cuGetErrorString: func(r cuResult, s **byte) cuResult { *s = cstr("fake description"); return 0 },
	}
}

func (f *fakeGPU) cublas() *cublasAPI {
	return &cublasAPI{
		create:       func(h *uintptr) int32 { f.on(); *h = 0xb1; return 0 },
		destroy:      func(uintptr) int32 { f.on(); return 0 },
		setMathMode:  func(_ uintptr, mode int32) int32 { f.on(); return 0 },
		setWorkspace: func(_ uintptr, ws, n uint64) int32 { f.on(); return 0 },
		sgemm: func(_ uintptr, ta, tb, m, n, k int32, alpha *float32, a uint64, lda int32, b uint64, ldb int32, beta *float32, c uint64, ldc int32) int32 {
			f.on()
			f.gemms = append(f.gemms, "sgemm")
			return 0
		},
		sgemmStrided: func(_ uintptr, ta, tb, m, n, k int32, alpha *float32, a uint64, lda int32, sa int64, b uint64, ldb int32, sb int64, beta *float32, c uint64, ldc int32, sc int64, batch int32) int32 {
			f.on()
			f.gemms = append(f.gemms, "strided")
			return 7 // CUBLAS_STATUS_INVALID_VALUE, to see it reported
		},
	}
}

func openFake(t *testing.T) (*fakeGPU, *gpuDevice) {
	return openFakeGPU(t, &fakeGPU{t: t, mem: map[uint64][]byte{}})
}

func openFakeGPU(t *testing.T, f *fakeGPU) (*fakeGPU, *gpuDevice) {
	d, err := openDevice(f.driver(), 0, func(d *gpuDevice) error {
		d.blas = f.cublas()
		return d.do(d.initCublas)
	})
	if err != nil {
		t.Fatal(err)
	}
	return f, d
}

func TestFakeGPUDevice(t *testing.T) {
	t.Setenv("CRSC_CACHE_DIR", t.TempDir())
	f, d := openFake(t)
	info := d.Info()
	if info.Arch != "sm_90" || info.Name != "Fake H100" || info.Libraries["driver-version"] != "13.0" ||
		info.Libraries["cublas-workspace"] != "32.0 MiB" {
		t.Errorf("Info = %+v", info)
	}

	// Copies larger than the staging buffer go through it in chunks.
	n := 2*stagingSize + 123
	src := bytes.Repeat([]byte("0123456789abcdef"), n/16+1)[:n]
	p, err := d.Alloc(int64(n))
	check(t, err)
	check(t, d.CopyToDevice(p, src))
	got := make([]byte, n)
	check(t, d.CopyToHost(got, p))
	if !bytes.Equal(got, src) {
		t.Error("round trip changed the data")
	}
	if want := []uint64{stagingSize, stagingSize, 123, stagingSize, stagingSize, 123}; len(f.copies) != 6 || f.copies[2] != want[2] || f.copies[5] != want[5] {
		t.Errorf("copy chunks %v, want %v", f.copies, want)
	}
	if _, err := d.Alloc(3 << 30); err == nil || err.Error() != "cuda: cuMemAlloc(3.0 GiB): CUDA_ERROR_OUT_OF_MEMORY" {
		t.Errorf("OOM error: %v", err)
	}

	// Compile uses the real NVRTC when present; the fake driver loads anything.
	if _, err := NVRTCVersion(); err == nil {
		m, err := d.Compile("sum", testKernel)
		check(t, err)
		check(t, d.Launch(m, "sum", Dim3{4, 1, 1}, Dim3{256, 1, 1}, 64<<10, p, Ptr(8), int64(-5)))
		if len(f.launches) != 1 || f.launches[0][0] != uint64(p) || f.launches[0][1] != 8 || int64(f.launches[0][2]) != -5 {
			t.Errorf("launch args %v", f.launches)
		}
		if f.smemAttr != 64<<10 {
			t.Errorf("dynamic shared memory limit not raised (%d)", f.smemAttr)
		}
		if err := d.Launch(m, "other", Dim3{1, 1, 1}, Dim3{1, 1, 1}, 0); err == nil || !strings.Contains(err.Error(), `kernel "other" in module "sum": CUDA_ERROR_NOT_FOUND`) {
			t.Errorf("missing kernel: %v", err)
		}
	}

	check(t, d.Gemm(GemmArgs{M: 2, N: 2, K: 2, A: p, B: p, C: p, LDA: 2, LDB: 2, LDC: 2}))
	err = d.Gemm(GemmArgs{M: 2, N: 2, K: 2, A: p, B: p, C: p, LDA: 2, LDB: 2, LDC: 2, Batch: 2, StrideC: 4})
	if err == nil || !strings.Contains(err.Error(), "CUBLAS_STATUS_INVALID_VALUE") {
		t.Errorf("cuBLAS error not reported: %v", err)
	}
	if strings.Join(f.gemms, ",") != "sgemm,strided" {
		t.Errorf("gemm calls %v", f.gemms)
	}

	// Many goroutines at once: all calls still land on the one thread.
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			q, err := d.Alloc(64)
			if err == nil {
				err = d.Free(q)
			}
			if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()

	check(t, d.Close())
	if len(f.mem) != 0 || f.hostAlloc != 0 || f.modules != 0 || f.retained != 0 {
		t.Errorf("Close leaked: %d blocks, %d pinned, %d modules, %d context refs", len(f.mem), f.hostAlloc, f.modules, f.retained)
	}
	check(t, d.Close())
	if err := d.CopyToDevice(p, src); err != errClosed {
		t.Errorf("copy after Close: %v", err)
	}
}

func TestFakeGPUNoDevice(t *testing.T) {
	f := &fakeGPU{t: t, mem: map[uint64][]byte{}, noDevice: true}
	_, err := openDevice(f.driver(), 0, func(*gpuDevice) error { return nil })
	var nd *NoDeviceError
	if err == nil || err.Error() != "cuda: no CUDA device (cuInit: CUDA_ERROR_NO_DEVICE)" || !errors.As(err, &nd) {
		t.Errorf("got %v (%T)", err, err)
	}
	f = &fakeGPU{t: t, mem: map[uint64][]byte{}}
	if _, err := openDevice(f.driver(), 3, nil); err == nil || err.Error() != "cuda: no CUDA device 3 (1 present)" {
		t.Errorf("got %v", err)
	}
}

// TestBindingSignatures registers every driver, cuBLAS and NVRTC function
// type with purego (against an unrelated symbol, never called), so a type
// purego cannot marshal fails here rather than at Open on a GPU machine.
func TestBindingSignatures(t *testing.T) {
	sym, err := purego.Dlsym(purego.RTLD_DEFAULT, "abs")
	if err != nil {
		t.Skipf("skipping: no symbol to bind to (%v)", err)
	}
	for _, api := range []any{&driverAPI{}, &cublasAPI{}, &nvrtcAPI{}} {
		v := reflect.ValueOf(api).Elem()
		for i := 0; i < v.NumField(); i++ {
			f := v.Field(i)
			if f.Kind() != reflect.Func {
				continue
			}
			name := v.Type().Field(i).Name
			func() {
				defer func() {
					if p := recover(); p != nil {
						t.Errorf("%T.%s: purego refuses the signature: %v", api, name, p)
					}
				}()
				purego.RegisterFunc(reflect.NewAt(f.Type(), unsafe.Pointer(f.UnsafeAddr())).Interface(), sym)
			}()
		}
	}
}

// fakeNVRTC is an NVRTC of the given version that can hand out CUBIN for
// every architecture (it is never called).
func fakeNVRTC(major, minor int) *nvrtcAPI {
	get := func(uintptr, *byte) int32 { return 0 }
	size := func(uintptr, *uint64) int32 { return 0 }
	return &nvrtcAPI{major: major, minor: minor, versionStr: fmt.Sprintf("%d.%d", major, minor), cubin: get, cubinSize: size}
}

// A CUDA 12.4 driver refuses CUDA 13 NVRTC output: Open says so, naming
// both versions and the driver needed, instead of a bare load failure.
func TestFakeGPUDriverTooOldForNVRTC(t *testing.T) {
	f, d := openFakeGPU(t, &fakeGPU{t: t, mem: map[uint64][]byte{}, version: 12040})
	defer d.Close()
	if d.driverAPI != 12040 || d.Info().Libraries["driver-version"] != "12.4" {
		t.Fatalf("driver version %d, Info %v", d.driverAPI, d.Info().Libraries)
	}
	err := d.checkNVRTC(fakeNVRTC(13, 0), "/site/nvidia/cu13/lib/libnvrtc.so.13")
	for _, want := range []string{"the driver is too old for NVRTC 13.0 (/site/nvidia/cu13/lib/libnvrtc.so.13)",
		"CUDA 12.4 (driver API 12040)", "CUDA 13.0 (driver API 13000, Linux driver ≥ 580)", "a CUDA 12 NVRTC first in CRSC_CUDA_LIBS"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}
	if err := d.checkNVRTC(fakeNVRTC(12, 8), "libnvrtc.so.12"); err != nil {
		t.Errorf("CUBIN from NVRTC 12.8 on a 12.4 driver (minor version compatibility): %v", err)
	}
	if err := d.checkNVRTC(fakeNVRTC(11, 8), "libnvrtc.so.11.2"); err != nil {
		t.Errorf("NVRTC 11.8 on a 12.4 driver: %v", err)
	}
	_ = f
}

// A module the driver refuses is not recompiled to the same code when it
// did not come from the cache, and the error says what met what.
func TestFakeGPURefusedModule(t *testing.T) {
	v := needNVRTC(t)
	t.Setenv("CRSC_CACHE_DIR", t.TempDir())
	f, d := openFakeGPU(t, &fakeGPU{t: t, mem: map[uint64][]byte{}, version: 12040, refuse: fakeUnsupportedPTX})
	defer d.Close()
	_, err := d.Compile("sum", testKernel)
	for _, want := range []string{`load module "sum" for sm_90: CUDA_ERROR_UNSUPPORTED_PTX_VERSION`, "from NVRTC " + v,
		"the driver supports CUDA 12.4 (driver API 12040)"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}
	if f.loads != 1 {
		t.Errorf("fresh code loaded %d times, want once", f.loads)
	}
	// From the cache (now filled), one fresh compile is tried.
	f.loads = 0
	if _, err := d.Compile("sum", testKernel); err == nil || f.loads != 2 {
		t.Errorf("cached code: %d loads (want 2), %v", f.loads, err)
	}
}

func TestCheckVersions(t *testing.T) {
	tests := []struct {
		driver, major, minor int
		kind, err            string
	}{
		{13000, 13, 0, KindCUBIN, ""},
		{13010, 13, 0, KindPTX, ""},
		{12080, 13, 0, KindCUBIN, "Linux driver ≥ 580"},
		{12020, 12, 4, KindCUBIN, ""},
		{12020, 12, 4, KindPTX, "cannot JIT-compile from a newer CUDA; update the driver to CUDA 12.4"},
		{11080, 12, 0, KindCUBIN, "Linux driver ≥ 525"},
	}
	for _, tc := range tests {
		err := checkNVRTC(tc.driver, tc.major, tc.minor, "libnvrtc", tc.kind, "sm_100")
		if (err == nil) != (tc.err == "") || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("driver %d, NVRTC %d.%d %s: %v, want %q", tc.driver, tc.major, tc.minor, tc.kind, err, tc.err)
		}
	}
	if err := checkCublas(12040, "/x/nvidia/cu13/lib/libcublas.so.13.0.0.19"); err == nil || !strings.Contains(err.Error(), "too old for cuBLAS 13") {
		t.Errorf("cuBLAS 13 on a 12.4 driver: %v", err)
	}
	if err := checkCublas(13000, "/x/libcublas.so.12"); err != nil {
		t.Errorf("cuBLAS 12 on a 13.0 driver: %v", err)
	}
}
