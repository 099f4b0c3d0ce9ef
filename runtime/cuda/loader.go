package cuda

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
)

// This file decides where the CUDA libraries come from. The search is plain
// Go over a searchEnv, which holds every outside effect (environment, file
// system, dlopen), so tests can run it against fake directories and a fake
// opener. The real opener lives in dlopen.go.

// libSpec names one library and the sonames to try, best first.
type libSpec struct {
	key   string   // Info.Libraries key: "driver", "cublas", "nvrtc"
	names []string // sonames, best first
	probe string   // a symbol it exports, to find the file it came from
	hint  string   // what to do when it is missing
	// companions are glob patterns, given a soname's major version, for
	// libraries it needs from its own folder (cuBLAS needs cuBLASLt, NVRTC
	// its builtins). They are loaded first, so that the library's own lookup
	// finds them already loaded even when the folder is on no search path.
	companions []string
}

var (
	driverSpec = libSpec{"driver", []string{"libcuda.so.1"}, "cuInit",
		"install the NVIDIA driver", nil}
	cublasSpec = libSpec{"cublas", []string{"libcublas.so.13", "libcublas.so.12", "libcublas.so.11"}, "cublasCreate_v2",
		"install the CUDA toolkit or pip install nvidia-cublas", []string{"libcublasLt.so.%s"}}
	// libnvrtc.so.11.2 is the soname every CUDA 11.x NVRTC (11.2 to 11.8) uses.
	nvrtcSpec = libSpec{"nvrtc", []string{"libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so.11.2", "libnvrtc.so.11"}, "nvrtcVersion",
		"install the CUDA toolkit or pip install nvidia-cuda-nvrtc", []string{"libnvrtc-builtins.so.%s*"}}
)

// searchEnv is everything the search reads from the outside world.
type searchEnv struct {
	getenv func(string) string
	glob   func(pattern string) ([]string, error)
	exists func(path string) bool
	// open dlopens a path, or a bare soname through the loader's own search.
	open func(path string) (handle uintptr, err error)
	// resolve names the file a bare-soname open came from ("" if unknown).
	resolve func(handle uintptr, probe string) string
	goarch  string
	// sitePackages lists the site-packages folders of the python3 on PATH
	// (nil: none, or no such python).
	sitePackages func() []string
}

// osSearchEnv is the real environment; dlopen.go supplies open and resolve.
func osSearchEnv(open func(string) (uintptr, error), resolve func(uintptr, string) string) searchEnv {
	return searchEnv{
		getenv: os.Getenv,
		glob:   filepath.Glob,
		exists: func(p string) bool {
			st, err := os.Stat(p) // follows symlinks, as dlopen does
			return err == nil && st.Mode().IsRegular()
		},
		open:         open,
		resolve:      resolve,
		goarch:       runtime.GOARCH,
		sitePackages: pythonSitePackagesOnce,
	}
}

// pythonQuery asks a python for its site-packages folders: those on its
// path (a virtualenv's included), then the system and user ones (old
// virtualenvs' site modules lack these functions).
const pythonQuery = `import site, sys
d = [p for p in sys.path if p.endswith(("site-packages", "dist-packages"))]
try: d += site.getsitepackages()
except Exception: pass
try: d.append(site.getusersitepackages())
except Exception: pass
print("\n".join(d))`

// pythonTimeout bounds the question: a python that hangs (a broken
// sitecustomize, a network home) must not hang the search.
const pythonTimeout = 3 * time.Second

var pythonSitePackagesOnce = sync.OnceValue(func() []string {
	return pythonSitePackages("python3", pythonTimeout)
})

// pythonSitePackages runs python (looked up on PATH) and returns the
// site-packages folders it names, or nil if it is absent, fails or times
// out. Where the CUDA wheels go is that python's business, so ask it.
func pythonSitePackages(python string, timeout time.Duration) []string {
	path, err := exec.LookPath(python)
	if err != nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, "-c", pythonQuery)
	cmd.WaitDelay = timeout // do not wait on a child that keeps the pipe open
	out, err := cmd.Output()
	if err != nil {
		return nil
	}
	var dirs []string
	for _, l := range strings.Split(string(out), "\n") {
		if l = strings.TrimSpace(l); filepath.IsAbs(l) {
			dirs = append(dirs, l)
		}
	}
	return dirs
}

// cudaDirs are the fixed CUDA toolkit folders (step 3 of the search).
func (e searchEnv) cudaDirs() []string {
	target := "x86_64-linux"
	if e.goarch == "arm64" {
		target = "sbsa-linux"
	}
	return []string{"/usr/local/cuda/lib64", "/usr/local/cuda/targets/" + target + "/lib"}
}

