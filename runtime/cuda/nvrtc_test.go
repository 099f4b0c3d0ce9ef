//go:build linux && (amd64 || arm64)

package cuda

import (
	"bytes"
	"strings"
	"testing"
)

// testKernel uses every prelude facility kernels may rely on.
const testKernel = `
DEVICE float twice(float x) { return 2.0f * x; }

// sum adds twice(x) over the grid into *out, one atomicAdd per block.
KERNEL void sum(const float* x, float* out, i64 n) {
	SHARED_ARRAY(float, part);
	__shared__ float scale[1];
	u32 t = threadIdx.x;
	i64 i = (i64)blockIdx.x * blockDim.x + t;
	if (t == 0) scale[0] = 1.0f;
	part[t] = i < n ? twice(x[i]) : 0.0f;
	__syncthreads();
	for (u32 s = blockDim.x / 2; s > 0; s /= 2) {
		if (t < s) part[t] += part[t + s];
		__syncthreads();
	}
	if (t == 0) atomicAdd(out, part[0] * scale[0]);
}
`

// needNVRTC skips the test when no NVRTC can be loaded.
func needNVRTC(t *testing.T) string {
	t.Helper()
	v, err := NVRTCVersion()
	if err != nil {
		t.Skipf("skipping: NVRTC is not installed here (%v)", err)
	}
	return v
}

func TestNVRTCCompile(t *testing.T) {
	v := needNVRTC(t)
	t.Logf("NVRTC %s from %s, CUBIN archs %v", v, nvrtcLib.path, nvrtcOnce.api.archs)
	for _, arch := range []string{"sm_80", "sm_90"} {
		t.Run(arch, func(t *testing.T) {
			t.Setenv("CRSC_CACHE_DIR", t.TempDir())
			code, kind, err := CompileSource("sum", testKernel, arch)
			if err != nil {
				t.Fatal(err)
			}
			switch kind {
			case KindCUBIN:
				if !bytes.HasPrefix(code, []byte("\x7fELF")) {
					t.Errorf("CUBIN does not start with an ELF header")
				}
			case KindPTX:
				if !bytes.Contains(code, []byte(".entry sum")) {
					t.Errorf("PTX lacks the sum entry point")
				}
			default:
				t.Fatalf("kind %q", kind)
			}
			t.Logf("%s: %d bytes of %s", arch, len(code), kind)

			// The second compile is a cache hit with the same bytes.
			again, kind2, err := CompileSource("sum", testKernel, arch)
			if err != nil || kind2 != kind || !bytes.Equal(again, code) {
				t.Errorf("cached compile differs: %v", err)
			}
		})
	}
}

func TestNVRTCPTXForNewerGPU(t *testing.T) {
	needNVRTC(t)
	if len(nvrtcOnce.api.archs) == 0 {
		t.Skip("skipping: this NVRTC cannot list its architectures")
	}
	t.Setenv("CRSC_CACHE_DIR", t.TempDir())
	// An architecture beyond any this NVRTC knows gets PTX for its newest.
	code, kind, err := CompileSource("sum", testKernel, "sm_990")
	if err != nil {
		t.Fatal(err)
	}
	if kind != KindPTX || !bytes.Contains(code, []byte(".target sm_")) || code[len(code)-1] != 0 {
		t.Errorf("got %s (%d bytes), want NUL-terminated PTX", kind, len(code))
	}
}

func TestNVRTCSyntaxError(t *testing.T) {
	needNVRTC(t)
	t.Setenv("CRSC_CACHE_DIR", t.TempDir())
	src := "KERNEL void broken(float* x) {\n\tx[0] = 1.0f\n}\n"
	_, _, err := CompileSource("broken", src, "sm_80")
	if err == nil {
		t.Fatal("a syntax error compiled")
	}
	msg := err.Error()
	// The #line directive makes NVRTC report the kernel's own line 3.
	for _, want := range []string{`compile "broken" for sm_80`, "NVRTC_ERROR_COMPILATION", "broken.cu(3): error"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	t.Logf("compile error:\n%s", msg)
}

func TestNVRTCCorruptCacheIsRecompiled(t *testing.T) {
	needNVRTC(t)
	cache := codeCache{t.TempDir()}
	c, err := compileCached(cache, "sum", testKernel, "sm_80")
	if err != nil {
		t.Fatal(err)
	}
	code, key := c.code, c.key
	// A well-formed entry (valid checksum) holding garbage is still refused.
	if err := cache.put(key, []byte("not a cubin")); err != nil {
		t.Fatal(err)
	}
	again, err := compileCached(cache, "sum", testKernel, "sm_80")
	if err != nil || again.hit || !bytes.Equal(again.code, code) {
		t.Fatalf("corrupt entry not recompiled: %v", err)
	}
	if got, ok := cache.get(key); !ok || !bytes.Equal(got, code) {
		t.Error("recompiled code was not written back")
	}
}

// NVRTC contracts a*b+c into an FMA unless told not to; the kernels promise
// the CPU's arithmetic (two roundings), so the options say --fmad=false.
func TestNVRTCNoFMAContraction(t *testing.T) {
	needNVRTC(t)
	const src = "KERNEL void axpy(const float* a, const float* b, float* c) { c[0] = a[0] * b[0] + c[0]; }\n"
	ptx := func(options []string) string {
		code, err := nvrtcOnce.api.compile("axpy", fullSource("axpy", src), options, KindPTX)
		if err != nil {
			t.Fatal(err)
		}
		return string(code)
	}
	if got := ptx(nvrtcOptions("--gpu-architecture=compute_80")); strings.Contains(got, "fma.rn.f32") || !strings.Contains(got, "mul.rn.f32") {
		t.Errorf("with %v the PTX still contracts (or lacks mul.rn.f32):\n%s", nvrtcOptions("…"), got)
	}
	if got := ptx([]string{"--gpu-architecture=compute_80", "-std=c++17"}); !strings.Contains(got, "fma.rn.f32") {
		t.Log("note: this NVRTC does not contract even by default")
	}
}
