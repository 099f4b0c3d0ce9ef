package cpu

import (
	"fmt"
	"math"
	"math/rand"
	"slices"
	"testing"

	"crsc/compiler/ir"
	"crsc/runtime/rng"
)

// The fast kernels (fastmath.go, philox.go, simd_amd64.s, and the
// restructured loops of nn.go, grad.go, reduce.go, memory.go) against
// straightforward float64 references, at odd sizes, on every SIMD path
// this machine has; and Threads 1, 2 and 3 must give identical bits
// (every split is of whole elements, rows or fixed blocks).

// fkRun runs domain:op on threads goroutines.
func fkRun(t *testing.T, threads int, domain, op string, a attrs, in ...*ir.Tensor) []*ir.Tensor {
	t.Helper()
	k, ok := Lookup(domain, op)
	if !ok {
		t.Fatalf("no kernel %s:%s", domain, op)
	}
	outs, err := k(&Ctx{Threads: threads, Seed: 11, Step: 4}, &ir.Node{Name: "fk", Op: op, Attrs: a}, in)
	if err != nil {
		t.Fatal(err)
	}
	return outs
}

// fkThreads runs the op on 1, 2 and 3 threads, checks that every output is
// bit-identical, and returns the 1-thread outputs.
func fkThreads(t *testing.T, domain, op string, a attrs, in ...*ir.Tensor) []*ir.Tensor {
	t.Helper()
	one := fkRun(t, 1, domain, op, a, in...)
	for _, th := range []int{2, 3} {
		got := fkRun(t, th, domain, op, a, in...)
		for i := range one {
			if one[i] == nil {
				continue
			}
			if !slices.Equal(memBits(got[i]), memBits(one[i])) {
				t.Fatalf("%s output %d: Threads %d differs from Threads 1", op, i, th)
			}
		}
	}
	return one
}

func fkRand(r *rand.Rand, scale float64, shape ...int) *ir.Tensor {
	t := ir.NewTensor(ir.Float32, shape...)
	for i := range t.F32 {
		t.F32[i] = float32(r.NormFloat64() * scale)
	}
	return t
}

// fkClose fails when |got − want| > tol·scale(i) somewhere.
func fkClose(t *testing.T, what string, got []float32, want []float64, tol float64, scale func(i int) float64) {
	t.Helper()
	for i, w := range want {
		if e := math.Abs(float64(got[i]) - w); !(e <= tol*scale(i)) {
			t.Fatalf("%s: element %d = %g, want %g (error %g, bound %g)", what, i, got[i], w, e, tol*scale(i))
		}
	}
}

// Sizes: below and above the parallel threshold, none a multiple of 16.
var fkSizes = []int{1, 15, 17, 333, 40001}

func TestFastGelu(t *testing.T) {
	simdPaths(t, func(t *testing.T) {
		r := rand.New(rand.NewSource(1))
		for _, n := range fkSizes {
			x, dy := fkRand(r, 3, n), fkRand(r, 1, n)
			big := func(i int) float64 { return math.Max(1, math.Abs(float64(x.F32[i]))) }
			want := make([]float64, n)
			for i, v := range x.F32 {
				v := float64(v)
				want[i] = 0.5 * v * (1 + math.Erf(v/math.Sqrt2))
			}
			fkClose(t, fmt.Sprintf("Gelu n=%d", n), fkThreads(t, msDomain, "Gelu", nil, x)[0].F32, want, geluErfTol, big)
			for i, v := range x.F32 {
				v := float64(v)
				want[i] = 0.5 * v * (1 + math.Tanh(sqrt2OverPi*(v+0.044715*v*v*v)))
			}
			fkClose(t, fmt.Sprintf("Gelu tanh n=%d", n),
				fkThreads(t, "", "Gelu", attrs{"approximate": ir.StringAttr("tanh")}, x)[0].F32, want, geluTanhTol, big)
			for i, v := range x.F32 {
				v := float64(v)
				want[i] = float64(dy.F32[i]) * (0.5*(1+math.Erf(v/math.Sqrt2)) + v*math.Exp(-0.5*v*v)/math.Sqrt(2*math.Pi))
			}
			fkClose(t, fmt.Sprintf("GeluGrad n=%d", n), fkThreads(t, crscDomain, "GeluGrad", nil, dy, x)[0].F32, want,
				geluGradTol, func(i int) float64 { return math.Abs(float64(dy.F32[i])) })
		}
	})
}

