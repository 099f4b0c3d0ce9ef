package optim

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"crsc/compiler/ir"
)

// benchPaths runs a benchmark on every kernel this machine has.
func benchPaths(b *testing.B, run func(*testing.B)) {
	forPaths(b, func(name string) { b.Run(name, run) })
}

// forPaths calls fn once per kernel level this machine supports, with
// simdLevel set to it, and restores the chosen level after.
func forPaths(tb testing.TB, fn func(name string)) {
	saved := simdLevel
	defer func() { simdLevel = saved }()
	for level := maxSIMDLevel(); level >= 0; level-- {
		simdLevel = level
		fn([]string{"go", "avx2", "avx512"}[level])
	}
}

// specialF32 draws a float32 from the values that stress an element loop:
// ordinary values at several scales, signed zeros, denormals, values near
// the float32 range's top (whose squares overflow), and, when wild, ±Inf,
// NaNs with payloads and negative second moments.
func specialF32(rng *rand.Rand, scale float64, wild bool) float32 {
	r := rng.IntN(20)
	if !wild && r >= 16 {
		r = rng.IntN(16)
	}
	sign := float32(1)
	if rng.IntN(2) == 0 {
		sign = -1
	}
	switch r {
	case 0:
		return 0
	case 1:
		return float32(math.Copysign(0, -1))
	case 2, 3: // denormal
		return sign * math.Float32frombits(uint32(1+rng.IntN(1<<23-1)))
	case 4: // smallest normals
		return sign * math.Float32frombits(uint32(1<<23+rng.IntN(1<<24)))
	case 5, 6: // huge
		return sign * math.Float32frombits(uint32(0x7e800000+rng.IntN(0x7fffff)))
	case 7:
		return sign * float32(rng.NormFloat64()*1e-20)
	case 16:
		return sign * float32(math.Inf(1))
	case 17: // quiet and signalling NaNs, any payload
		return math.Float32frombits(0x7f800000 | uint32(1+rng.IntN(1<<23-1)) | uint32(rng.IntN(2))<<31)
	}
	return float32(rng.NormFloat64() * scale)
}

// TestAdamWKernelsMatchGo holds every assembly kernel to the Go loop, bit
// for bit, on p, m and v: lengths around the vector widths and a long odd
// one, unaligned starts, special values, every combination of decay,
// averaging and clipping.
func TestAdamWKernelsMatchGo(t *testing.T) {
	if maxSIMDLevel() == 0 {
		t.Skip("no assembly kernel on this machine")
	}
	saved := simdLevel
	defer func() { simdLevel = saved }()
	rng := rand.New(rand.NewPCG(11, 12))
	for _, n := range []int{1, 7, 8, 9, 15, 16, 17, 31, 33, 1000, 1000003} {
		for _, wild := range []bool{false, true} {
			off := rng.IntN(4) // the kernels use unaligned loads
			mk := func(scale float64, nonNeg bool) []float32 {
				xs := make([]float32, off+n)
				for i := range xs {
					xs[i] = specialF32(rng, scale, wild)
					if nonNeg && !wild {
						xs[i] = float32(math.Abs(float64(xs[i])))
					}
				}
				return xs[off:]
			}
			p, g, m, v := mk(1, false), mk(0.1, false), mk(0.01, false), mk(1e-4, true)
			for flags := range 8 { // bit 0 decay, 1 averaging, 2 clipping
				decay := flags&1 != 0
				x := GradTransform{AverageOver: 1}
				if flags&2 != 0 {
					x.AverageOver = 3
				}
				if flags&4 != 0 {
					x.Clip, x.ClipScale = true, 0.37
				}
				s := DefaultAdamWConfig().StepScalars(3e-3, int64(1+flags))
				if wild && flags == 7 {
					s.Eps = 0 // 0/0 and x/0 in the update
				}
				simdLevel = 0
				wp, wm, wv := slices.Clone(p), slices.Clone(m), slices.Clone(v)
				AdamWInPlace(wp, g, wm, wv, s, decay, x)
				for level := 1; level <= maxSIMDLevel(); level++ {
					simdLevel = level
					gp, gm, gv := slices.Clone(p), slices.Clone(m), slices.Clone(v)
					AdamWInPlace(gp, g, gm, gv, s, decay, x)
					for _, c := range []struct {
						what      string
						got, want []float32
					}{{"p", gp, wp}, {"m", gm, wm}, {"v", gv, wv}} {
						for i := range c.want {
							if math.Float32bits(c.got[i]) != math.Float32bits(c.want[i]) {
								t.Fatalf("level %d n=%d wild=%v flags=%d: %s[%d] = %#x, Go loop %#x (p %g g %g m %g v %g)",
									level, n, wild, flags, c.what, i, math.Float32bits(c.got[i]), math.Float32bits(c.want[i]), p[i], g[i], m[i], v[i])
							}
						}
					}
				}
			}
		}
	}
}

// TestSumSquaresKernelMatchesGo holds SumSquares on AVX-512 (groups of
// four chunks summed lane-wise) to the Go loop bit for bit: tensors with
// and without whole groups, partial chunks, special values, averaging on
// and off, each group's per-chunk partials as well as the total.
func TestSumSquaresKernelMatchesGo(t *testing.T) {
	if maxSIMDLevel() < 2 {
		t.Skip("no AVX-512")
	}
	saved := simdLevel
	defer func() { simdLevel = saved }()
	rng := rand.New(rand.NewPCG(13, 14))
	for _, wild := range []bool{false, true} {
		var ts []*ir.Tensor
		for _, n := range []int{9*chunkElems + 17, 3, 4 * chunkElems, 3*chunkElems + 1, 8 * chunkElems} {
			x := ir.NewTensor(ir.Float32, n)
			for i := range x.F32 {
				x.F32[i] = specialF32(rng, 0.1, wild && rng.IntN(1000) == 0)
			}
			ts = append(ts, x)
		}
		for _, avg := range []float32{1, 3} {
			for _, x := range ts[2:3] {
				var lanes [2 * sumSquaresGroup]float64
				simdLevel = 2
				sumSquares4(x.F32, avg, &lanes)
				for j := range sumSquaresGroup {
					got := lanes[2*j] + lanes[2*j+1]
					want := sumSquaresChunk(x.F32[j*chunkElems:(j+1)*chunkElems], avg)
					if math.Float64bits(got) != math.Float64bits(want) {
						t.Fatalf("wild=%v avg=%v chunk %d: kernel %v, Go %v", wild, avg, j, got, want)
					}
				}
			}
			for _, threads := range []int{1, 2} {
				simdLevel = 0
				want := SumSquares(ts, avg, threads)
				simdLevel = 2
				got := SumSquares(ts, avg, threads)
				if math.Float64bits(got) != math.Float64bits(want) {
					t.Fatalf("wild=%v avg=%v threads=%d: kernel %v (%#x), Go %v (%#x)", wild, avg, threads, got, math.Float64bits(got), want, math.Float64bits(want))
				}
				if !wild && math.IsNaN(want) {
					t.Fatal("tame inputs summed to NaN")
				}
			}
		}
	}
}
