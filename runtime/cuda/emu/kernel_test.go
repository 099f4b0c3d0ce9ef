package emu

import (
	"encoding/binary"
	"math"
	"strings"
	"testing"

	"crsc/runtime/cuda"
)

// toySource exercises the prelude's vocabulary, one kernel per feature.
const toySource = `
KERNEL void add(const float* __restrict__ a, const float* __restrict__ b, float* c, int n) {
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x)
    c[i] = a[i] + b[i];
}

// One partial sum per block: a shared-memory tree with barriers.
KERNEL void block_sum(const float* x, float* partial, int n) {
  SHARED_ARRAY(float, s);
  float v = 0.0f;
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) v += x[i];
  s[threadIdx.x] = v;
  __syncthreads();
  for (unsigned stride = blockDim.x / 2; stride > 0; stride >>= 1) {
    if (threadIdx.x < stride) s[threadIdx.x] += s[threadIdx.x + stride];
    __syncthreads();
  }
  if (threadIdx.x == 0) partial[blockIdx.x] = s[0];
}

// Reverses each block's chunk through static shared arrays (both spellings).
KERNEL void reverse64(const float* x, float* y) {
  __shared__ float tile[64];
  static __shared__ int count[1];
  if (threadIdx.x == 0) count[0] = 0;
  tile[threadIdx.x] = x[blockIdx.x * 64 + threadIdx.x];
  __syncthreads();
  atomicAdd(count, 1);
  __syncthreads();
  y[blockIdx.x * 64 + threadIdx.x] = tile[63 - threadIdx.x] + (count[0] == 64 ? 0.0f : 1000.0f);
}

// Threads that return before a barrier count as arrived.
KERNEL void early_exit(float* y, int n) {
  SHARED_ARRAY(float, s);
  int i = threadIdx.x;
  if (i >= n) return;
  s[i] = (float)i;
  __syncthreads();
  y[i] = s[n - 1 - i];
}

KERNEL void scatter(const i64* idx, const float* v, float* sums, unsigned* counts, u64* total, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  atomicAdd(&sums[idx[i]], v[i]);
  atomicAdd(&counts[idx[i]], 1u);
  atomicAdd(total, (u64)1);
}

KERNEL void grid3d(unsigned* out, int w, int h) {
  int x = blockIdx.x * blockDim.x + threadIdx.x;
  int y = blockIdx.y * blockDim.y + threadIdx.y;
  int z = blockIdx.z;
  if (x < w && y < h) out[(z * h + y) * w + x] = z * 1000000u + y * 1000u + x;
}

KERNEL void scalars(i64* o64, u64* ou64, float* of, u32* ou32, int* oi, i64 a, u64 b, float c, u32 d, int e) {
  o64[0] = a; ou64[0] = b; of[0] = c; ou32[0] = d; oi[0] = e;
}

KERNEL void intrinsics(const u32* a, const u32* b, u32* hi, float* f, int n) {
  int i = threadIdx.x;
  if (i >= n) return;
  hi[i] = __umulhi(a[i], b[i]);
  float x = __uint_as_float(a[i] & 0x3fffffffu);
  f[i] = (__float_as_uint(x) == (a[i] & 0x3fffffffu)) ? 1.0f : 0.0f;
}

// Row softmax, one block per row: two shared-memory reductions and a
// broadcast through a static __shared__ scalar, as runtime/gpu does it.
KERNEL void softmax(const float* x, float* y, int cols) {
  SHARED_ARRAY(float, red);
  __shared__ float bcast;
  const float* xr = x + (i64)blockIdx.x * cols;
  float* yr = y + (i64)blockIdx.x * cols;
  float m = -INFINITY;
  for (int j = threadIdx.x; j < cols; j += blockDim.x) m = fmaxf(m, xr[j]);
  red[threadIdx.x] = m;
  __syncthreads();
  for (unsigned s = blockDim.x / 2; s > 0; s >>= 1) {
    if (threadIdx.x < s) red[threadIdx.x] = fmaxf(red[threadIdx.x], red[threadIdx.x + s]);
    __syncthreads();
  }
  if (threadIdx.x == 0) bcast = red[0];
  __syncthreads();
  m = bcast;
  float sum = 0.0f;
  for (int j = threadIdx.x; j < cols; j += blockDim.x) sum += expf(xr[j] - m);
  __syncthreads();
  red[threadIdx.x] = sum;
  __syncthreads();
  for (unsigned s = blockDim.x / 2; s > 0; s >>= 1) {
    if (threadIdx.x < s) red[threadIdx.x] += red[threadIdx.x + s];
    __syncthreads();
  }
  float inv = 1.0f / red[0];
  for (int j = threadIdx.x; j < cols; j += blockDim.x) yr[j] = expf(xr[j] - m) * inv;
}

// Big per-thread locals must fit the fiber stack.
KERNEL void big_locals(float* y) {
  float buf[16384];
  for (int i = 0; i < 16384; i++) buf[i] = (float)(i + threadIdx.x);
  __syncthreads();
  float s = 0.0f;
  for (int i = 0; i < 16384; i += 1024) s += buf[i];
  y[threadIdx.x] = s;
}

KERNEL void mathf(const float* x, float* y) {
  float v = x[0];
  y[0] = expf(v); y[1] = logf(v); y[2] = sqrtf(v); y[3] = rsqrtf(v);
  y[4] = tanhf(v); y[5] = erff(v); y[6] = powf(v, 3.0f); y[7] = fabsf(-v);
  y[8] = fmaxf(v, 2.0f); y[9] = fminf(v, 2.0f); y[10] = floorf(v);
  y[11] = INFINITY; y[12] = (float)max(3, 5u); y[13] = min(v, 1);
  y[14] = __int_as_float(0x7f800000);
}
`

