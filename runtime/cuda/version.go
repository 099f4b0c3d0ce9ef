package cuda

import (
	"fmt"
	"path/filepath"
	"strings"
)

// The driver runs code from a toolkit of its own CUDA major version or
// older: a CUDA 13 NVRTC's CUBIN, or a CUDA 13 cuBLAS, needs a CUDA 13
// driver (driver API version 13000, Linux driver 580 or newer). Within a
// major version a CUBIN runs on an older minor driver, but PTX is
// JIT-compiled by the driver, which refuses a PTX ISA newer than itself.

// minLinuxDriver is the first Linux driver of each CUDA major version.
var minLinuxDriver = map[int]int{11: 450, 12: 525, 13: 580}

// driverCUDA formats a driver API version (cuDriverGetVersion, e.g. 12040)
// as the CUDA version it supports ("12.4").
func driverCUDA(v int) string { return fmt.Sprintf("%d.%d", v/1000, v%1000/10) }

// checkNVRTC says clearly when the driver (API version driver) cannot load
// what NVRTC major.minor (from path) emits as kind for arch; nil if it can.
func checkNVRTC(driver, major, minor int, path, kind, arch string) error {
	dMajor, dMinor := driver/1000, driver%1000/10
	if major > dMajor {
		return fmt.Errorf("cuda: the driver is too old for NVRTC %d.%d (%s): it supports CUDA %s (driver API %d), "+
			"and CUDA %d code needs CUDA %d.0 (driver API %d, Linux driver %s); update the driver, or put a CUDA %d NVRTC first in CRSC_CUDA_LIBS",
			major, minor, path, driverCUDA(driver), driver, major, major, major*1000, driverFloor(major), dMajor)
	}
	if kind == KindPTX && major == dMajor && minor > dMinor {
		return fmt.Errorf("cuda: the driver is too old for NVRTC %d.%d (%s): %s gets PTX, which the driver (CUDA %s, driver API %d) "+
			"cannot JIT-compile from a newer CUDA; update the driver to CUDA %d.%d, or use an NVRTC no newer than %s",
			major, minor, path, arch, driverCUDA(driver), driver, major, minor, driverCUDA(driver))
	}
	return nil
}

// checkCublas says clearly when the driver is too old for the cuBLAS found.
func checkCublas(driver int, path string) error {
	major := sonameMajor(filepath.Base(path))
	if major > driver/1000 {
		return fmt.Errorf("cuda: the driver is too old for cuBLAS %d (%s): it supports CUDA %s (driver API %d), and cuBLAS %d needs CUDA %d.0 (Linux driver %s); "+
			"update the driver, or put a CUDA %d cuBLAS first in CRSC_CUDA_LIBS", major, path, driverCUDA(driver), driver, major, major, driverFloor(major), driver/1000)
	}
	return nil
}

func driverFloor(major int) string {
	if v, ok := minLinuxDriver[major]; ok {
		return fmt.Sprintf("≥ %d", v)
	}
	return "of that version"
}

// stickyErrors are the driver errors that poison the CUDA context: after
// one, every later call in the process fails with the same error, so
// nothing that follows can be trusted (or checked).
var stickyErrors = []string{
	"CUDA_ERROR_ILLEGAL_ADDRESS", "CUDA_ERROR_LAUNCH_FAILED", "CUDA_ERROR_ILLEGAL_INSTRUCTION",
	"CUDA_ERROR_MISALIGNED_ADDRESS", "CUDA_ERROR_INVALID_ADDRESS_SPACE", "CUDA_ERROR_INVALID_PC",
	"CUDA_ERROR_HARDWARE_STACK_ERROR", "CUDA_ERROR_ASSERT", "CUDA_ERROR_LAUNCH_TIMEOUT",
	"CUDA_ERROR_ECC_UNCORRECTABLE",
}

// IsSticky reports whether err carries a driver error that poisons the
// context (see stickyErrors). It reads the error's text, so it sees through
// any wrapping, %v included.
func IsSticky(err error) bool {
	if err == nil {
		return false
	}
	msg := err.Error()
	for _, s := range stickyErrors {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}
