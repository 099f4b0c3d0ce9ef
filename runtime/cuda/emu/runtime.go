package emu

import (
	_ "embed"
	"fmt"
	"sync"

	"github.com/ebitengine/purego"
)

//go:embed runtime.inc
var runtimeSource string

// rt is the loaded runtime library (runtime.inc): device memory and GEMM.
// Functions taking host memory are registered twice, once per direction,
// so Go passes its []byte as a typed pointer only for the call's duration.
type rt struct {
	alloc   func(size uint64) uintptr
	free    func(p uintptr)
	copy    func(dst, src uintptr, n uint64)
	copyIn  func(dst uintptr, src *byte, n uint64)
	copyOut func(dst *byte, src uintptr, n uint64)
	zero    func(p uintptr, n uint64)
	gemm    func(p *int64)
}

var (
	rtOnce sync.Once
	rtLib  *rt
	rtErr  error
)

// loadRuntime builds (or finds in the cache) and loads runtime.inc once per
// process; every emulated device shares it.
func loadRuntime(tc *toolchain) (*rt, error) {
	rtOnce.Do(func() {
		so, err := tc.sharedObject("runtime", tc.key("runtime", runtimeSource), func() (string, error) {
			return runtimeSource, nil
		})
		if err != nil {
			rtErr = err
			return
		}
		h, err := dlopen(so)
		if err != nil {
			rtErr = err
			return
		}
		r := &rt{}
		for _, f := range []struct {
			fn  any
			sym string
		}{
			{&r.alloc, "crsc_rt_alloc"}, {&r.free, "crsc_rt_free"},
			{&r.copy, "crsc_rt_copy"}, {&r.copyIn, "crsc_rt_copy"}, {&r.copyOut, "crsc_rt_copy"},
			{&r.zero, "crsc_rt_zero"}, {&r.gemm, "crsc_rt_gemm"},
		} {
			if err := register(f.fn, h, f.sym, so); err != nil {
				rtErr = err
				return
			}
		}
		rtLib = r
	})
	return rtLib, rtErr
}

// dlopen loads a shared object. RTLD_LOCAL keeps each module's symbols to
// itself; objects are never closed (see Device.Close).
func dlopen(path string) (uintptr, error) {
	h, err := purego.Dlopen(path, purego.RTLD_NOW|purego.RTLD_LOCAL)
	if err != nil {
		return 0, fmt.Errorf("emu: load %s: %v", path, err)
	}
	return h, nil
}

// register binds fn to symbol sym of h, as an error rather than purego's
// panic when the symbol is missing.
func register(fn any, h uintptr, sym, path string) error {
	if _, err := purego.Dlsym(h, sym); err != nil {
		return fmt.Errorf("emu: %s: missing symbol %s: %v", path, sym, err)
	}
	purego.RegisterLibFunc(fn, h, sym)
	return nil
}
