package cpu

import "math"

// Float32 versions of the transcendental functions on the hot path of a
// transformer forward pass (GELU's erf, softmax's exp). math.Erf and
// math.Exp work in float64 and cost about as much as all the GEMMs' packing;
// these are accurate to a few float32 ulps, which is all a float32 model
// can observe (fastmath_test.go bounds the error against package math).

// erf32 is the rational approximation Eigen uses for float erf: odd
// polynomial over even polynomial in x on [-4, 4], where erf is ±1 to
// float32 precision beyond.
func erf32(x float32) float32 {
	x = min(max(x, -4), 4)
	x2 := x * x
	p := x2*-2.72614225801306e-10 + 2.77068142495902e-08
	p = x2*p + -2.10102402082508e-06
	p = x2*p + -5.69250639462346e-05
	p = x2*p + -7.34990630326855e-04
	p = x2*p + -2.95459980854025e-03
	p = x2*p + -1.60960333262415e-02
	p *= x
	q := x2*-1.45660718464996e-05 + -2.13374055278905e-04
	q = x2*q + -1.68282697438203e-03
	q = x2*q + -7.37332916720468e-03
	q = x2*q + -1.42647390514189e-02
	return p / q
}

// exp32 reduces x = n·ln2 + r with |r| ≤ ln2/2 and evaluates e^r by a
// degree-6 Taylor polynomial (error below 2e-7 relative), then scales by 2^n
// through the exponent bits. Inputs beyond float32's range saturate (+Inf
// above ln(MaxFloat32), 0 below −103.97); NaN gives NaN.
func exp32(x float32) float32 {
	switch {
	case x > 88.7228391: // ln(MaxFloat32): beyond it e^x rounds to +Inf
		return float32(math.Inf(1))
	case x < -103.97208:
		return 0
	case x != x:
		return x
	}
	// Round x·log2(e) to the nearest integer; the conversion truncates
	// toward zero, so bias by ±0.5 (math.Floor is a call without SSE4.1).
	t := x * 1.442695040888963
	if t < 0 {
		t -= 0.5
	} else {
		t += 0.5
	}
	n := float32(int32(t))
	// Two-part ln2 keeps r exact enough for float32.
	r := x - n*0.693359375 + n*2.12194440e-4
	p := float32(1.0 / 720)
	p = p*r + 1.0/120
	p = p*r + 1.0/24
	p = p*r + 1.0/6
	p = p*r + 0.5
	p = p*r + 1
	p = p*r + 1
	e := int32(n)
	if e > 127 { // 2^128 is not a float32, but p·2^128 can be (p < 1)
		return p * 2 * math.Float32frombits(uint32(e-1+127)<<23)
	}
	if e < -126 { // subnormal results: scale in two steps
		return p * math.Float32frombits(uint32(e+126+127)<<23) * math.Float32frombits(1<<23)
	}
	return p * math.Float32frombits(uint32(e+127)<<23)
}

// fm holds the constants of the vector kernels in simd_amd64.s, which
// reads them by index (FM(i) there): erf32's and exp32's coefficients
// above, the exp clamps and the GELU factors. Keep the order.
var fm = [...]float32{
	0: -4, 1: 4, // erf argument clamp
	// erf32's numerator, highest degree first, then its denominator.
	2: -2.72614225801306e-10, 3: 2.77068142495902e-08, 4: -2.10102402082508e-06,
	5: -5.69250639462346e-05, 6: -7.34990630326855e-04, 7: -2.95459980854025e-03,
	8: -1.60960333262415e-02,
	9: -1.45660718464996e-05, 10: -2.13374055278905e-04, 11: -1.68282697438203e-03,
	12: -7.37332916720468e-03, 13: -1.42647390514189e-02,
	// exp32: log2(e), ln2 = hi + lo, the Taylor coefficients 1/720 … 1.
	14: 1.442695040888963, 15: 0.693359375, 16: -2.12194440e-4,
	17: 1.0 / 720, 18: 1.0 / 120, 19: 1.0 / 24, 20: 1.0 / 6, 21: 0.5, 22: 1,
	// exp argument clamp: below −104 the result rounds to 0 and from 89 on
	// it is +Inf, and the clamp keeps 2^n inside VSCALEFPS's exact range.
	23: -104, 24: 89,
	25: 1 / math.Sqrt2, 26: 0.5, 27: -0.5, 28: 0.3989422804014327, // 1/√(2π)
	29: 1.0 / (1 << 24), // rng.ToUniform's scale
	// GELU tanh form: x·(c31 + c30·x²) = −2·√(2/π)·(x + 0.044715·x³).
	30: -2 * sqrt2OverPi * 0.044715, 31: -2 * sqrt2OverPi,
}

