//go:build linux && (amd64 || arm64)

package cuda

import (
	"fmt"
	"sync"
	"unsafe"

	"github.com/ebitengine/purego"
)

// This file is the bridge from the search in loader.go to purego: it
// dlopens, finds where a library came from, and binds C functions to Go
// function variables.

// library is one lazily loaded shared library. Loading happens on first
// use (Open, NVRTC), never at import time.
type library struct {
	spec   libSpec
	once   sync.Once
	handle uintptr
	path   string
	err    error
}

var (
	driverLib = &library{spec: driverSpec}
	cublasLib = &library{spec: cublasSpec}
	nvrtcLib  = &library{spec: nvrtcSpec}
)

// load finds and opens the library once per process, preferring one of
// major version at most maxMajor (0: any; see searchEnv.find). The first
// call decides.
func (l *library) load(maxMajor int) error {
	l.once.Do(func() {
		l.handle, l.path, l.err = osSearchEnv(dlopen, dlpath).find(l.spec, maxMajor)
	})
	return l.err
}

// dlopen uses RTLD_GLOBAL so that a library's own dependencies (cuBLAS
// needs cuBLASLt, NVRTC its builtins) resolve against what is loaded.
func dlopen(path string) (uintptr, error) {
	return purego.Dlopen(path, purego.RTLD_NOW|purego.RTLD_GLOBAL)
}

// dlInfo mirrors glibc's Dl_info.
type dlInfo struct {
	fname *byte
	fbase uintptr
	sname *byte
	saddr uintptr
}

var (
	dladdrOnce sync.Once
	dladdrFn   func(addr uintptr, info *dlInfo) int32
)

// dlpath names the file that a symbol of handle came from (dladdr), so
// Info can say which libcuda was picked up by the loader's own search.
func dlpath(handle uintptr, probe string) string {
	dladdrOnce.Do(func() {
		// glibc ≥ 2.34 has dladdr in libc; older ones in libdl.
		for _, lib := range []string{"libc.so.6", "libdl.so.2"} {
			h, err := purego.Dlopen(lib, purego.RTLD_NOW)
			if err != nil {
				continue
			}
			if sym, err := purego.Dlsym(h, "dladdr"); err == nil {
				purego.RegisterFunc(&dladdrFn, sym)
				return
			}
		}
	})
	if dladdrFn == nil {
		return ""
	}
	sym, err := purego.Dlsym(handle, probe)
	if err != nil {
		return ""
	}
	var info dlInfo
	if dladdrFn(sym, &info) == 0 {
		return ""
	}
	return goString(info.fname)
}

// goString copies a NUL-terminated C string.
func goString(p *byte) string {
	if p == nil {
		return ""
	}
	n := 0
	for *(*byte)(unsafe.Add(unsafe.Pointer(p), n)) != 0 {
		n++
	}
	return string(unsafe.Slice(p, n))
}

// binding is one C function to bind: the first of names the library has is
// bound to fn (a pointer to a Go func variable). An optional one may be
// missing (fn stays nil), which callers check.
type binding struct {
	fn       any
	names    []string
	optional bool
}

func bind(l *library, bs []binding) error {
	for _, b := range bs {
		found := false
		for _, name := range b.names {
			sym, err := purego.Dlsym(l.handle, name)
			if err != nil {
				continue
			}
			purego.RegisterFunc(b.fn, sym)
			found = true
			break
		}
		if !found && !b.optional {
			return fmt.Errorf("cuda: %s lacks %s (library too old?)", l.path, b.names[0])
		}
	}
	return nil
}

// fn is shorthand for a required binding.
func fn(f any, names ...string) binding { return binding{fn: f, names: names} }

// optFn is shorthand for an optional binding.
func optFn(f any, name string) binding { return binding{fn: f, names: []string{name}, optional: true} }

// boundOnce is a library's API bound once per process: the first get's
// maxMajor picks the library, and later calls return the same API or error.
type boundOnce[T any] struct {
	once sync.Once
	api  *T
	err  error
}

// get loads lib (major version at most maxMajor, 0: any), binds the
// functions bindings lists into a new T and runs init on it (nil: none);
// the API is kept only when all three succeed.
func (b *boundOnce[T]) get(lib *library, maxMajor int, bindings func(*T) []binding, init func(*T) error) (*T, error) {
	b.once.Do(func() {
		if b.err = lib.load(maxMajor); b.err != nil {
			return
		}
		api := new(T)
		if b.err = bind(lib, bindings(api)); b.err != nil {
			return
		}
		if init != nil {
			if b.err = init(api); b.err != nil {
				return
			}
		}
		b.api = api
	})
	return b.api, b.err
}
