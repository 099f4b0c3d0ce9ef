package emu

import (
	"encoding/binary"
	"fmt"
	"math"
	"runtime"
	"sync"

	"crsc/runtime/cuda"
)

// launchMu serialises launches across all devices of the process: module
// objects are shared by path and their scheduler state and __shared__
// variables are global.
var launchMu sync.Mutex

// Launch runs kernel over grid×block CUDA threads and returns when it is
// done. Arguments are checked against the kernel's parameters, which the
// real driver cannot do: an int32 passed for an i64 parameter reads
// garbage on a GPU, so here it is an error.
func (d *Device) Launch(m cuda.Module, kernel string, grid, block cuda.Dim3, sharedBytes uint32, args ...any) error {
	mod, ok := m.(*module)
	if !ok || mod == nil {
		return fmt.Errorf("emu: launch %s: module %T was not compiled by the emulator", kernel, m)
	}
	if mod.dev != d {
		return fmt.Errorf("emu: launch %s: module %s belongs to another device", kernel, mod.name)
	}
	idx, ok := mod.lib.kernels[kernel]
	if !ok {
		return fmt.Errorf("emu: launch: module %s has no kernel %q", mod.name, kernel)
	}
	k := mod.lib.list[idx]
	if err := checkShape(grid, block, sharedBytes); err != nil {
		return fmt.Errorf("emu: launch %s: %v", kernel, err)
	}
	slots, err := marshal(k, args)
	if err != nil {
		return err
	}
	d.mu.Lock()
	closed := d.closed
	d.mu.Unlock()
	if closed {
		return errClosed
	}
	dims := [7]uint32{grid.X, grid.Y, grid.Z, block.X, block.Y, block.Z, sharedBytes}
	launchMu.Lock()
	rc := mod.lib.launch(int32(idx), &dims[0], &slots[0])
	launchMu.Unlock()
	runtime.KeepAlive(&dims)
	runtime.KeepAlive(slots)
	if rc != 0 {
		err := fmt.Errorf("emu: launch %s: %s", kernel, launchStatus(rc))
		d.mu.Lock()
		if d.asyncErr == nil {
			d.asyncErr = err
		}
		d.mu.Unlock()
		return err
	}
	return nil
}

// Launch limits of the emulator, which are CUDA's.
const (
	maxThreads = 1024      // per block; emu.h's max_threads
	maxShared  = 227 << 10 // dynamic shared bytes; emu.h's max_shared
)

// checkShape applies CUDA's launch limits, so a launch that the GPU would
// reject fails here too.
func checkShape(grid, block cuda.Dim3, shared uint32) error {
	switch {
	case grid.X == 0 || grid.Y == 0 || grid.Z == 0:
		return fmt.Errorf("empty grid %v", grid)
	case grid.X > math.MaxInt32 || grid.Y > 65535 || grid.Z > 65535:
		return fmt.Errorf("grid %v exceeds CUDA's limits (2^31-1, 65535, 65535)", grid)
	case block.X == 0 || block.Y == 0 || block.Z == 0:
		return fmt.Errorf("empty block %v", block)
	case block.X > maxThreads || block.Y > maxThreads || block.Z > 64 ||
		uint64(block.X)*uint64(block.Y)*uint64(block.Z) > maxThreads:
		return fmt.Errorf("block %v has more than %d threads or exceeds (1024, 1024, 64)", block, maxThreads)
	case shared > maxShared:
		return fmt.Errorf("%d bytes of dynamic shared memory exceed the %d-byte limit", shared, maxShared)
	}
	return nil
}

// marshal packs args into 8-byte slots in parameter order, in the byte
// order the kernel reads them, after checking each against its parameter.
func marshal(k kernel, args []any) ([]byte, error) {
	if len(args) != len(k.kinds) {
		return nil, fmt.Errorf("emu: launch %s: %d arguments for %d parameters", k.name, len(args), len(k.kinds))
	}
	slots := make([]byte, 8*len(args)+8) // +8: never empty, for &slots[0]
	for i, a := range args {
		var got kind
		var bits uint64
		switch v := a.(type) {
		case cuda.Ptr:
			got, bits = kindPtr, uint64(v)
		case int32:
			got, bits = kindI32, uint64(uint32(v))
		case uint32:
			got, bits = kindI32, uint64(v)
		case int64:
			got, bits = kindI64, uint64(v)
		case uint64:
			got, bits = kindI64, v
		case float32:
			got, bits = kindF32, uint64(math.Float32bits(v))
		default:
			return nil, fmt.Errorf("emu: launch %s: argument %d (%s) has type %T; want cuda.Ptr, int32, uint32, int64, uint64 or float32",
				k.name, i, k.params[i], a)
		}
		if got != k.kinds[i] {
			return nil, fmt.Errorf("emu: launch %s: argument %d (%s) is a %T but the parameter is a %v",
				k.name, i, k.params[i], a, k.kinds[i])
		}
		// A 4-byte parameter is read from the first 4 bytes of its slot.
		if got == kindI32 || got == kindF32 {
			binary.NativeEndian.PutUint32(slots[8*i:], uint32(bits))
		} else {
			binary.NativeEndian.PutUint64(slots[8*i:], bits)
		}
	}
	return slots, nil
}

// launchStatus explains a status code of crsc_emu_launch (emu.h).
func launchStatus(rc int32) string {
	switch rc {
	case 1:
		return "kernel index out of range"
	case 2:
		return "bad block size"
	case 3:
		return "too much dynamic shared memory"
	case 4:
		return "cannot map fiber stacks"
	}
	return fmt.Sprintf("status %d", rc)
}
