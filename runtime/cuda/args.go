package cuda

import (
	"fmt"
	"math"
	"unsafe"
)

// kernelParams is the argument block cuLaunchKernel takes: an array of
// pointers, one per kernel parameter, each pointing at a copy of the value.
// Every value gets an 8-byte slot; a 4-byte value sits in the low half, which
// on a little-endian host is where the pointer points. Both slices are Go
// heap memory, which does not move: keep the struct alive (runtime.KeepAlive)
// until the launch call returns, after which the driver has copied them.
type kernelParams struct {
	values []uint64
	ptrs   []unsafe.Pointer
}

// marshalArgs builds the argument block for a launch of kernel.
func marshalArgs(kernel string, args []any) (*kernelParams, error) {
	kp := &kernelParams{
		values: make([]uint64, len(args)),
		ptrs:   make([]unsafe.Pointer, len(args)),
	}
	for i, a := range args {
		var v uint64
		switch x := a.(type) {
		case Ptr:
			v = uint64(x)
		case int32:
			v = uint64(uint32(x))
		case uint32:
			v = uint64(x)
		case int64:
			v = uint64(x)
		case uint64:
			v = x
		case float32:
			v = uint64(math.Float32bits(x))
		default:
			// int, float64 and friends are refused rather than guessed at:
			// a wrong width silently shifts every later argument.
			return nil, fmt.Errorf("cuda: launch %s: argument %d has type %T; want Ptr, int32, uint32, int64, uint64 or float32", kernel, i, a)
		}
		kp.values[i] = v
		kp.ptrs[i] = unsafe.Pointer(&kp.values[i])
	}
	return kp, nil
}

// base is the pointer to pass as cuLaunchKernel's kernelParams (nil when
// the kernel takes no arguments).
func (kp *kernelParams) base() unsafe.Pointer {
	if len(kp.ptrs) == 0 {
		return nil
	}
	return unsafe.Pointer(&kp.ptrs[0])
}

// formatBytes writes a size the way error messages want it: "3.0 GiB".
func formatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTP"[exp])
}