// pythonDirs lists the existing library folders of pip/conda CUDA installs
// (step 4), and the site-packages folders they were looked for in.
// PyTorch's wheels pull in nvidia-* packages whose libraries sit in
// site-packages/nvidia/<pkg>/lib (CUDA 12: nvidia/cublas/lib,
// nvidia/cuda_nvrtc/lib) or all in nvidia/cu13/lib (CUDA 13); NVRTC's
// builtins sit beside NVRTC in both. The python3 on PATH is asked first;
// the usual prefixes are globbed too, for pythons not on PATH.
func (e searchEnv) pythonDirs() (dirs, sites []string) {
	home := e.getenv("HOME")
	var patterns []string
	if e.sitePackages != nil {
		for _, p := range e.sitePackages() {
			patterns = append(patterns, globEscape(p))
		}
	}
	add := func(prefix, rest string) {
		if prefix != "" {
			patterns = append(patterns, prefix+rest)
		}
	}
	add(e.getenv("VIRTUAL_ENV"), "/lib/python3*/site-packages")
	add(e.getenv("CONDA_PREFIX"), "/lib/python3*/site-packages")
	add("/usr", "/lib/python3*/dist-packages")
	add("/usr", "/lib/python3*/site-packages")
	add("/usr/local", "/lib/python3*/site-packages")
	add("/usr/local", "/lib/python3*/dist-packages")
	add(home, "/.local/lib/python3*/site-packages")
	add("/opt/conda", "/lib/python3*/site-packages")
	add(home, "/miniconda3/lib/python3*/site-packages")
	add(home, "/.pyenv/versions/*/lib/python3*/site-packages")

	seen := map[string]bool{}
	for _, pat := range patterns {
		matches, _ := e.glob(pat) // a bad pattern just matches nothing
		for _, m := range matches {
			if !seen[m] {
				seen[m] = true
				sites = append(sites, m)
			}
		}
	}
	for _, site := range sites {
		for _, sub := range []string{"/nvidia/cu*/lib", "/nvidia/*/lib", "/torch/lib"} {
			matches, _ := e.glob(globEscape(site) + sub)
			for _, m := range matches {
				if !seen[m] {
					seen[m] = true
					dirs = append(dirs, m)
				}
			}
		}
	}
	return dirs, sites
}

