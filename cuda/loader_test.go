package cuda

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
		resolve: func(h uintptr, probe string) string { return w.handles[h] },
		goarch:  "amd64",
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
				venv := filepath.Join(w.root, "venv")
				w.env["VIRTUAL_ENV"] = venv
				w.file(t, filepath.Join(venv, "lib/python3.10/site-packages/nvidia/cuda_nvrtc/lib/libnvrtc.so.11.2"))
			},
			spec: nvrtcSpec,
			want: "/venv/lib/python3.10/site-packages/nvidia/cuda_nvrtc/lib/libnvrtc.so.11.2",
		},
		{
			name: "torch/lib under ~/.local",
			setup: func(t *testing.T, w *fakeWorld) {
				home := filepath.Join(w.root, "home")
				w.env["HOME"] = home
				w.file(t, filepath.Join(home, ".local/lib/python3.11/site-packages/torch/lib/libcublas.so.12"))
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
			h, path, err := w.searchEnv().find(tc.spec)
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
		if _, _, err := w.searchEnv().find(tc.spec); err != nil {
			t.Fatal(err)
		}
		want := []string{filepath.Join(dir, tc.companion), filepath.Join(dir, tc.spec.names[0])}
		if strings.Join(w.opened, " ") != strings.Join(want, " ") {
			t.Errorf("%s: opened %v, want %v", tc.spec.key, w.opened, want)
		}
	}
}