// macroSource defines kernels through a macro: the scan runs after the
// preprocessor, so it must find them. (toySource mixes kernels with and
// without barriers, so it runs some kernels without fibers.)
const macroSource = `
#define UNARY(name, expr) \
  KERNEL void name(const float* x, float* y, int n) { \
    int i = blockIdx.x * blockDim.x + threadIdx.x; \
    if (i < n) { float v = x[i]; y[i] = (expr); } \
  }
UNARY(neg, -v)
UNARY(square, v * v)
// A helper with a barrier: every kernel of this source runs as fibers.
DEVICE float twice(float v) { __syncthreads(); return 2.0f * v; }
KERNEL void dbl(const float* x, float* y, int n);
KERNEL void dbl(const float* x, float* y, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  float v = twice(i < n ? x[i] : 0.0f);
  if (i < n) y[i] = v;
}
`

func TestKernels(t *testing.T) {
	d := open(t)
	m := compile(t, d, "toy", toySource)
	tests := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"add grid-stride", func(t *testing.T) {
			n := 10000
			a, b := ramp(n, 1), ramp(n, 2)
			pa, pb, pc := upload(t, d, a), upload(t, d, b), allocN(t, d, n)
			// 8 blocks of 128 threads cover 1024 items per sweep.
			launch(t, d, m, "add", cuda.Dim3{X: 8, Y: 1, Z: 1}, cuda.Dim3{X: 128, Y: 1, Z: 1}, 0, pa, pb, pc, int32(n))
			for i, c := range download(t, d, pc, n) {
				if c != a[i]+b[i] {
					t.Fatalf("c[%d] = %v, want %v", i, c, a[i]+b[i])
				}
			}
		}},
		{"block reduction", func(t *testing.T) {
			n, blocks, threads := 10000, 7, 256
			x := ramp(n, 3)
			px, pp := upload(t, d, x), allocN(t, d, blocks)
			launch(t, d, m, "block_sum", cuda.Dim3{X: uint32(blocks), Y: 1, Z: 1}, cuda.Dim3{X: uint32(threads), Y: 1, Z: 1}, uint32(4*threads), px, pp, int32(n))
			got := 0.0
			for _, p := range download(t, d, pp, blocks) {
				got += float64(p)
			}
			want := 0.0
			for _, v := range x {
				want += float64(v)
			}
			if math.Abs(got-want) > 1e-3 {
				t.Fatalf("sum = %v, want %v", got, want)
			}
		}},
		{"static shared", func(t *testing.T) {
			x := ramp(3*64, 4)
			px, py := upload(t, d, x), allocN(t, d, len(x))
			launch(t, d, m, "reverse64", cuda.Dim3{X: 3, Y: 1, Z: 1}, cuda.Dim3{X: 64, Y: 1, Z: 1}, 0, px, py)
			for i, y := range download(t, d, py, len(x)) {
				if want := x[i/64*64+63-i%64]; y != want {
					t.Fatalf("y[%d] = %v, want %v", i, y, want)
				}
			}
		}},
		{"early exit before barrier", func(t *testing.T) {
			n := 40
			py := allocN(t, d, n)
			launch(t, d, m, "early_exit", cuda.Dim3{X: 1, Y: 1, Z: 1}, cuda.Dim3{X: 64, Y: 1, Z: 1}, 4*64, py, int32(n))
			for i, y := range download(t, d, py, n) {
				if y != float32(n-1-i) {
					t.Fatalf("y[%d] = %v, want %v", i, y, n-1-i)
				}
			}
		}},
		{"atomicAdd scatter", func(t *testing.T) {
			n, bins := 5000, 7
			v := ramp(n, 5)
			wantSum, wantCount := make([]float64, bins), make([]uint32, bins)
			for i := 0; i < n; i++ {
				b := (i * 31) % bins
				wantSum[b] += float64(v[i])
				wantCount[b]++
			}
			pidx := allocN(t, d, 2*n)
			if err := d.CopyToDevice(pidx, i64Bytes(n, func(i int) int64 { return int64((i * 31) % bins) })); err != nil {
				t.Fatal(err)
			}
			pv, psum, pcnt, ptot := upload(t, d, v), allocN(t, d, bins), allocN(t, d, bins), allocN(t, d, 2)
			for _, p := range []cuda.Ptr{psum, pcnt} {
				if err := d.Zero(p, int64(4*bins)); err != nil {
					t.Fatal(err)
				}
			}
			if err := d.Zero(ptot, 8); err != nil {
				t.Fatal(err)
			}
			g, b := cuda.Grid1D(n, 256)
			launch(t, d, m, "scatter", g, b, 0, pidx, pv, psum, pcnt, ptot, int32(n))
			sums, counts := download(t, d, psum, bins), downloadU32(t, d, pcnt, bins)
			for i := 0; i < bins; i++ {
				if math.Abs(float64(sums[i])-wantSum[i]) > 1e-3 || counts[i] != wantCount[i] {
					t.Fatalf("bin %d: sum %v count %d, want %v %d", i, sums[i], counts[i], wantSum[i], wantCount[i])
				}
			}
			tot := make([]byte, 8)
			if err := d.CopyToHost(tot, ptot); err != nil {
				t.Fatal(err)
			}
			if g := binary.NativeEndian.Uint64(tot); g != uint64(n) {
				t.Fatalf("total = %d, want %d", g, n)
			}
		}},
		{"3-D grid", func(t *testing.T) {
			w, h, depth := 37, 21, 3
			p := allocN(t, d, w*h*depth)
			launch(t, d, m, "grid3d", cuda.Dim3{X: 3, Y: 6, Z: uint32(depth)}, cuda.Dim3{X: 16, Y: 4, Z: 1}, 0, p, int32(w), int32(h))
			for i, v := range downloadU32(t, d, p, w*h*depth) {
				x, y, z := i%w, i/w%h, i/(w*h)
				if want := uint32(z*1000000 + y*1000 + x); v != want {
					t.Fatalf("out[%d] = %d, want %d", i, v, want)
				}
			}
		}},
		{"scalar arguments", func(t *testing.T) {
			o := make([]cuda.Ptr, 5)
			for i := range o {
				o[i] = allocN(t, d, 2)
			}
			a, b, c, e := int64(-1)<<40-3, uint64(1)<<63+5, float32(-2.5), int32(-7)
			u := uint32(0xdeadbeef)
			launch(t, d, m, "scalars", cuda.Dim3{X: 1, Y: 1, Z: 1}, cuda.Dim3{X: 1, Y: 1, Z: 1}, 0, o[0], o[1], o[2], o[3], o[4], a, b, c, u, e)
			w64 := func(p cuda.Ptr) uint64 {
				b := make([]byte, 8)
				if err := d.CopyToHost(b, p); err != nil {
					t.Fatal(err)
				}
				return binary.NativeEndian.Uint64(b)
			}
			if g := int64(w64(o[0])); g != a {
				t.Errorf("i64 = %d, want %d", g, a)
			}
			if g := w64(o[1]); g != b {
				t.Errorf("u64 = %d, want %d", g, b)
			}
			if g := download(t, d, o[2], 1)[0]; g != c {
				t.Errorf("float = %v, want %v", g, c)
			}
			if g := downloadU32(t, d, o[3], 1)[0]; g != u {
				t.Errorf("u32 = %#x, want %#x", g, u)
			}
			if g := int32(downloadU32(t, d, o[4], 1)[0]); g != e {
				t.Errorf("int = %d, want %d", g, e)
			}
		}},
		{"__umulhi and bit casts", func(t *testing.T) {
			a := []uint32{0, 1, 0xffffffff, 0x9e3779b9, 0xd2511f53, 0x12345678, 0xcd9e8d57}
			b := []uint32{0xffffffff, 0xffffffff, 0xffffffff, 0xcd9e8d57, 0x9e3779b9, 0x87654321, 7}
			pa, pb, phi, pf := uploadU32(t, d, a), uploadU32(t, d, b), allocN(t, d, len(a)), allocN(t, d, len(a))
			launch(t, d, m, "intrinsics", cuda.Dim3{X: 1, Y: 1, Z: 1}, cuda.Dim3{X: 32, Y: 1, Z: 1}, 0, pa, pb, phi, pf, int32(len(a)))
			hi, f := downloadU32(t, d, phi, len(a)), download(t, d, pf, len(a))
			for i := range a {
				if want := uint32(uint64(a[i]) * uint64(b[i]) >> 32); hi[i] != want || f[i] != 1 {
					t.Errorf("__umulhi(%#x, %#x) = %#x, want %#x; bit cast ok = %v", a[i], b[i], hi[i], want, f[i])
				}
			}
		}},
		{"softmax rows", func(t *testing.T) {
			rows, cols, threads := 5, 1000, 128
			x := ramp(rows*cols, 9)
			for i := range x {
				x[i] *= 20
			}
			px, py := upload(t, d, x), allocN(t, d, rows*cols)
			launch(t, d, m, "softmax", cuda.Dim3{X: uint32(rows), Y: 1, Z: 1}, cuda.Dim3{X: uint32(threads), Y: 1, Z: 1}, uint32(4*threads), px, py, int32(cols))
			y := download(t, d, py, rows*cols)
			for r := 0; r < rows; r++ {
				mx := math.Inf(-1)
				for _, v := range x[r*cols : (r+1)*cols] {
					mx = math.Max(mx, float64(v))
				}
				sum := 0.0
				for _, v := range x[r*cols : (r+1)*cols] {
					sum += math.Exp(float64(v) - mx)
				}
				for j := 0; j < cols; j++ {
					want := math.Exp(float64(x[r*cols+j])-mx) / sum
					if math.Abs(float64(y[r*cols+j])-want) > 1e-6+1e-5*want {
						t.Fatalf("y[%d,%d] = %v, want %v", r, j, y[r*cols+j], want)
					}
				}
			}
		}},
		{"64 KiB of locals per thread", func(t *testing.T) {
			py := allocN(t, d, 64)
			launch(t, d, m, "big_locals", cuda.Dim3{X: 2, Y: 1, Z: 1}, cuda.Dim3{X: 64, Y: 1, Z: 1}, 0, py)
			for i, y := range download(t, d, py, 64) {
				if want := float32(16*i + 1024*120); y != want {
					t.Fatalf("y[%d] = %v, want %v", i, y, want)
				}
			}
		}},
		{"math functions", func(t *testing.T) {
			v := float32(2.75)
			px, py := upload(t, d, []float32{v}), allocN(t, d, 15)
			launch(t, d, m, "mathf", cuda.Dim3{X: 1, Y: 1, Z: 1}, cuda.Dim3{X: 1, Y: 1, Z: 1}, 0, px, py)
			x := float64(v)
			want := []float64{math.Exp(x), math.Log(x), math.Sqrt(x), 1 / math.Sqrt(x), math.Tanh(x), math.Erf(x),
				x * x * x, x, 2.75, 2, 2, math.Inf(1), 5, 1, math.Inf(1)}
			for i, g := range download(t, d, py, len(want)) {
				if w := want[i]; !(float64(g) == w || math.Abs(float64(g)-w) <= 1e-6*math.Abs(w)) {
					t.Errorf("y[%d] = %v, want %v", i, g, w)
				}
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, tc.run)
	}
}