// globEscape quotes the pattern characters of a literal path.
func globEscape(p string) string {
	return strings.NewReplacer(`\`, `\\`, `*`, `\*`, `?`, `\?`, `[`, `\[`).Replace(p)
}

// find locates and opens spec's library. The first location holding any of
// its sonames wins, trying sonames best first within a location, so a folder
// named in CRSC_CUDA_LIBS overrides a newer library elsewhere.
//
// With maxMajor > 0 (the driver's CUDA major version), a library of at
// most that major version is preferred wherever it is: a CUDA 13 NVRTC or
// cuBLAS needs a CUDA 13 driver, so on a CUDA 12 driver a CUDA 12 one
// further down the search beats it. Only when there is none is a newer
// one returned, for the caller to explain (see checkVersions).
func (e searchEnv) find(spec libSpec, maxMajor int) (handle uintptr, path string, err error) {
	if fit := spec.upTo(maxMajor); maxMajor > 0 && len(fit.names) > 0 && len(fit.names) < len(spec.names) {
		if h, p, err := e.find(fit, 0); err == nil {
			return h, p, nil
		}
	}
	s := &libSearch{e: e, spec: spec}
	// 1. CRSC_CUDA_LIBS, the explicit override.
	envDirs := e.envDirs()
	if h, p, ok := s.inDirs(envDirs); ok {
		return h, p, nil
	}
	// 2. The dynamic loader's own search (LD_LIBRARY_PATH, ld.so.cache).
	if h, p, ok := s.byLoader(); ok {
		return h, p, nil
	}
	// 3. The CUDA toolkit's usual home, 4. Python CUDA installs.
	if h, p, ok := s.inDirs(e.cudaDirs()); ok {
		return h, p, nil
	}
	pyDirs, sites := e.pythonDirs()
	if h, p, ok := s.inDirs(pyDirs); ok {
		return h, p, nil
	}
	nf := &NotFoundError{Library: spec.key, Names: spec.names, Hint: spec.hint,
		Searched: e.searchedDesc(envDirs, pyDirs, sites)}
	if len(s.broken) > 0 {
		// Only the first: it is the one that would have been used.
		nf.Broken = oneLine(s.broken[0])
	}
	return 0, "", nf
}

// libSearch is one search for a library across the locations find tries in
// turn; it remembers the files that exist but failed to load, so a
// NotFoundError can say why.
type libSearch struct {
	e      searchEnv
	spec   libSpec
	broken []string // files that exist but failed to load, with why
}

// inDirs opens the first of the spec's sonames present in the first folder
// of dirs holding any, loading its companions first.
func (s *libSearch) inDirs(dirs []string) (handle uintptr, path string, ok bool) {
	for _, dir := range dirs {
		for _, name := range s.spec.names {
			p := filepath.Join(dir, name)
			if !s.e.exists(p) {
				continue
			}
			s.e.openCompanions(s.spec, dir, name)
			h, err := s.e.open(p)
			if err == nil {
				return h, p, true
			}
			s.broken = append(s.broken, err.Error())
		}
	}
	return 0, "", false
}

// byLoader lets the dynamic loader search by soname, and asks it where the
// library it opened lives.
func (s *libSearch) byLoader() (handle uintptr, path string, ok bool) {
	for _, name := range s.spec.names {
		h, err := s.e.open(name)
		if err == nil {
			p := s.e.resolve(h, s.spec.probe)
			if p == "" {
				p = name
			}
			return h, p, true
		}
		// "x: cannot open shared object file" only says it is absent; any
		// other message (a missing dependency, a wrong ELF class) is news.
		if msg := err.Error(); !strings.HasPrefix(msg, name+": cannot open shared object file") {
			s.broken = append(s.broken, msg)
		}
	}
	return 0, "", false
}

// envDirs lists the non-empty folders of CRSC_CUDA_LIBS.
func (e searchEnv) envDirs() []string {
	var dirs []string
	for _, d := range strings.Split(e.getenv("CRSC_CUDA_LIBS"), ":") {
		if d != "" {
			dirs = append(dirs, d)
		}
	}
	return dirs
}

// searchedDesc says in words where find looked, for a NotFoundError.
func (e searchEnv) searchedDesc(envDirs, pyDirs, sites []string) string {
	envDesc := "CRSC_CUDA_LIBS (unset)"
	if len(envDirs) > 0 {
		envDesc = "CRSC_CUDA_LIBS (" + strings.Join(envDirs, ":") + ")"
	}
	searched := fmt.Sprintf("%s, the loader path, %s, %d Python CUDA folder%s",
		envDesc, strings.Join(e.cudaDirs(), ", "), len(pyDirs), plural(len(pyDirs)))
	if len(sites) == 0 {
		return searched + " (no site-packages found)"
	}
	const show = 4 // the first are the likely ones: the python3 on PATH's
	more := ""
	if len(sites) > show {
		sites, more = sites[:show], fmt.Sprintf(" and %d more", len(sites)-show)
	}
	return searched + " (nvidia/*/lib, torch/lib in " + strings.Join(sites, ", ") + more + ")"
}

// NotFoundError is a library search that found nothing it could load.
type NotFoundError struct {
	Library  string   // "driver", "cublas" or "nvrtc"
	Names    []string // the sonames looked for
	Hint     string   // what to install
	Searched string   // where it looked, in words
	Broken   string   // why a file that was found failed to load, if one was
}

func (e *NotFoundError) Error() string {
	msg := fmt.Sprintf("cuda: %s not found (set CRSC_CUDA_LIBS, or %s); searched %s",
		strings.Join(e.Names, ", "), e.Hint, e.Searched)
	if e.Broken != "" {
		msg += "; found but failed to load: " + e.Broken
	}
	return msg
}

// NoDeviceError is Open's error when the driver loads but sees no GPU.
type NoDeviceError struct {
	Driver string // the libcuda it loaded
	Reason string // "cuInit: CUDA_ERROR_NO_DEVICE"
}

func (e *NoDeviceError) Error() string { return "cuda: no CUDA device (" + e.Reason + ")" }

// upTo is spec with only the sonames of major version at most max.
func (spec libSpec) upTo(max int) libSpec {
	out := spec
	out.names = nil
	for _, n := range spec.names {
		if sonameMajor(n) <= max {
			out.names = append(out.names, n)
		}
	}
	return out
}

// sonameMajor reads "libnvrtc.so.11.2" as 11 (0 if it has no version).
func sonameMajor(name string) int {
	_, version, _ := strings.Cut(name, ".so.")
	major, _, _ := strings.Cut(version, ".")
	n, _ := strconv.Atoi(major)
	return n
}

// openCompanions loads, best effort, the companions of soname name found
// in dir: a failure here shows up as the main library failing to load.
func (e searchEnv) openCompanions(spec libSpec, dir, name string) {
	_, version, _ := strings.Cut(name, ".so.")
	major, _, _ := strings.Cut(version, ".")
	for _, pat := range spec.companions {
		matches, _ := e.glob(filepath.Join(dir, fmt.Sprintf(pat, major)))
		for _, m := range matches {
			e.open(m)
		}
	}
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// oneLine keeps error messages to a single line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
