//go:build linux && (amd64 || arm64)

package cuda

import (
	"fmt"
	"unsafe"
)

// This file binds the CUDA driver API (libcuda.so.1). Types follow cuda.h on
// a 64-bit host: CUresult, CUdevice and enums are int32, handles
// (CUcontext, CUmodule, CUfunction) are pointers (uintptr), CUdeviceptr is
// an unsigned long long (uint64) and size_t is uint64.

type cuResult int32

const (
	cuSuccess cuResult = 0

	cuAttrComputeMajor          = 75 // CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR
	cuAttrComputeMinor          = 76 // CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR
	cuFuncAttrMaxDynamicShared  = 8  // CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES
	cuDefaultDynamicSharedLimit = 48 << 10
)

type driverAPI struct {
	cuInit               func(flags uint32) cuResult
	cuDriverGetVersion   func(v *int32) cuResult
	cuDeviceGetCount     func(n *int32) cuResult
	cuDeviceGet          func(dev *int32, ordinal int32) cuResult
	cuDeviceGetName      func(name *byte, length int32, dev int32) cuResult
	cuDeviceGetAttribute func(v *int32, attr int32, dev int32) cuResult
	cuDeviceTotalMem     func(bytes *uint64, dev int32) cuResult

	cuDevicePrimaryCtxRetain  func(ctx *uintptr, dev int32) cuResult
	cuDevicePrimaryCtxRelease func(dev int32) cuResult
	cuCtxSetCurrent           func(ctx uintptr) cuResult
	cuCtxSynchronize          func() cuResult

	cuMemAlloc     func(p *uint64, size uint64) cuResult
	cuMemFree      func(p uint64) cuResult
	cuMemcpyHtoD   func(dst uint64, src unsafe.Pointer, size uint64) cuResult
	cuMemcpyDtoH   func(dst unsafe.Pointer, src uint64, size uint64) cuResult
	cuMemcpyDtoD   func(dst, src uint64, size uint64) cuResult
	cuMemsetD8     func(dst uint64, value uint8, n uint64) cuResult
	cuMemGetInfo   func(free, total *uint64) cuResult
	cuMemHostAlloc func(p *unsafe.Pointer, size uint64, flags uint32) cuResult
	cuMemFreeHost  func(p unsafe.Pointer) cuResult

	cuModuleLoadData    func(m *uintptr, image unsafe.Pointer) cuResult
	cuModuleGetFunction func(f *uintptr, m uintptr, name string) cuResult
	cuModuleUnload      func(m uintptr) cuResult
	cuFuncSetAttribute  func(f uintptr, attr int32, value int32) cuResult // optional
	cuLaunchKernel      func(f uintptr, gx, gy, gz, bx, by, bz, shared uint32, stream uintptr, params unsafe.Pointer, extra unsafe.Pointer) cuResult

	cuGetErrorName   func(r cuResult, s **byte) cuResult
	cuGetErrorString func(r cuResult, s **byte) cuResult
}

var drvOnce boundOnce[driverAPI]

// loadDriver loads and binds libcuda.so.1 once per process.
func loadDriver() (*driverAPI, error) {
	return drvOnce.get(driverLib, 0, func(d *driverAPI) []binding {
		return []binding{
			fn(&d.cuInit, "cuInit"),
			fn(&d.cuDriverGetVersion, "cuDriverGetVersion"),
			fn(&d.cuDeviceGetCount, "cuDeviceGetCount"),
			fn(&d.cuDeviceGet, "cuDeviceGet"),
			fn(&d.cuDeviceGetName, "cuDeviceGetName"),
			fn(&d.cuDeviceGetAttribute, "cuDeviceGetAttribute"),
			fn(&d.cuDeviceTotalMem, "cuDeviceTotalMem_v2"),
			fn(&d.cuDevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain"),
			// cuda.h maps cuDevicePrimaryCtxRelease to _v2 since CUDA 11.
			fn(&d.cuDevicePrimaryCtxRelease, "cuDevicePrimaryCtxRelease_v2", "cuDevicePrimaryCtxRelease"),
			fn(&d.cuCtxSetCurrent, "cuCtxSetCurrent"),
			fn(&d.cuCtxSynchronize, "cuCtxSynchronize"),
			fn(&d.cuMemAlloc, "cuMemAlloc_v2"),
			fn(&d.cuMemFree, "cuMemFree_v2"),
			fn(&d.cuMemcpyHtoD, "cuMemcpyHtoD_v2"),
			fn(&d.cuMemcpyDtoH, "cuMemcpyDtoH_v2"),
			fn(&d.cuMemcpyDtoD, "cuMemcpyDtoD_v2"),
			fn(&d.cuMemsetD8, "cuMemsetD8_v2"),
			fn(&d.cuMemGetInfo, "cuMemGetInfo_v2"),
			fn(&d.cuMemHostAlloc, "cuMemHostAlloc"),
			fn(&d.cuMemFreeHost, "cuMemFreeHost"),
			fn(&d.cuModuleLoadData, "cuModuleLoadData"),
			fn(&d.cuModuleGetFunction, "cuModuleGetFunction"),
			fn(&d.cuModuleUnload, "cuModuleUnload"),
			optFn(&d.cuFuncSetAttribute, "cuFuncSetAttribute"),
			fn(&d.cuLaunchKernel, "cuLaunchKernel"),
			fn(&d.cuGetErrorName, "cuGetErrorName"),
			fn(&d.cuGetErrorString, "cuGetErrorString"),
		}
	}, nil)
}

// name is the CUresult's enum name, e.g. CUDA_ERROR_OUT_OF_MEMORY.
func (d *driverAPI) name(r cuResult) string {
	var s *byte
	if d.cuGetErrorName(r, &s) == cuSuccess && s != nil {
		return goString(s)
	}
	return fmt.Sprintf("CUresult(%d)", int32(r))
}

// check turns a CUresult into an error "cuda: <what>: <NAME>".
func (d *driverAPI) check(r cuResult, format string, args ...any) error {
	if r == cuSuccess {
		return nil
	}
	return fmt.Errorf("cuda: %s: %s", fmt.Sprintf(format, args...), d.name(r))
}

// errorString is the driver's description of r, for the rarer errors where
// the name alone says little (e.g. launch failures).
func (d *driverAPI) errorString(r cuResult) string {
	var s *byte
	if d.cuGetErrorString(r, &s) == cuSuccess && s != nil {
		return goString(s)
	}
	return ""
}
