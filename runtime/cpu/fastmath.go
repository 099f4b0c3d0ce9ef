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
// through the exponent bits. Inputs beyond float32's range saturate.
func exp32(x float32) float32 {
	switch {
	case x > 88.72283:
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
	if e < -126 { // subnormal results: scale in two steps
		return p * math.Float32frombits(uint32(e+126+127)<<23) * math.Float32frombits(1<<23)
	}
	return p * math.Float32frombits(uint32(e+127)<<23)
}
