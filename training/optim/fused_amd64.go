//go:build amd64 && !purego

package optim

import (
	"os"

	"golang.org/x/sys/cpu"
)

// simdLevel picks AdamWInPlace's kernel once: 2 for AVX-512 (the F subset
// is all fused_amd64.s uses; x/sys/cpu also checks that the OS saves the
// ZMM and mask registers), 1 for AVX2, 0 for the Go loop. CRSC_SIMD=off
// forces the Go loop, as it does for runtime/cpu's kernels (to compare
// the two, or to rule the assembly out when chasing a numerical
// difference); tests set simdLevel to cover every path.
var simdLevel = detectSIMD()

func detectSIMD() int {
	switch {
	case os.Getenv("CRSC_SIMD") == "off":
		return 0
	case cpu.X86.HasAVX512F:
		return 2
	case cpu.X86.HasAVX2:
		return 1
	}
	return 0
}

// maxSIMDLevel is the best kernel this machine can run, for tests.
func maxSIMDLevel() int {
	switch {
	case cpu.X86.HasAVX512F:
		return 2
	case cpu.X86.HasAVX2:
		return 1
	}
	return 0
}

// adamwArgs is the kernels' constant block, in the order fused_amd64.s
// broadcasts it from (offsets 0, 4, …, 36).
type adamwArgs struct {
	beta1, oneMinusBeta1, beta2, oneMinusBeta2, eps float32
	stepSize, bc2Sqrt, decayFactor                  float32
	averageOver, clipScale                          float32
}

// Flag bits of the kernels' flags argument: which optional operations run.
const (
	flagDecay   = 1 // p·decayFactor before subtracting the update
	flagAverage = 2 // g/averageOver
	flagClip    = 4 // g·clipScale
)

// adamwAVX512 updates all n elements (a masked final vector takes the
// last n%16).
//
//go:noescape
func adamwAVX512(p, grad, m, v *float32, n int, k *adamwArgs, flags int)

// adamwAVX2 updates the first n elements; n must be a multiple of 8.
//
//go:noescape
func adamwAVX2(p, grad, m, v *float32, n int, k *adamwArgs, flags int)

// adamwSIMD runs the selected kernel over p (g, m and v are at least as
// long) and returns how many leading elements it updated; the Go loop
// does the rest.
func adamwSIMD(p, g, m, v []float32, s *Scalars, decay bool, x GradTransform) int {
	n := len(p)
	if simdLevel == 1 {
		n &^= 7
	}
	if simdLevel == 0 || n == 0 {
		return 0
	}
	k := adamwArgs{
		s.Beta1, s.OneMinusBeta1, s.Beta2, s.OneMinusBeta2, s.Eps,
		s.StepSize, s.BiasCorrection2Sqrt, s.DecayFactor,
		x.AverageOver, x.ClipScale,
	}
	flags := 0
	if decay {
		flags |= flagDecay
	}
	if x.AverageOver != 1 {
		flags |= flagAverage
	}
	if x.Clip {
		flags |= flagClip
	}
	if simdLevel == 2 {
		adamwAVX512(&p[0], &g[0], &m[0], &v[0], n, &k, flags)
	} else {
		adamwAVX2(&p[0], &g[0], &m[0], &v[0], n, &k, flags)
	}
	return n
}

// sumSquaresSIMD reports whether SumSquares groups chunks for
// sumSquares4AVX512.
func sumSquaresSIMD() bool { return simdLevel == 2 }

// sumSquares4AVX512 sums the squares of four consecutive n-element chunks
// starting at x (n even), lane 2j holding chunk j's even-element chain and
// lane 2j+1 its odd one, each element divided by avg first when average
// is nonzero.
//
//go:noescape
func sumSquares4AVX512(x *float32, n int, avg float32, average int, lanes *[2 * sumSquaresGroup]float64)

// sumSquares4 runs sumSquares4AVX512 over xs, sumSquaresGroup chunks of
// chunkElems elements.
func sumSquares4(xs []float32, averageOver float32, lanes *[2 * sumSquaresGroup]float64) {
	_ = xs[sumSquaresGroup*chunkElems-1]
	average := 0
	if averageOver != 1 {
		average = 1
	}
	sumSquares4AVX512(&xs[0], chunkElems, averageOver, average, lanes)
}
