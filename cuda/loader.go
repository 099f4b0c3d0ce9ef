package cuda

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
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
		open:    open,
		resolve: resolve,
		goarch:  runtime.GOARCH,
	}
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
// (step 4): PyTorch's wheels pull in nvidia-* packages whose libraries sit in
// site-packages/nvidia/<pkg>/lib (CUDA 12) or nvidia/cu13/lib (CUDA 13).
func (e searchEnv) pythonDirs() []string {
	home := e.getenv("HOME")
	var roots []string
	add := func(prefix, rest string) {
		if prefix != "" {
			roots = append(roots, prefix+rest)
		}
	}
	add("/usr", "/lib/python3*/dist-packages")
	add("/usr/local", "/lib/python3*/site-packages")
	add("/usr/local", "/lib/python3*/dist-packages")
	add(home, "/.local/lib/python3*/site-packages")
	add("/opt/conda", "/lib/python3*/site-packages")
	add(e.getenv("CONDA_PREFIX"), "/lib/python3*/site-packages")
	add(e.getenv("VIRTUAL_ENV"), "/lib/python3*/site-packages")
	add(home, "/.pyenv/versions/*/lib/python3*/site-packages")

	var dirs []string
	seen := map[string]bool{}
	for _, root := range roots {
		for _, sub := range []string{"/nvidia/*/lib", "/nvidia/cu*/lib", "/torch/lib"} {
			matches, _ := e.glob(root + sub) // a bad pattern just matches nothing
			for _, m := range matches {
				if !seen[m] {
					seen[m] = true
					dirs = append(dirs, m)
				}
			}
		}
	}
	return dirs
}

// find locates and opens spec's library. The first location holding any of
// its sonames wins, trying sonames best first within a location, so a folder
// named in CRSC_CUDA_LIBS overrides a newer library elsewhere.
func (e searchEnv) find(spec libSpec) (handle uintptr, path string, err error) {
	var broken []string // files that exist but failed to load, with why
	tryDirs := func(dirs []string) bool {
		for _, dir := range dirs {
			for _, name := range spec.names {
				p := filepath.Join(dir, name)
				if !e.exists(p) {
					continue
				}
				e.openCompanions(spec, dir, name)
				h, err := e.open(p)
				if err == nil {
					handle, path = h, p
					return true
				}
				broken = append(broken, err.Error())
			}
		}
		return false
	}

	// 1. CRSC_CUDA_LIBS, the explicit override.
	envVal := e.getenv("CRSC_CUDA_LIBS")
	var envDirs []string
	for _, d := range strings.Split(envVal, ":") {
		if d != "" {
			envDirs = append(envDirs, d)
		}
	}
	if tryDirs(envDirs) {
		return handle, path, nil
	}
	// 2. The dynamic loader's own search (LD_LIBRARY_PATH, ld.so.cache).
	for _, name := range spec.names {
		h, err := e.open(name)
		if err == nil {
			p := e.resolve(h, spec.probe)
			if p == "" {
				p = name
			}
			return h, p, nil
		}
		// "x: cannot open shared object file" only says it is absent; any
		// other message (a missing dependency, a wrong ELF class) is news.
		if msg := err.Error(); !strings.HasPrefix(msg, name+": cannot open shared object file") {
			broken = append(broken, msg)
		}
	}
	// 3. The CUDA toolkit's usual home, 4. Python CUDA installs.
	if tryDirs(e.cudaDirs()) {
		return handle, path, nil
	}
	pyDirs := e.pythonDirs()
	if tryDirs(pyDirs) {
		return handle, path, nil
	}

	envDesc := "CRSC_CUDA_LIBS (unset)"
	if len(envDirs) > 0 {
		envDesc = "CRSC_CUDA_LIBS (" + strings.Join(envDirs, ":") + ")"
	}
	cd := e.cudaDirs()
	msg := fmt.Sprintf("cuda: %s not found (set CRSC_CUDA_LIBS, or %s); searched %s, the loader path, %s, %d Python CUDA folder%s",
		strings.Join(spec.names, ", "), spec.hint, envDesc, strings.Join(cd, ", "), len(pyDirs), plural(len(pyDirs)))
	if len(broken) > 0 {
		// Only the first: it is the one that would have been used.
		msg += "; found but failed to load: " + oneLine(broken[0])
	}
	return 0, "", fmt.Errorf("%s", msg)
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