func TestFastSoftmax(t *testing.T) {
	simdPaths(t, func(t *testing.T) {
		r := rand.New(rand.NewSource(2))
		for _, dim := range []int{1, 7, 16, 33, 128} {
			rows := 40000/dim + 3
			x := fkRand(r, 4, rows, dim)
			// An attention-masked row: large negative entries.
			for j := 0; j < dim; j += 2 {
				x.F32[j] = -1e4
			}
			got := fkThreads(t, "", "Softmax", nil, x)[0].F32
			want, arg := make([]float64, len(got)), make([]float64, len(got))
			for o := 0; o < rows; o++ {
				row := x.F32[o*dim : (o+1)*dim]
				m := math.Inf(-1)
				for _, v := range row {
					m = math.Max(m, float64(v))
				}
				s := 0.0
				for _, v := range row {
					s += math.Exp(float64(v) - m)
				}
				for j, v := range row {
					want[o*dim+j] = math.Exp(float64(v)-m) / s
					arg[o*dim+j] = math.Abs(float64(v) - m)
				}
			}
			// Relative: exp's 3e-7, the rounding of the sum and the
			// scale, and the float32 rounding of x − m (|x − m|·2^-24);
			// plus 1e-30 absolute where the result underflows.
			fkClose(t, fmt.Sprintf("Softmax dim=%d", dim), got, want, 1, func(i int) float64 {
				return want[i]*(1e-6+arg[i]*0x1p-24) + 1e-30
			})
		}
		// Rows of −Inf (fully masked) and NaN give NaN, as the reference.
		inf := float32(math.Inf(-1))
		got := fkRun(t, 1, "", "Softmax", nil, f32(sh(2, 3), inf, inf, inf, 1, float32(math.NaN()), 2))[0].F32
		for i, v := range got {
			if v == v {
				t.Errorf("Softmax of a -Inf or NaN row: element %d = %g, want NaN", i, v)
			}
		}
	})
}

func TestFastLayerNorm(t *testing.T) {
	r := rand.New(rand.NewSource(3))
	for _, d := range []int{1, 3, 17, 768} {
		rows := 40000/d + 5
		x, scale, bias := fkRand(r, 2, rows, d), fkRand(r, 1, d), fkRand(r, 1, d)
		for i := range x.F32 { // an offset mean, as residual streams have
			x.F32[i] += 3
		}
		want, wantMean, wantInv := make([]float64, len(x.F32)), make([]float64, rows), make([]float64, rows)
		for o := 0; o < rows; o++ {
			row := x.F32[o*d : (o+1)*d]
			mu, ss := 0.0, 0.0
			for _, v := range row {
				mu += float64(v)
			}
			mu /= float64(d)
			for _, v := range row {
				ss += (float64(v) - mu) * (float64(v) - mu)
			}
			is := 1 / math.Sqrt(ss/float64(d)+1e-5)
			wantMean[o], wantInv[o] = mu, is
			for j, v := range row {
				want[o*d+j] = (float64(v)-mu)*is*float64(scale.F32[j]) + float64(bias.F32[j])
			}
		}
		rel := func(w []float64) func(int) float64 {
			return func(i int) float64 { return math.Max(1, math.Abs(w[i])) }
		}
		// Both paths, with and without the bias, against the reference.
		simdPaths(t, func(t *testing.T) {
			for _, b := range []*ir.Tensor{bias, nil} {
				what := fmt.Sprintf("LayerNormalization d=%d bias=%v", d, b != nil)
				out := fkThreads(t, "", "LayerNormalization", nil, x, scale, b)
				w := want
				if b == nil {
					w = slices.Clone(want)
					for i := range w {
						w[i] -= float64(bias.F32[i%d])
					}
				}
				fkClose(t, what, out[0].F32, w, 1e-6, rel(w))
				fkClose(t, what+" mean", out[1].F32, wantMean, 1e-6, rel(wantMean))
				fkClose(t, what+" inv", out[2].F32, wantInv, 1e-6, rel(wantInv))
			}
		})
		out := fkThreads(t, "", "LayerNormalization", nil, x, scale, bias)

		// RMSNorm and the gradients from the output: thread-independent
		// (their float64 references are in memory_test.go).
		rms := fkThreads(t, crscDomain, "RMSNormalization", nil, x, scale)
		dy := fkRand(r, 1, rows, d)
		var byPath [][]*ir.Tensor
		simdPaths(t, func(t *testing.T) {
			byPath = append(byPath, fkThreads(t, crscDomain, "LayerNormalizationGradFromOutput", nil, dy, out[0], scale, bias, out[2]))
		})
		// The AVX-512 pass fuses multiply-adds and sums in 8 lanes: the
		// paths agree to float32 rounding, relative to the largest |dX|.
		for i := 1; i < len(byPath); i++ {
			for o := range byPath[0] {
				a, b := byPath[0][o].F32, byPath[i][o].F32
				top := 0.0
				for _, v := range a {
					top = math.Max(top, math.Abs(float64(v)))
				}
				want := make([]float64, len(a))
				for j, v := range a {
					want[j] = float64(v)
				}
				fkClose(t, fmt.Sprintf("LayerNormalizationGradFromOutput d=%d output %d, paths", d, o), b, want, 1e-6,
					func(int) float64 { return top })
			}
		}
		fkThreads(t, crscDomain, "RMSNormalizationGradFromOutput", nil, dy, rms[0], scale, rms[1])
		fkThreads(t, crscDomain, "LayerNormalizationGrad", nil, dy, x, scale, out[1], out[2])
	}
}