// i64Bytes encodes n int64 values in native byte order.
func i64Bytes(n int, f func(int) int64) []byte {
	b := make([]byte, 8*n)
	for i := 0; i < n; i++ {
		binary.NativeEndian.PutUint64(b[8*i:], uint64(f(i)))
	}
	return b
}

func TestMacroKernels(t *testing.T) {
	d := open(t)
	m := compile(t, d, "macros", macroSource)
	x := ramp(100, 6)
	px, py := upload(t, d, x), allocN(t, d, len(x))
	g, b := cuda.Grid1D(len(x), 32)
	for _, k := range []struct {
		name string
		f    func(float32) float32
	}{{"neg", func(v float32) float32 { return -v }}, {"square", func(v float32) float32 { return v * v }}, {"dbl", func(v float32) float32 { return 2 * v }}} {
		launch(t, d, m, k.name, g, b, 0, px, py, int32(len(x)))
		for i, y := range download(t, d, py, len(x)) {
			if y != k.f(x[i]) {
				t.Fatalf("%s: y[%d] = %v, want %v", k.name, i, y, k.f(x[i]))
			}
		}
	}
}

func TestLaunchErrors(t *testing.T) {
	d := open(t)
	m := compile(t, d, "toy", toySource)
	p := allocN(t, d, 16)
	one := cuda.Dim3{X: 1, Y: 1, Z: 1}
	tests := []struct {
		name         string
		kernel       string
		grid, block  cuda.Dim3
		shared       uint32
		args         []any
		want1, want2 string
	}{
		{"bad arg type", "add", one, one, 0, []any{p, p, p, 5}, "add", "argument 3"},
		{"float64 arg", "add", one, one, 0, []any{p, p, p, 5.0}, "add", "float64"},
		{"int32 for i64", "scalars", one, one, 0, []any{p, p, p, p, p, int32(1), uint64(2), float32(3), uint32(4), int32(5)}, "scalars", "argument 5 (a)"},
		{"int32 for pointer", "add", one, one, 0, []any{p, int32(0), p, int32(1)}, "argument 1 (b)", "pointer"},
		{"too few args", "add", one, one, 0, []any{p, p}, "add", "2 arguments for 4"},
		{"unknown kernel", "nope", one, one, 0, nil, "toy", "nope"},
		{"too many threads", "add", one, cuda.Dim3{X: 1024, Y: 2, Z: 1}, 0, []any{p, p, p, int32(1)}, "add", "threads"},
		{"empty grid", "add", cuda.Dim3{X: 0, Y: 1, Z: 1}, one, 0, []any{p, p, p, int32(1)}, "add", "empty grid"},
		{"too much shared", "add", one, one, 1 << 20, []any{p, p, p, int32(1)}, "add", "shared"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := d.Launch(m, tc.kernel, tc.grid, tc.block, tc.shared, tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.want1) || !strings.Contains(err.Error(), tc.want2) {
				t.Fatalf("err = %v, want one mentioning %q and %q", err, tc.want1, tc.want2)
			}
		})
	}
	// Errors at launch time are not asynchronous errors.
	if err := d.Synchronize(); err != nil {
		t.Fatalf("Synchronize after rejected launches: %v", err)
	}
	other := open(t)
	if err := other.Launch(m, "add", one, one, 0, p, p, p, int32(1)); err == nil {
		t.Fatal("launching another device's module succeeded")
	}
}

func TestCompileErrors(t *testing.T) {
	d := open(t)
	tests := []struct{ name, src, want string }{
		{"syntax", "KERNEL void broken(float* x) { x[0] = ; }", "broken_mod.cu:1"},
		{"undefined", "KERNEL void f(float* x) { x[0] = no_such_function(1.0f); }", "no_such_function"},
		{"unsupported param", "KERNEL void f(double* x, double y) { x[0] = y; }", "parameter y"},
		{"raw extern shared", "extern __shared__ float s[]; KERNEL void f(float* x) { x[0] = s[0]; }", "s"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := d.Compile("broken_mod", tc.src)
			if err == nil {
				t.Fatal("compiled")
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "emu: compile broken_mod: ") || !strings.Contains(msg, tc.want) {
				t.Fatalf("err = %v\nwant the module name and %q", err, tc.want)
			}
		})
	}
}
