package cpu

import (
	"math"
	"testing"
)

func TestErf32(t *testing.T) {
	worst := 0.0
	for x := -6.0; x <= 6; x += 1e-4 {
		d := math.Abs(float64(erf32(float32(x))) - math.Erf(float64(float32(x))))
		worst = math.Max(worst, d)
	}
	if worst > 5e-7 {
		t.Fatalf("erf32 max abs error %g", worst)
	}
}

func TestExp32(t *testing.T) {
	worst := 0.0
	for x := -100.0; x <= 88.72; x += 1e-3 {
		want := math.Exp(float64(float32(x)))
		got := float64(exp32(float32(x)))
		if want < 1.2e-38 { // subnormal range: absolute error only
			if math.Abs(got-want) > 3e-45 {
				t.Fatalf("exp32(%g) = %g, want %g", x, got, want)
			}
			continue
		}
		worst = math.Max(worst, math.Abs(got-want)/want)
	}
	if worst > 5e-7 {
		t.Fatalf("exp32 max relative error %g", worst)
	}
	if !math.IsInf(float64(exp32(100)), 1) || exp32(-200) != 0 || !math.IsNaN(float64(exp32(float32(math.NaN())))) {
		t.Fatal("exp32 edge cases")
	}
}

// simdPaths runs f once per kernel path this machine has: the pure-Go
// loops, the AVX2 assembly and the AVX-512 assembly, each where the CPU
// supports it.
func simdPaths(t *testing.T, f func(t *testing.T)) {
	saved512, saved2 := useAVX512, useAVX2
	defer func() { useAVX512, useAVX2 = saved512, saved2 }()
	for _, p := range []struct {
		name         string
		avx512, avx2 bool
		available    bool
	}{
		{"go", false, false, true},
		{"avx2", false, true, hasAVX2},
		{"avx512", true, true, hasAVX512},
	} {
		if !p.available {
			continue
		}
		useAVX512, useAVX2 = p.avx512, p.avx2
		t.Run(p.name, f)
	}
}

// sweep is a dense grid over [lo, hi] plus the extremes every kernel
// must survive.
func sweep(lo, hi, step float64) []float32 {
	var xs []float32
	for x := lo; x <= hi; x += step {
		xs = append(xs, float32(x))
	}
	return append(xs, 0, float32(math.Copysign(0, -1)), 1e-30, -1e-30, 1e-42, 30, -30, 1e20, -1e20,
		math.MaxFloat32, -math.MaxFloat32)
}

func TestTanh32(t *testing.T) {
	worst := 0.0
	for _, x := range sweep(-20, 20, 1e-4) {
		want := math.Tanh(float64(x))
		got := float64(tanh32(x))
		if want != 0 {
			worst = math.Max(worst, math.Abs(got-want)/math.Abs(want))
		} else if got != 0 {
			t.Fatalf("tanh32(%g) = %g", x, got)
		}
	}
	if worst > 3e-7 {
		t.Fatalf("tanh32 max relative error %g", worst)
	}
	inf := float32(math.Inf(1))
	if tanh32(inf) != 1 || tanh32(-inf) != -1 || !math.IsNaN(float64(tanh32(float32(math.NaN())))) {
		t.Fatal("tanh32 edge cases")
	}
}

// Error bounds of the slice kernels, both paths, over a dense sweep
// (TestFastMathBounds): absolute error relative to max(1, |x|) for the
// GELU forms, relative error for exp.
const (
	geluErfTol  = 4e-7 // |got − GELU(x)| ≤ geluErfTol·max(1, |x|)
	geluGradTol = 4e-7 // |got − GELU'(x)| ≤ geluGradTol·|dy|
	geluTanhTol = 4e-7 // |got − GELUtanh(x)| ≤ geluTanhTol·max(1, |x|)
	expTol      = 3e-7 // relative, for results ≥ 2^-126; plus 2^-149 absolute below
)

