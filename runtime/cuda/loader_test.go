package cuda

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// fakeWorld is a search environment over a temporary directory: the files
// it "has" are real files under root (system paths are mapped inside root),
// and the loader's own search knows only the sonames in loaderHas.
type fakeWorld struct {
	root      string
	env       map[string]string
	loaderHas map[string]bool    // bare sonames the dynamic loader finds
	broken    map[string]bool    // paths that exist but fail to load
	opened    []string           // every open attempt, in order
	handles   map[uintptr]string // handle -> what was opened
	sites     []string           // what the python3 on PATH says (system paths)
}

func newFakeWorld(t *testing.T) *fakeWorld {
	return &fakeWorld{root: t.TempDir(), env: map[string]string{}, loaderHas: map[string]bool{},
		broken: map[string]bool{}, handles: map[uintptr]string{}}
}

// file creates a library file at a system path (mapped under root).
func (w *fakeWorld) file(t *testing.T, sysPath string) string {
	p := w.real(sysPath)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte("ELF"), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// fileUnderEnv points environment variable name at folder dir of the
// fake root and creates library file rel inside it.
func (w *fakeWorld) fileUnderEnv(t *testing.T, name, dir, rel string) {
	d := filepath.Join(w.root, dir)
	w.env[name] = d
	w.file(t, filepath.Join(d, rel))
}

// real maps an absolute system path into the fake root; paths already
// inside it (from CRSC_CUDA_LIBS, HOME) are left alone.
func (w *fakeWorld) real(p string) string {
	if strings.HasPrefix(p, w.root) {
		return p
	}
	return filepath.Join(w.root, p)
}

func (w *fakeWorld) searchEnv() searchEnv {
	return searchEnv{
		getenv: func(k string) string { return w.env[k] },
		glob:   func(pat string) ([]string, error) { return filepath.Glob(w.real(pat)) },
		exists: func(p string) bool {
			_, err := os.Stat(w.real(p))
			return err == nil
		},
		open: func(p string) (uintptr, error) {
			w.opened = append(w.opened, p)
			if !strings.Contains(p, "/") {
				if w.loaderHas[p] {
					h := uintptr(len(w.handles) + 1)
					w.handles[h] = "/loader/" + p
					return h, nil
				}
				return 0, errors.New(p + ": cannot open shared object file: No such file or directory")
			}
			if w.broken[w.real(p)] {
				return 0, errors.New(p + ": wrong ELF class: ELFCLASS32")
			}
			if _, err := os.Stat(w.real(p)); err != nil {
				return 0, err
			}
			h := uintptr(len(w.handles) + 1)
			w.handles[h] = p
			return h, nil
		},
		resolve:      func(h uintptr, probe string) string { return w.handles[h] },
		goarch:       "amd64",
		sitePackages: func() []string { return w.sites },
	}
}

func TestLoaderSearchOrder(t *testing.T) {
	const site = "/usr/local/lib/python3.12/site-packages"
	tests := []struct {
		name      string
		setup     func(t *testing.T, w *fakeWorld)
		spec      libSpec
		want      string // path suffix of the winner ("" = not found)
		wantInErr []string
	}{
		{
			name: "CRSC_CUDA_LIBS beats the loader, even with an older soname",
			setup: func(t *testing.T, w *fakeWorld) {
				dir := filepath.Join(w.root, "mine")
				w.file(t, filepath.Join(dir, "libcublas.so.12"))
				w.env["CRSC_CUDA_LIBS"] = "/nonexistent:" + dir
				w.loaderHas["libcublas.so.13"] = true
			},
			spec: cublasSpec,
			want: "/mine/libcublas.so.12",
		},
		{
			name: "loader path beats /usr/local/cuda, and reports the resolved file",
			setup: func(t *testing.T, w *fakeWorld) {
				w.loaderHas["libnvrtc.so.12"] = true
				w.file(t, "/usr/local/cuda/lib64/libnvrtc.so.13")
			},
			spec: nvrtcSpec,
			want: "/loader/libnvrtc.so.12",
		},
		{
			name: "/usr/local/cuda beats Python installs",
			setup: func(t *testing.T, w *fakeWorld) {
				w.file(t, "/usr/local/cuda/targets/x86_64-linux/lib/libcublas.so.12")
				w.file(t, site+"/nvidia/cu13/lib/libcublas.so.13")
			},
			spec: cublasSpec,
			want: "/usr/local/cuda/targets/x86_64-linux/lib/libcublas.so.12",
		},
		{
			name: "pip CUDA 13 layout (nvidia/cu13/lib)",
			setup: func(t *testing.T, w *fakeWorld) {
				w.file(t, site+"/nvidia/cu13/lib/libnvrtc.so.13")
			},
			spec: nvrtcSpec,
			want: site + "/nvidia/cu13/lib/libnvrtc.so.13",
		},
		{
			name: "pip CUDA 12 layout in a virtualenv, and the CUDA 11 NVRTC soname",
			setup: func(t *testing.T, w *fakeWorld) {
				w.fileUnderEnv(t, "VIRTUAL_ENV", "venv", "lib/python3.10/site-packages/nvidia/cuda_nvrtc/lib/libnvrtc.so.11.2")
			},
			spec: nvrtcSpec,
			want: "/venv/lib/python3.10/site-packages/nvidia/cuda_nvrtc/lib/libnvrtc.so.11.2",
		},
		{
			name: "torch/lib under ~/.local",
			setup: func(t *testing.T, w *fakeWorld) {
				w.fileUnderEnv(t, "HOME", "home", ".local/lib/python3.11/site-packages/torch/lib/libcublas.so.12")
			},
			spec: cublasSpec,
			want: "/home/.local/lib/python3.11/site-packages/torch/lib/libcublas.so.12",
		},
		{
			name: "a broken file is skipped, and a good one later wins",
			setup: func(t *testing.T, w *fakeWorld) {
				bad := w.file(t, "/usr/local/cuda/lib64/libcublas.so.13")
				w.broken[bad] = true
				w.file(t, site+"/nvidia/cublas/lib/libcublas.so.12")
			},
			spec: cublasSpec,
			want: site + "/nvidia/cublas/lib/libcublas.so.12",
		},
		{
			name:  "nothing anywhere: one line naming the library and the places",
			setup: func(t *testing.T, w *fakeWorld) { w.file(t, site+"/nvidia/cu13/lib/libcudart.so.13") },
			spec:  driverSpec,
			wantInErr: []string{"cuda: libcuda.so.1 not found", "install the NVIDIA driver", "CRSC_CUDA_LIBS (unset)",
				"the loader path", "/usr/local/cuda/lib64", "1 Python CUDA folder"},
		},
		{
			name: "found but unloadable: the error says why",
			setup: func(t *testing.T, w *fakeWorld) {
				bad := w.file(t, "/usr/local/cuda/lib64/libnvrtc.so.12")
				w.broken[bad] = true
			},
			spec:      nvrtcSpec,
			wantInErr: []string{"libnvrtc.so.13, libnvrtc.so.12", "0 Python CUDA folders", "found but failed to load", "wrong ELF class"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := newFakeWorld(t)
			tc.setup(t, w)
			h, path, err := w.searchEnv().find(tc.spec, 0)
			if tc.want == "" {
				if err == nil {
					t.Fatalf("found %s, want an error", path)
				}
				msg := err.Error()
				if strings.Contains(msg, "\n") {
					t.Errorf("error is not one line: %q", msg)
				}
				for _, s := range tc.wantInErr {
					if !strings.Contains(msg, s) {
						t.Errorf("error %q lacks %q", msg, s)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v (opened %v)", err, w.opened)
			}
			if h == 0 || !strings.HasSuffix(path, tc.want) {
				t.Errorf("got %s (handle %d), want …%s; opened %v", path, h, tc.want, w.opened)
			}
		})
	}
}

func TestLoaderArm64UsesSbsa(t *testing.T) {
	e := searchEnv{goarch: "arm64"}
	if got := e.cudaDirs()[1]; got != "/usr/local/cuda/targets/sbsa-linux/lib" {
		t.Errorf("arm64 target dir = %s", got)
	}
}

func TestLoaderOpensCompanionsFirst(t *testing.T) {
	w := newFakeWorld(t)
	dir := filepath.Join(w.root, "cuda13")
	w.file(t, filepath.Join(dir, "libcublasLt.so.13"))
	w.file(t, filepath.Join(dir, "libcublasLt.so.12")) // another major: left alone
	w.file(t, filepath.Join(dir, "libcublas.so.13"))
	w.file(t, filepath.Join(dir, "libnvrtc-builtins.so.13.0"))
	w.file(t, filepath.Join(dir, "libnvrtc.so.13"))
	w.env["CRSC_CUDA_LIBS"] = dir
	for _, tc := range []struct {
		spec      libSpec
		companion string
	}{{cublasSpec, "libcublasLt.so.13"}, {nvrtcSpec, "libnvrtc-builtins.so.13.0"}} {
		w.opened = nil
		if _, _, err := w.searchEnv().find(tc.spec, 0); err != nil {
			t.Fatal(err)
		}
		want := []string{filepath.Join(dir, tc.companion), filepath.Join(dir, tc.spec.names[0])}
		if strings.Join(w.opened, " ") != strings.Join(want, " ") {
			t.Errorf("%s: opened %v, want %v", tc.spec.key, w.opened, want)
		}
	}
}

// The python3 on PATH names its site-packages (here a prefix no glob
// covers, as with a python built into /opt/python); the CUDA wheels are
// found there in both layouts, each library after the companions beside it.
func TestLoaderPythonOnPath(t *testing.T) {
	const site = "/opt/python/3.12.7/lib/python3.12/site-packages"
	tests := []struct {
		name  string
		files []string // under site
		spec  libSpec
		want  []string // opened, in order, under site
	}{
		{"CUDA 13 wheels: nvidia/cu13/lib, NVRTC builtins beside NVRTC",
			[]string{"nvidia/cu13/lib/libnvrtc.so.13", "nvidia/cu13/lib/libnvrtc-builtins.so.13.0", "nvidia/cu13/lib/libcublas.so.13", "nvidia/cu13/lib/libcublasLt.so.13"},
			nvrtcSpec, []string{"nvidia/cu13/lib/libnvrtc-builtins.so.13.0", "nvidia/cu13/lib/libnvrtc.so.13"}},
		{"CUDA 13 wheels: cuBLAS after cuBLASLt",
			[]string{"nvidia/cu13/lib/libnvrtc.so.13", "nvidia/cu13/lib/libcublas.so.13", "nvidia/cu13/lib/libcublasLt.so.13"},
			cublasSpec, []string{"nvidia/cu13/lib/libcublasLt.so.13", "nvidia/cu13/lib/libcublas.so.13"}},
		{"CUDA 12 wheels: nvidia/cuda_nvrtc/lib",
			[]string{"nvidia/cuda_nvrtc/lib/libnvrtc.so.12", "nvidia/cuda_nvrtc/lib/libnvrtc-builtins.so.12.8", "nvidia/cublas/lib/libcublas.so.12", "nvidia/cublas/lib/libcublasLt.so.12"},
			nvrtcSpec, []string{"nvidia/cuda_nvrtc/lib/libnvrtc-builtins.so.12.8", "nvidia/cuda_nvrtc/lib/libnvrtc.so.12"}},
		{"CUDA 12 wheels: nvidia/cublas/lib",
			[]string{"nvidia/cuda_nvrtc/lib/libnvrtc.so.12", "nvidia/cublas/lib/libcublas.so.12", "nvidia/cublas/lib/libcublasLt.so.12"},
			cublasSpec, []string{"nvidia/cublas/lib/libcublasLt.so.12", "nvidia/cublas/lib/libcublas.so.12"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := newFakeWorld(t)
			w.sites = []string{site, "/nonexistent/site-packages"}
			for _, f := range tc.files {
				w.file(t, site+"/"+f)
			}
			_, path, err := w.searchEnv().find(tc.spec, 0)
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for _, f := range tc.want {
				want = append(want, w.real(site+"/"+f))
			}
			var got []string
			for _, o := range w.opened {
				if strings.Contains(o, "/") { // leave out the loader's own search
					got = append(got, w.real(o))
				}
			}
			if !slices.Equal(got, want) || w.real(path) != want[len(want)-1] {
				t.Errorf("found %s after opening %v; want %v", path, got, want)
			}
		})
	}

	// Nothing there: the error names the site-packages it looked in.
	w := newFakeWorld(t)
	w.sites = []string{site}
	w.file(t, site+"/numpy/__init__.py")
	_, _, err := w.searchEnv().find(nvrtcSpec, 0)
	if err == nil || !strings.Contains(err.Error(), "0 Python CUDA folders (nvidia/*/lib, torch/lib in "+w.real(site)+")") {
		t.Errorf("error %v does not name the site-packages searched", err)
	}
	var nf *NotFoundError
	if !errors.As(err, &nf) || nf.Library != "nvrtc" {
		t.Errorf("error %T is not a *NotFoundError for nvrtc", err)
	}
}

// With the driver's major version given, a library the driver can run is
// preferred to a newer one found earlier in the search.
func TestLoaderPrefersDriverMajor(t *testing.T) {
	const site = "/usr/local/lib/python3.12/site-packages"
	w := newFakeWorld(t)
	w.loaderHas["libnvrtc.so.13"] = true
	w.file(t, site+"/nvidia/cuda_nvrtc/lib/libnvrtc.so.12")
	for _, tc := range []struct {
		maxMajor int
		want     string
	}{
		{0, "/loader/libnvrtc.so.13"},
		{13, "/loader/libnvrtc.so.13"},
		{12, site + "/nvidia/cuda_nvrtc/lib/libnvrtc.so.12"},
		{11, "/loader/libnvrtc.so.13"}, // none fits: the best there is, for Open to explain
	} {
		_, path, err := w.searchEnv().find(nvrtcSpec, tc.maxMajor)
		if err != nil || !strings.HasSuffix(path, tc.want) {
			t.Errorf("maxMajor %d: got %s, %v; want …%s", tc.maxMajor, path, err, tc.want)
		}
	}
}

func TestSonameMajor(t *testing.T) {
	for name, want := range map[string]int{"libnvrtc.so.11.2": 11, "libnvrtc.so.13": 13, "libcublas.so.12.8.4.1": 12, "libcuda.so": 0} {
		if got := sonameMajor(name); got != want {
			t.Errorf("sonameMajor(%q) = %d, want %d", name, got, want)
		}
	}
}

// pythonSitePackages runs the python it is given: a stand-in script here,
// one that answers and one that hangs past the timeout.
func TestPythonSitePackages(t *testing.T) {
	dir := t.TempDir()
	script := func(name, body string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	script("py-ok", `printf '/usr/lib/python3/dist-packages\n/home/u/.local/lib/python3.12/site-packages\nnot a path\n'`)
	script("py-hang", "exec sleep 30")
	script("py-fail", "exit 1")
	t.Setenv("PATH", dir)
	got := pythonSitePackages("py-ok", 5*time.Second)
	if want := []string{"/usr/lib/python3/dist-packages", "/home/u/.local/lib/python3.12/site-packages"}; !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	start := time.Now()
	if got := pythonSitePackages("py-hang", 200*time.Millisecond); got != nil || time.Since(start) > 3*time.Second {
		t.Errorf("hanging python: got %q after %v", got, time.Since(start))
	}
	for _, py := range []string{"py-fail", "no-such-python"} {
		if got := pythonSitePackages(py, time.Second); got != nil {
			t.Errorf("%s: got %q", py, got)
		}
	}
}

// The real python3, if there is one, answers with absolute folders.
func TestPythonSitePackagesReal(t *testing.T) {
	dirs := pythonSitePackages("python3", 10*time.Second)
	if dirs == nil {
		t.Skip("skipping: no python3 here")
	}
	t.Logf("python3 site-packages: %v", dirs)
}
