//go:build !(linux && (amd64 || arm64))

package cuda

import (
	"errors"
	"runtime"
)

// The GPU device needs purego's float-capable calls and Linux sonames; on
// other platforms everything reports that plainly, so the package still
// builds everywhere.
var errUnsupported = errors.New("cuda: GPU support needs linux/amd64 or linux/arm64, not " + runtime.GOOS + "/" + runtime.GOARCH)

// Open reports that no GPU can be used on this platform.
func Open(ordinal int) (Device, error) { return nil, errUnsupported }

// CompileSource reports that NVRTC cannot be loaded on this platform.
func CompileSource(name, source, arch string) (code []byte, kind string, err error) {
	return nil, "", errUnsupported
}

// NVRTCVersion reports that NVRTC cannot be loaded on this platform.
func NVRTCVersion() (string, error) { return "", errUnsupported }