// tanh32 is tanh in float32: an odd Taylor polynomial to x^15 below
// |x| = 0.5 (where (1−t)/(1+t) would cancel), else (1−t)/(1+t) with
// t = e^(−2|x|). Relative error below 3e-7 (TestTanh32); ±Inf give ±1,
// NaN gives NaN.
func tanh32(x float32) float32 {
	a := x
	if a < 0 {
		a = -a
	}
	if a < 0.5 {
		x2 := x * x
		p := float32(-929569.0 / 638512875)
		p = p*x2 + 21844.0/6081075
		p = p*x2 + -1382.0/155925
		p = p*x2 + 62.0/2835
		p = p*x2 + -17.0/315
		p = p*x2 + 2.0/15
		p = p*x2 + -1.0/3
		return x + x*x2*p
	}
	if a != a {
		return x
	}
	t := exp32(-2 * a)
	r := (1 - t) / (1 + t)
	if x < 0 {
		return -r
	}
	return r
}

// GELU, its gradient and softmax's exponentials over slices: the AVX-512
// kernels when available (useAVX512), else the AVX2 ones (useAVX2), else
// these loops over erf32 and exp32. The two paths agree to a few float32 ulps (fastmath_test.go),
// and either one computes each element independently of where a thread's
// slice starts, so results do not depend on the thread count.

// geluErf sets dst[i] = 0.5·x·(1 + erf(x/√2)); GELU(−Inf) is NaN, as that
// formula gives.
func geluErf(dst, x []float32) {
	x = x[:len(dst)]
	if useAVX512 && len(dst) > 0 {
		geluErfAVX512(&dst[0], &x[0], len(dst))
		return
	}
	if useAVX2 {
		mapAVX2(geluErfUnary, dst, x)
		return
	}
	for i, v := range x {
		dst[i] = 0.5 * v * (1 + erf32(v*(1/math.Sqrt2)))
	}
}

// geluErfGrad sets dst[i] = dy[i]·(Φ(x) + x·φ(x)), the exact GELU's
// derivative (Φ, φ: the standard normal CDF and density).
func geluErfGrad(dst, dy, x []float32) {
	dy, x = dy[:len(dst)], x[:len(dst)]
	if useAVX512 && len(dst) > 0 {
		geluErfGradAVX512(&dst[0], &dy[0], &x[0], len(dst))
		return
	}
	if useAVX2 {
		geluErfGradAVX2Slices(dst, dy, x)
		return
	}
	const invSqrt2, invSqrt2Pi = 1 / math.Sqrt2, 0.3989422804014327
	for i, v := range x {
		cdf := 0.5 * (1 + erf32(v*invSqrt2))
		dst[i] = dy[i] * (cdf + v*exp32(-0.5*v*v)*invSqrt2Pi)
	}
}

// geluTanh sets dst[i] = 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))),
// computed as x/(1 + e^(−2u)), which needs one exp and stays accurate
// (relative) for large negative x where 1 + tanh cancels. GELU(−Inf) is
// NaN, as the formula gives.
func geluTanh(dst, x []float32) {
	x = x[:len(dst)]
	if useAVX512 && len(dst) > 0 {
		geluTanhAVX512(&dst[0], &x[0], len(dst))
		return
	}
	if useAVX2 {
		mapAVX2(geluTanhUnary, dst, x)
		return
	}
	for i, v := range x {
		dst[i] = v / (1 + exp32(v*(fm[31]+fm[30]*v*v)))
	}
}

// expShift sets dst[i] = exp(x[i] − m) and returns the sum of dst.
func expShift(dst, x []float32, m float32) float64 {
	x = x[:len(dst)]
	if useAVX512 && len(dst) > 0 {
		return float64(expShiftAVX512(&dst[0], &x[0], len(dst), m))
	}
	if useAVX2 {
		return expShiftAVX2Slices(dst, x, m)
	}
	s := 0.0
	for j, v := range x {
		e := exp32(v - m)
		dst[j] = e
		s += float64(e)
	}
	return s
}
