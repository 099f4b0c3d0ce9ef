//go:build amd64 && !purego

package cpu

import (
	"os"

	"golang.org/x/sys/cpu"
)

// hasAVX512 reports the AVX-512 subsets simd_amd64.s uses: F for the
// arithmetic, BW+VL for VPMOVM2B (Dropout's byte mask), DQ for
// VEXTRACTF32X8 (the softmax row sum). x/sys/cpu also checks that the OS
// saves the ZMM and mask registers.
var hasAVX512 = cpu.X86.HasAVX512F && cpu.X86.HasAVX512BW && cpu.X86.HasAVX512VL && cpu.X86.HasAVX512DQ

// useAVX512 selects the assembly kernels. CRSC_SIMD=off forces the pure-Go
// fallbacks (to compare the two, or to rule the assembly out when chasing
// a numerical difference), CRSC_SIMD=avx2 the AVX2 kernels where there
// are some (simd_avx2_amd64.go); tests flip both to cover every path.
var useAVX512 = hasAVX512 && os.Getenv("CRSC_SIMD") != "off" && os.Getenv("CRSC_SIMD") != "avx2"

// The kernels below are in simd_amd64.s. Each handles any n (a masked
// final vector covers the last n%16 elements), so every element goes
// through the same instructions whatever slice of a tensor a thread gets.

// geluErfAVX512 sets dst[i] = GELU(x[i]), exact (erf) form.
//
//go:noescape
func geluErfAVX512(dst, x *float32, n int)

// geluErfGradAVX512 sets dst[i] = dy[i]·GELU'(x[i]), exact form.
//
//go:noescape
func geluErfGradAVX512(dst, dy, x *float32, n int)

// geluTanhAVX512 sets dst[i] = GELU(x[i]), tanh form.
//
//go:noescape
func geluTanhAVX512(dst, x *float32, n int)

// expShiftAVX512 sets dst[i] = exp(x[i] − m) and returns their sum
// (float32, 16 lanes added pairwise at the end).
//
//go:noescape
func expShiftAVX512(dst, x *float32, n int, m float32) float32

// maxAVX512 returns the largest of x[:n] (−Inf for n = 0). A NaN is not
// guaranteed to come out; softmax, its user, turns a NaN row all-NaN
// through the sum anyway.
//
//go:noescape
func maxAVX512(x *float32, n int) float32

// scaleAVX512 multiplies x[:n] by s in place.
//
//go:noescape
func scaleAVX512(x *float32, n int, s float32)

// normRowSumsAVX512 is the first pass of the norm gradient over a
// float32 row of n from the norm's output y: x̂ = (y − bias)·rs into xh,
// colS += g·x̂, colB += g, and sums = (Σ g·sc, Σ g·sc·x̂), each sum in 8
// float64 lanes folded at the end (a fixed order).
//
//go:noescape
func normRowSumsAVX512(dy, y *float32, bias, rs, xh, sc, colS, colB *float64, n int, sums *[2]float64)

// normRowDxAVX512 sets out = float32(is·(g·sc − mg − x̂·mgx)) over a row of
// n, with c = (is, mg, mgx).
//
//go:noescape
func normRowDxAVX512(out, dy *float32, xh, sc *float64, n int, c *[3]float64)

// dropoutAVX512 draws the Philox words of v's 4 blocks per 16 elements
// (n a multiple of 16) and sets out[i] = x[i]·scale where
// ToUniform(word) >= ratio, else +0; mask (may be nil) gets the keep bytes.
//
//go:noescape
func dropoutAVX512(out, x *float32, mask *bool, n int, v *philoxVecs, ratio, scale float32)

// rowSumAVX512 returns Σ float64(x[i]) over x[:n], in 8 float64 lanes
// folded at the end (a fixed order for a given n).
//
//go:noescape
func rowSumAVX512(x *float32, n int) float64

// rowSumSqDevAVX512 returns Σ (float64(x[i]) − mu)² over x[:n], in 8
// lanes as rowSumAVX512.
//
//go:noescape
func rowSumSqDevAVX512(x *float32, n int, mu float64) float64

// normRowOutAVX512 sets out[i] = float32((x[i] − mu)·is·sc[i] + b[i])
// over n elements, in float64 and rounded step by step as the scalar loop
// does; b may be nil (no bias).
//
//go:noescape
func normRowOutAVX512(out, x, sc, b *float32, n int, mu, is float64)
