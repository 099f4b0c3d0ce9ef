package emu

import (
	"os"
	"path/filepath"
	"testing"

	"crsc/internal/testutil"
)

func TestScanKernels(t *testing.T) {
	tests := []struct {
		name, text string
		want       string // encodeKernels of the result
		err        string
		barriers   string // per kernel: 1 if it runs as fibers
	}{
		{"pointers and scalars",
			`extern "C" __crsc_kernel__ void k(const float* __restrict__ x, float *y, i64* idx, unsigned char* m, int n, unsigned u, long long a, unsigned long long b, i64 c, u64 d, u32 e, float f) {}`,
			"k ppppiiIIIIif x,y,idx,m,n,u,a,b,c,d,e,f\n", "", ""},
		{"no parameters", `extern "C" __crsc_kernel__ void a() {} extern "C" __crsc_kernel__ void b(void) {}`,
			"a  \nb  \n", "", "00"},
		{"declaration then definition", `extern "C" __crsc_kernel__ void k(float* x);
extern "C" __crsc_kernel__ void k(float* x) { }`, "k p x\n", "", "0"},
		{"unnamed and array parameters", `extern "C" __crsc_kernel__ void k(int, float x[], const float* const p) {}`,
			"k ipp #0,x,p\n", "", ""},
		{"double scalar", `extern "C" __crsc_kernel__ void k(double v) {}`, "", "parameter v", ""},
		{"reference", `extern "C" __crsc_kernel__ void k(float& v) {}`, "", "parameter", ""},
		{"non-void", `extern "C" __crsc_kernel__ int k(float* v) {}`, "", "KERNEL void name", ""},
		{"barrier per kernel", `extern "C" __crsc_kernel__ void a(float* x) { if (x) { __syncthreads(); } }
extern "C" __crsc_kernel__ void b(float* x) { x[0] = 1; }`, "a p x\nb p x\n", "", "10"},
		{"barrier in helper", `inline void h() { __syncthreads(); }
extern "C" __crsc_kernel__ void a(float* x) { h(); }
extern "C" __crsc_kernel__ void b(float* x) { x[0] = 1; }`, "a p x\nb p x\n", "", "11"},
		{"barrier in definition after declaration", `extern "C" __crsc_kernel__ void a(float* x);
extern "C" __crsc_kernel__ void a(float* x) { { } __syncthreads(); }`, "a p x\n", "", "1"},
		{"conflicting redeclaration", `extern "C" __crsc_kernel__ void k(float* x);
extern "C" __crsc_kernel__ void k(int x) { }`, "", "different parameters", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ks, err := scanKernels(tc.text)
			if testutil.WantErr(t, err, tc.err) {
				return
			}
			if tc.barriers != "" {
				got := ""
				for _, k := range ks {
					got += map[bool]string{false: "0", true: "1"}[k.barrier]
				}
				if got != tc.barriers {
					t.Errorf("barriers = %s, want %s", got, tc.barriers)
				}
			}
			if got := encodeKernels(ks); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
			back, err := decodeKernels(encodeKernels(ks))
			if err != nil || encodeKernels(back) != tc.want || len(back) != len(ks) {
				t.Fatalf("decode(encode) = %+v, %v; want %+v", back, err, ks)
			}
		})
	}
}

func TestUserText(t *testing.T) {
	pre := "# 1 \"emu.h\"\ninline void __syncthreads() {}\n# 1 \"prelude.cuh\"\ntypedef int x;\n# 1 \"m.cu\"\nvoid f();\n"
	if got, want := userText(pre), "typedef int x;\nvoid f();\n"; got != want {
		t.Fatalf("userText = %q, want %q", got, want)
	}
}

// TestCache checks that a cached object is reused without rebuilding and
// that a change to the source builds a new one.
func TestCache(t *testing.T) {
	open(t) // skips without g++
	base, err := findToolchain()
	if err != nil {
		t.Fatal(err)
	}
	tc := *base
	tc.cacheDir = t.TempDir()
	builds := 0
	build := func(src string) string {
		path, err := tc.sharedObject("cachetest", tc.key("test", src), func() (string, error) {
			builds++
			return src, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return path
	}
	p1 := build("int f() { return 1; }")
	p2 := build("int f() { return 1; }")
	p3 := build("int f() { return 2; }")
	if p1 != p2 || p1 == p3 || builds != 2 {
		t.Fatalf("paths %s %s %s after %d builds; want the first two equal and 2 builds", p1, p2, p3, builds)
	}
	entries, _ := os.ReadDir(tc.cacheDir)
	for _, e := range entries {
		if filepath.Ext(e.Name()) != ".so" {
			t.Errorf("cache holds %s; temporary build directories must be removed", e.Name())
		}
	}
}
