package emu

import (
	_ "embed"
	"fmt"
	"strings"
	"sync"

	"crsc/runtime/cuda"
)

//go:embed emu.h
var emuHeader string

// module is a compiled kernel source; it implements cuda.Module.
type module struct {
	name string
	lib  *lib
	dev  *Device
}

func (m *module) Name() string { return m.name }

// lib is a loaded module object, shared by every Compile of the same text.
type lib struct {
	path    string
	launch  func(kernel int32, dims *uint32, args *byte) int32
	kernels map[string]int // index into list
	list    []kernel
}

var (
	libsMu sync.Mutex
	libs   = map[string]*lib{} // by shared object path
)

// Compile builds source (with cuda.Prelude) into a shared object with g++,
// or finds it in the cache, and loads it.
func (d *Device) Compile(name, source string) (cuda.Module, error) {
	d.mu.Lock()
	closed := d.closed
	d.mu.Unlock()
	if closed {
		return nil, errClosed
	}
	text := moduleText(name, source)
	path, err := d.tc.sharedObject(name, d.tc.key("module", text), func() (string, error) {
		pre, err := d.tc.preprocess(name, text, "-DCRSC_EMU_SCAN")
		if err != nil {
			return "", err
		}
		ks, err := scanKernels(userText(pre))
		if err != nil {
			return "", fmt.Errorf("emu: compile %s: %v", name, err)
		}
		return text + thunks(name, ks), nil
	})
	if err != nil {
		return nil, err
	}
	l, err := loadLib(path)
	if err != nil {
		return nil, fmt.Errorf("emu: compile %s: %v", name, err)
	}
	return &module{name: name, lib: l, dev: d}, nil
}

// moduleText is the translation unit: emulator header, prelude, source.
// #line directives make compiler messages point into the right file.
func moduleText(name, source string) string {
	var b strings.Builder
	b.WriteString("#define CRSC_EMU 1\n#line 1 \"emu.h\"\n")
	b.WriteString(emuHeader)
	b.WriteString("\n#line 1 \"prelude.cuh\"\n")
	b.WriteString(cuda.Prelude)
	fmt.Fprintf(&b, "\n#line 1 \"%s.cu\"\n", sanitize(name))
	b.WriteString(source)
	b.WriteString("\n")
	return b.String()
}

// thunks generates, for each kernel, a function that unpacks the launch's
// argument slots (8 bytes each) and calls it, plus the two entry points the
// Go side uses: crsc_emu_kernels (the kernel table) and crsc_emu_launch.
func thunks(name string, ks []kernel) string {
	var b strings.Builder
	fmt.Fprintf(&b, "#line 1 \"%s.thunks.cc\"\n", sanitize(name))
	b.WriteString(`namespace crsc_emu {
// anyptr converts to whatever pointer type the parameter has.
struct anyptr {
  void* p;
  template <class T> operator T*() const { return static_cast<T*>(p); }
};
template <class T> inline T arg(const unsigned char* a, int i) {
  T v;
  memcpy(&v, a + 8 * i, sizeof v);
  return v;
}
}  // namespace crsc_emu
`)
	for i, k := range ks {
		fmt.Fprintf(&b, "static void crsc_emu_thunk_%d(const unsigned char* a) {\n  %s(", i, k.name)
		for j, kd := range k.kinds {
			if j > 0 {
				b.WriteString(", ")
			}
			switch kd {
			case kindPtr:
				fmt.Fprintf(&b, "crsc_emu::anyptr{crsc_emu::arg<void*>(a, %d)}", j)
			case kindI32:
				fmt.Fprintf(&b, "crsc_emu::arg<int>(a, %d)", j)
			case kindI64:
				fmt.Fprintf(&b, "crsc_emu::arg<long long>(a, %d)", j)
			case kindF32:
				fmt.Fprintf(&b, "crsc_emu::arg<float>(a, %d)", j)
			}
		}
		b.WriteString(");\n}\n")
	}
	b.WriteString("static crsc_emu::thunk_t const crsc_emu_table[] = {")
	for i := range ks {
		fmt.Fprintf(&b, "crsc_emu_thunk_%d, ", i)
	}
	b.WriteString("nullptr};\nstatic const bool crsc_emu_barrier[] = {")
	for _, k := range ks {
		fmt.Fprintf(&b, "%v, ", k.barrier)
	}
	b.WriteString("false};\n")
	fmt.Fprintf(&b, "extern \"C\" __attribute__((visibility(\"default\"))) const char* crsc_emu_kernels() {\n  return %q;\n}\n", encodeKernels(ks))
	fmt.Fprintf(&b, `extern "C" __attribute__((visibility("default"))) int crsc_emu_launch(int k, const unsigned* dims, const unsigned char* args) {
  if (k < 0 || k >= %d) return crsc_emu::err_kernel;
  return crsc_emu::run(crsc_emu_table[k], dims, args, crsc_emu_barrier[k]);
}
`, len(ks))
	return b.String()
}

// loadLib loads a module object once per process and reads its kernel table.
func loadLib(path string) (*lib, error) {
	libsMu.Lock()
	defer libsMu.Unlock()
	if l, ok := libs[path]; ok {
		return l, nil
	}
	h, err := dlopen(path)
	if err != nil {
		return nil, err
	}
	l := &lib{path: path, kernels: map[string]int{}}
	var table func() string
	if err := register(&table, h, "crsc_emu_kernels", path); err != nil {
		return nil, err
	}
	if err := register(&l.launch, h, "crsc_emu_launch", path); err != nil {
		return nil, err
	}
	if l.list, err = decodeKernels(table()); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	for i, k := range l.list {
		l.kernels[k.name] = i
	}
	libs[path] = l
	return l, nil
}