func TestFastMathBounds(t *testing.T) {
	simdPaths(t, func(t *testing.T) {
		xs := sweep(-12, 12, 1e-4)
		got := make([]float32, len(xs))
		check := func(what string, tol float64, want func(x float64) float64, scale func(x float64) float64) {
			t.Helper()
			worst, at := 0.0, float32(0)
			for i, x := range xs {
				w := want(float64(x))
				if math.IsNaN(w) {
					continue
				}
				e := math.Abs(float64(got[i])-w) / scale(float64(x))
				if !(e <= worst) { // NaN counts as worst
					worst, at = e, x
				}
			}
			t.Logf("%s: max error %.3g at x = %g", what, worst, at)
			if !(worst <= tol) {
				t.Errorf("%s: max error %g at x = %g, bound %g", what, worst, at, tol)
			}
		}
		big := func(x float64) float64 { return math.Max(1, math.Abs(x)) }
		geluErf(got, xs)
		check("geluErf", geluErfTol, func(x float64) float64 { return 0.5 * x * (1 + math.Erf(x/math.Sqrt2)) }, big)
		ones := make([]float32, len(xs))
		for i := range ones {
			ones[i] = 1
		}
		geluErfGrad(got, ones, xs)
		check("geluErfGrad", geluGradTol, func(x float64) float64 {
			return 0.5*(1+math.Erf(x/math.Sqrt2)) + x*math.Exp(-0.5*x*x)/math.Sqrt(2*math.Pi)
		}, func(float64) float64 { return 1 })
		geluTanh(got, xs)
		check("geluTanh", geluTanhTol, func(x float64) float64 {
			return 0.5 * x * (1 + math.Tanh(sqrt2OverPi*(x+0.044715*x*x*x)))
		}, big)

		es := sweep(-110, 95, 1e-3)
		eg := make([]float32, len(es))
		sum := expShift(eg, es, 1.5)
		ref, worst := 0.0, 0.0
		for i, x := range es {
			w := math.Exp(float64(x - 1.5)) // the argument rounds to float32 first
			ref += float64(eg[i])
			if w < 0x1p-126 {
				if math.Abs(float64(eg[i])-w) > expTol*w+0x1p-149 {
					t.Fatalf("exp(%g) = %g, want %g", float64(x)-1.5, eg[i], w)
				}
				continue
			}
			if w > math.MaxFloat32 {
				if !math.IsInf(float64(eg[i]), 1) {
					t.Fatalf("exp(%g) = %g, want +Inf", float64(x)-1.5, eg[i])
				}
				continue
			}
			worst = math.Max(worst, math.Abs(float64(eg[i])-w)/w)
		}
		t.Logf("expShift: max relative error %.3g", worst)
		if worst > expTol {
			t.Errorf("expShift: max relative error %g, bound %g", worst, expTol)
		}
		if !math.IsInf(sum, 1) || !math.IsInf(ref, 1) {
			t.Errorf("expShift sum %g, want +Inf", sum)
		}

		// NaN propagates; ±Inf as documented.
		nan, inf := float32(math.NaN()), float32(math.Inf(1))
		special := []float32{nan, inf, -inf}
		out := make([]float32, 3)
		geluErf(out, special)
		if !isNaN32(out[0]) || out[1] != inf || !isNaN32(out[2]) {
			t.Errorf("geluErf(NaN, +Inf, -Inf) = %v", out)
		}
		geluTanh(out, special)
		if !isNaN32(out[0]) || out[1] != inf || !isNaN32(out[2]) {
			t.Errorf("geluTanh(NaN, +Inf, -Inf) = %v", out)
		}
		expShift(out, special, 0)
		if !isNaN32(out[0]) || out[1] != inf || out[2] != 0 {
			t.Errorf("exp(NaN, +Inf, -Inf) = %v", out)
		}
		geluErfGrad(out, []float32{1, 1, 1}, special)
		if !isNaN32(out[0]) {
			t.Errorf("geluErfGrad(NaN) = %v", out[0])
		}
	})
}

func isNaN32(x float32) bool { return x != x }

// Each element's result must not depend on where in a slice it sits (the
// thread split), nor on the slice's length (the masked tail): every odd
// length and offset gives the values of one long call.
func TestFastMathPositionIndependent(t *testing.T) {
	simdPaths(t, func(t *testing.T) {
		const n = 100
		x, dy := make([]float32, n), make([]float32, n)
		for i := range x {
			x[i] = float32(i-50) * 0.173
			dy[i] = float32(i%7) - 3
		}
		ref := func(f func(dst []float32, lo, hi int)) []float32 {
			out := make([]float32, n)
			f(out, 0, n)
			return out
		}
		kernels := map[string]func(dst []float32, lo, hi int){
			"geluErf":     func(d []float32, lo, hi int) { geluErf(d[lo:hi], x[lo:hi]) },
			"geluErfGrad": func(d []float32, lo, hi int) { geluErfGrad(d[lo:hi], dy[lo:hi], x[lo:hi]) },
			"geluTanh":    func(d []float32, lo, hi int) { geluTanh(d[lo:hi], x[lo:hi]) },
			"expShift":    func(d []float32, lo, hi int) { expShift(d[lo:hi], x[lo:hi], 0.5) },
		}
		for name, f := range kernels {
			want := ref(f)
			for _, lo := range []int{0, 1, 5, 16, 17} {
				for _, l := range []int{0, 1, 3, 15, 16, 17, 31, 33, 64, 83 - lo} {
					got := make([]float32, n)
					f(got, lo, lo+l)
					for i := lo; i < lo+l; i++ {
						if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
							t.Fatalf("%s [%d:%d]: element %d = %g, want %g", name, lo, lo+l, i, got[i], want[i])
						}
					}
				}
			}
		}
	})
}

// TestAVX2MatchesAVX512: the AVX2 kernels run the AVX-512 ones'
// polynomials in the same order, and scale by 2^n in two exact steps
// where VSCALEFPS takes one: every result is the same bits, subnormal,
// overflowing and NaN arguments included.
func TestAVX2MatchesAVX512(t *testing.T) {
	if !hasAVX512 || !hasAVX2 {
		t.Skip("needs both AVX2 and AVX-512 to compare them")
	}
	saved512, saved2 := useAVX512, useAVX2
	defer func() { useAVX512, useAVX2 = saved512, saved2 }()
	xs := append(sweep(-110, 95, 3e-4), float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)))
	dy := make([]float32, len(xs))
	for i := range dy {
		dy[i] = float32(i%5) - 2.5
	}
	run := func(avx512 bool) map[string][]float32 {
		useAVX512, useAVX2 = avx512, true
		out := map[string][]float32{}
		for name, f := range map[string]func(d []float32){
			"geluErf":     func(d []float32) { geluErf(d, xs) },
			"geluErfGrad": func(d []float32) { geluErfGrad(d, dy, xs) },
			"geluTanh":    func(d []float32) { geluTanh(d, xs) },
			"expShift":    func(d []float32) { expShift(d, xs, 1.5) },
		} {
			out[name] = make([]float32, len(xs))
			f(out[name])
		}
		return out
	}
	want, got := run(true), run(false)
	for name, w := range want {
		for i := range w {
			if math.Float32bits(w[i]) != math.Float32bits(got[name][i]) && !(isNaN32(w[i]) && isNaN32(got[name][i])) {
				t.Fatalf("%s(%g): AVX2 %g, AVX-512 %g", name, xs[i], got[name][i], w[i])
			}
		}
	}
}
