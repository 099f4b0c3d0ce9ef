//go:build amd64 && !purego

package cpu

import (
	"math"
	"os"

	"golang.org/x/sys/cpu"
)

// hasAVX2 reports AVX2 and FMA, what simd_avx2_amd64.s uses.
var hasAVX2 = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// useAVX2 selects the AVX2 kernels where the AVX-512 ones are not used:
// on machines without AVX-512, or with CRSC_SIMD=avx2 (to time or test
// that path on one that has it). CRSC_SIMD=off turns both off.
var useAVX2 = hasAVX2 && os.Getenv("CRSC_SIMD") != "off"

// The kernels below are in simd_avx2_amd64.s; each takes n a multiple of 8.

//go:noescape
func geluErfAVX2(dst, x *float32, n int)

//go:noescape
func geluErfGradAVX2(dst, dy, x *float32, n int)

//go:noescape
func geluTanhAVX2(dst, x *float32, n int)

//go:noescape
func expShiftAVX2(dst, x *float32, n int, m float32, sums *[8]float32)

// unaryAVX2 names a one-input kernel of simd_avx2_amd64.s.
type unaryAVX2 int

const (
	geluErfUnary unaryAVX2 = iota
	geluTanhUnary
)

func (k unaryAVX2) run(dst, x *float32, n int) {
	switch k {
	case geluErfUnary:
		geluErfAVX2(dst, x, n)
	case geluTanhUnary:
		geluTanhAVX2(dst, x, n)
	}
}

// mapAVX2 runs kernel k over x into dst: the first len(dst)&^7 elements
// in place, the rest through a zero-padded 8-element buffer, so that
// every element goes through the same instructions wherever a thread's
// slice starts.
func mapAVX2(k unaryAVX2, dst, x []float32) {
	x = x[:len(dst)]
	n := len(dst) &^ 7
	if n > 0 {
		k.run(&dst[0], &x[0], n)
	}
	if r := len(dst) - n; r > 0 {
		var in, out [8]float32
		copy(in[:], x[n:])
		k.run(&out[0], &in[0], 8)
		copy(dst[n:], out[:r])
	}
}

// geluErfGradAVX2Slices is geluErfGrad on the AVX2 kernel, its tail
// padded as mapAVX2's.
func geluErfGradAVX2Slices(dst, dy, x []float32) {
	dy, x = dy[:len(dst)], x[:len(dst)]
	n := len(dst) &^ 7
	if n > 0 {
		geluErfGradAVX2(&dst[0], &dy[0], &x[0], n)
	}
	if r := len(dst) - n; r > 0 {
		var g, in, out [8]float32
		copy(g[:], dy[n:])
		copy(in[:], x[n:])
		geluErfGradAVX2(&out[0], &g[0], &in[0], 8)
		copy(dst[n:], out[:r])
	}
}

// expShiftAVX2Slices is expShift on the AVX2 kernel: the sum adds the 8
// lane sums in a fixed order, then the tail's elements one by one.
func expShiftAVX2Slices(dst, x []float32, m float32) float64 {
	x = x[:len(dst)]
	var sums [8]float32
	n := len(dst) &^ 7
	if n > 0 {
		expShiftAVX2(&dst[0], &x[0], n, m, &sums)
	}
	s := float32(0)
	for _, v := range sums {
		s += v
	}
	if r := len(dst) - n; r > 0 {
		var in, out [8]float32
		var tail [8]float32
		copy(in[:], x[n:])
		expShiftAVX2(&out[0], &in[0], 8, m, &tail)
		copy(dst[n:], out[:r])
		for _, v := range out[:r] {
			s += v
		}
	}
	return float64(s)
}

//go:noescape
func rowSumAVX2(x *float32, n int) float64

//go:noescape
func rowSumSqDevAVX2(x *float32, n int, mu float64) float64

//go:noescape
func normRowOutAVX2(out, x, sc, b *float32, n int, mu, is float64)

// layerNormRowAVX2 normalizes one float32 row of d ≥ 1 (see
// layerNormRows): the sums in 4 float64 lanes and then the last d%4
// elements in order, the output's last d%4 through a padded buffer.
func layerNormRowAVX2(out, row, sc, b []float32, eps float64) (mu, is float64) {
	d := len(row)
	n := d &^ 3
	sum := 0.0
	if n > 0 {
		sum = rowSumAVX2(&row[0], n)
	}
	for _, v := range row[n:] {
		sum += float64(v)
	}
	mu = sum / float64(d)
	ss := 0.0
	if n > 0 {
		ss = rowSumSqDevAVX2(&row[0], n, mu)
	}
	for _, v := range row[n:] {
		ss += (float64(v) - mu) * (float64(v) - mu)
	}
	is = 1 / math.Sqrt(ss/float64(d)+eps)
	if n > 0 {
		normRowOutAVX2(&out[0], &row[0], &sc[0], first(b), n, mu, is)
	}
	if r := d - n; r > 0 {
		var x4, s4, b4, o4 [4]float32
		copy(x4[:], row[n:])
		copy(s4[:], sc[n:d])
		var bp *float32
		if b != nil {
			copy(b4[:], b[n:d])
			bp = &b4[0]
		}
		normRowOutAVX2(&o4[0], &x4[0], &s4[0], bp, 4, mu, is)
		copy(out[n:], o4[:r])
	}
	return mu, is
}

// first is &s[0], or nil for an empty s.
func first(s []float32) *float32 {
	if len(s) == 0 {
		return nil
	}
	return &s[0]
}

//go:noescape
func normRowSumsAVX2(dy, y *float32, bias, rs, xh, sc, colS, colB *float64, n int, sums *[2]float64)

//go:noescape
func normRowDxAVX2(out, dy *float32, xh, sc *float64, n int, c *[3]float64)

// normRowSumsAVX2Slices is normRowSums (see normGradBlocks) over a row of
// d ≥ 1: the first d&^3 columns on the AVX2 kernel, the rest in order
// after them, with the same formulas.
func normRowSumsAVX2Slices(g, y []float32, bias, rs, xh, sc, colS, colB []float64) (sg, sgx float64) {
	d := len(g)
	n := d &^ 3
	if n > 0 {
		var sums [2]float64
		normRowSumsAVX2(&g[0], &y[0], &bias[0], &rs[0], &xh[0], &sc[0], &colS[0], &colB[0], n, &sums)
		sg, sgx = sums[0], sums[1]
	}
	for j := n; j < d; j++ {
		x := (float64(y[j]) - bias[j]) * rs[j]
		xh[j] = x
		f := float64(g[j])
		colS[j] += f * x
		colB[j] += f
		gs := f * sc[j]
		sg += gs
		sgx += gs * x
	}
	return sg, sgx
}

// normRowDxAVX2Slices is normRowDx over a row of d ≥ 1, its last d%4
// columns after the kernel's.
func normRowDxAVX2Slices(out, g []float32, xh, sc []float64, c [3]float64) {
	d := len(g)
	n := d &^ 3
	if n > 0 {
		normRowDxAVX2(&out[0], &g[0], &xh[0], &sc[0], n, &c)
	}
	for j := n; j < d; j++ {
		out[j] = float32(c[0] * ((float64(g[j])*sc[j] - c[1]) - xh[j]*c[2]))
	}
}

//go:noescape
func dropoutAVX2(out, x *float32, mask *bool, n int, v *philoxVecs, ratio, scale float32)