func TestFastSumTo(t *testing.T) {
	r := rand.New(rand.NewSource(4))
	for _, d := range []int{1, 5, 33, 768} {
		rows := 60000/d + 7
		x := fkRand(r, 1, 2, rows, d)
		// Bias gradient: [2, rows, d] → [d]; and row sums (ReduceSum over
		// the last axis, inner == 1).
		got := fkThreads(t, crscDomain, "SumTo", nil, x, i64(sh(1), int64(d)))[0].F32
		want := make([]float64, d)
		for i, v := range x.F32 {
			want[i%d] += float64(v)
		}
		fkClose(t, fmt.Sprintf("SumTo d=%d", d), got, want, 2e-7, func(i int) float64 { return math.Max(1, math.Abs(want[i])) })
		got = fkThreads(t, "", "ReduceSum", attrs{"keepdims": ir.IntAttr(0)}, x, i64(sh(1), -1))[0].F32
		want = make([]float64, 2*rows)
		for i, v := range x.F32 {
			want[i/d] += float64(v)
		}
		fkClose(t, fmt.Sprintf("ReduceSum rows d=%d", d), got, want, 2e-7, func(i int) float64 { return math.Max(1, math.Abs(want[i])) })
	}
}

// Dropout and DropoutMaskGrad: exactly rng's mask and x·float32(1/(1−p))
// on every path, so the SIMD and Go paths agree bit for bit too.
func TestFastDropout(t *testing.T) {
	r := rand.New(rand.NewSource(5))
	for _, n := range []int{1, 17, 1029, 70001} {
		x := fkRand(r, 1, n)
		x.F32[0] = float32(math.NaN())
		ratio, train := f32(nil, 0.1), bools(nil, true)
		simdPaths(t, func(t *testing.T) {
			fwd := fkThreads(t, "", "Dropout", nil, x, ratio, train)
			back := fkThreads(t, crscDomain, "DropoutMaskGrad", attrs{"forward_node": ir.StringAttr("fk")}, x, ratio, train)
			s := float32(1 / (1 - float64(float32(0.1)))) // as dropoutMode reads the ratio
			for i, v := range x.F32 {
				keep := rng.Uniform(11, 4, rng.StreamOf("fk"), uint64(i)) >= float32(0.1)
				want := float32(0)
				if keep {
					want = v * s
				}
				if fwd[1].Bool[i] != keep || math.Float32bits(fwd[0].F32[i]) != math.Float32bits(want) ||
					math.Float32bits(back[0].F32[i]) != math.Float32bits(want) {
					t.Fatalf("n=%d element %d: keep %v out %g grad %g, want keep %v out %g", n, i,
						fwd[1].Bool[i], fwd[0].F32[i], back[0].F32[i], keep, want)
				}
			}
		})
	}
}
