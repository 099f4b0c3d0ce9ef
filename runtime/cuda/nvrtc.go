//go:build linux && (amd64 || arm64)

package cuda

import (
	"bytes"
	"fmt"
	"runtime"
	"sort"
	"strings"
	"unsafe"
)

// This file binds NVRTC, the runtime CUDA C compiler, and compiles kernel
// sources to CUBIN (or PTX for a GPU newer than the compiler), through the
// disk cache of cache.go. It needs no GPU.

type nvrtcAPI struct {
	version        func(major, minor *int32) int32
	errorString    func(r int32) string
	createProgram  func(prog *uintptr, src, name string, numHeaders int32, headers, includeNames unsafe.Pointer) int32
	compileProgram func(prog uintptr, numOptions int32, options unsafe.Pointer) int32
	destroyProgram func(prog *uintptr) int32
	logSize        func(prog uintptr, n *uint64) int32
	log            func(prog uintptr, out *byte) int32
	ptxSize        func(prog uintptr, n *uint64) int32
	ptx            func(prog uintptr, out *byte) int32
	cubinSize      func(prog uintptr, n *uint64) int32 // optional (NVRTC ≥ 11.1)
	cubin          func(prog uintptr, out *byte) int32 // optional
	numArchs       func(n *int32) int32                // optional (NVRTC ≥ 11.2)
	archList       func(archs *int32) int32            // optional

	major, minor int
	versionStr   string // "11.8"
	archs        []int  // real architectures it can emit CUBIN for, ascending
}

var nvrtcOnce boundOnce[nvrtcAPI]

// loadNVRTC loads and binds NVRTC once per process, preferring one of
// major version at most maxMajor (0: any; Open passes the driver's).
func loadNVRTC(maxMajor int) (*nvrtcAPI, error) {
	return nvrtcOnce.get(nvrtcLib, maxMajor, func(n *nvrtcAPI) []binding {
		return []binding{
			fn(&n.version, "nvrtcVersion"),
			fn(&n.errorString, "nvrtcGetErrorString"),
			fn(&n.createProgram, "nvrtcCreateProgram"),
			fn(&n.compileProgram, "nvrtcCompileProgram"),
			fn(&n.destroyProgram, "nvrtcDestroyProgram"),
			fn(&n.logSize, "nvrtcGetProgramLogSize"),
			fn(&n.log, "nvrtcGetProgramLog"),
			fn(&n.ptxSize, "nvrtcGetPTXSize"),
			fn(&n.ptx, "nvrtcGetPTX"),
			optFn(&n.cubinSize, "nvrtcGetCUBINSize"),
			optFn(&n.cubin, "nvrtcGetCUBIN"),
			optFn(&n.numArchs, "nvrtcGetNumSupportedArchs"),
			optFn(&n.archList, "nvrtcGetSupportedArchs"),
		}
	}, (*nvrtcAPI).init)
}

// init reads the bound library's version and the architectures it can
// emit CUBIN for.
func (n *nvrtcAPI) init() error {
	var major, minor int32
	if r := n.version(&major, &minor); r != 0 {
		return fmt.Errorf("cuda: nvrtcVersion: %s", n.errorString(r))
	}
	n.major, n.minor = int(major), int(minor)
	n.versionStr = fmt.Sprintf("%d.%d", major, minor)
	if n.numArchs != nil && n.archList != nil {
		var count int32
		if n.numArchs(&count) == 0 && count > 0 {
			list := make([]int32, count)
			if n.archList(&list[0]) == 0 {
				for _, a := range list {
					n.archs = append(n.archs, int(a))
				}
				sort.Ints(n.archs)
			}
		}
	}
	if n.cubin == nil || n.cubinSize == nil {
		n.archs = nil // cannot fetch CUBIN: PTX only, see target()
	}
	return nil
}

// NVRTCVersion loads NVRTC if needed and reports its version, e.g. "11.8".
func NVRTCVersion() (string, error) {
	n, err := loadNVRTC(0)
	if err != nil {
		return "", err
	}
	return n.versionStr, nil
}

// target picks the --gpu-architecture option and output kind for arch.
func (n *nvrtcAPI) target(want int) (option, kind string, err error) {
	if n.cubin == nil || n.cubinSize == nil {
		// Too old to hand out CUBIN: PTX for the device's own arch.
		return fmt.Sprintf("--gpu-architecture=compute_%d", want), KindPTX, nil
	}
	return chooseTarget(want, n.archs)
}

// fullSource is what NVRTC compiles: the prelude, then the kernel source
// under a #line directive so errors point at the kernel's own lines.
func fullSource(name, source string) string {
	file := strings.NewReplacer(`"`, "_", `\`, "_", "\n", "_").Replace(name) + ".cu"
	return Prelude + "\n#line 1 \"" + file + "\"\n" + source
}

// CompileSource compiles a kernel source (without the prelude, which it
// prepends) for arch ("sm_90") and returns the code and its kind: KindCUBIN,
// or KindPTX (NUL-terminated, as cuModuleLoadData wants it) when this NVRTC
// is older than arch. Results are cached on disk (see cache.go). It needs
// NVRTC but no GPU.
func CompileSource(name, source, arch string) (code []byte, kind string, err error) {
	c, err := compileCached(defaultCache(), name, source, arch)
	return c.code, c.kind, err
}

// compiled is what compileCached returns.
type compiled struct {
	code []byte
	kind string // KindCUBIN or KindPTX
	key  string // its cache key
	hit  bool   // whether it came from the cache
}

// compileCached is CompileSource with the cache and key exposed, so a device
// can drop an entry the driver then refuses. The key covers the source,
// architecture, NVRTC version, options and output kind.
func compileCached(cache codeCache, name, source, arch string) (compiled, error) {
	n, err := loadNVRTC(0)
	if err != nil {
		return compiled{}, err
	}
	want, err := parseArch(arch)
	if err != nil {
		return compiled{}, err
	}
	target, kind, err := n.target(want)
	if err != nil {
		return compiled{}, fmt.Errorf("cuda: compile %q: %w", name, err)
	}
	options := nvrtcOptions(target)
	src := fullSource(name, source)
	c := compiled{kind: kind, key: cacheKey("crsc-cuda-1", src, arch, n.versionStr, strings.Join(options, "\x00"), kind)}
	if code, ok := cache.get(c.key); ok && looksLike(kind, code) {
		c.code, c.hit = code, true
		return c, nil
	}
	if c.code, err = n.compile(name, src, options, kind); err != nil {
		return compiled{}, fmt.Errorf("cuda: compile %q for %s: %w", name, arch, err)
	}
	_ = cache.put(c.key, c.code) // a read-only cache only costs compile time
	return c, nil
}

// looksLike is a sanity check on a cache entry beyond its checksum.
func looksLike(kind string, code []byte) bool {
	if kind == KindCUBIN {
		return bytes.HasPrefix(code, []byte("\x7fELF"))
	}
	return bytes.Contains(code, []byte(".target")) && bytes.HasSuffix(code, []byte{0})
}

// compile runs NVRTC once and fetches the requested output.
func (n *nvrtcAPI) compile(name, src string, options []string, kind string) ([]byte, error) {
	var prog uintptr
	if r := n.createProgram(&prog, src, name+".cu", 0, nil, nil); r != 0 {
		return nil, fmt.Errorf("nvrtcCreateProgram: %s", n.errorString(r))
	}
	defer n.destroyProgram(&prog)

	// options is a char** of NUL-terminated copies; Go memory does not move.
	cstrs := make([]*byte, len(options))
	for i, o := range options {
		b := append([]byte(o), 0)
		cstrs[i] = &b[0]
	}
	r := n.compileProgram(prog, int32(len(cstrs)), unsafe.Pointer(&cstrs[0]))
	runtime.KeepAlive(cstrs)
	if r != 0 {
		msg := n.errorString(r)
		if log := n.programLog(prog); log != "" {
			msg += "\n" + log
		}
		return nil, fmt.Errorf("%s", msg)
	}

	size, get := n.ptxSize, n.ptx
	if kind == KindCUBIN {
		size, get = n.cubinSize, n.cubin
	}
	var sz uint64
	if r := size(prog, &sz); r != 0 {
		return nil, fmt.Errorf("getting %s size: %s", kind, n.errorString(r))
	}
	if sz == 0 {
		return nil, fmt.Errorf("NVRTC returned empty %s", kind)
	}
	out := make([]byte, sz)
	if r := get(prog, &out[0]); r != 0 {
		return nil, fmt.Errorf("getting %s: %s", kind, n.errorString(r))
	}
	return out, nil
}

// programLog returns the first lines of the compile log, indented, which is
// where the "file.cu(12): error: ..." lines are.
func (n *nvrtcAPI) programLog(prog uintptr) string {
	var sz uint64
	if n.logSize(prog, &sz) != 0 || sz <= 1 {
		return ""
	}
	buf := make([]byte, sz)
	if n.log(prog, &buf[0]) != 0 {
		return ""
	}
	return firstLines(string(bytes.TrimRight(buf, "\x00")), 12)
}

// firstLines keeps up to limit non-empty lines of s, each indented.
func firstLines(s string, limit int) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.TrimSpace(l) == "" {
			continue
		}
		if len(out) == limit {
			out = append(out, "    ...")
			break
		}
		out = append(out, "    "+strings.TrimRight(l, "\r"))
	}
	return strings.Join(out, "\n")
}
