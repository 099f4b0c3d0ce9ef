package cpu

import (
	"math"

	"crsc/runtime/rng"
)

// dropoutKeep is the Dropout mask rule of package rng in bulk: keep[j] =
// rng.Uniform(seed, step, stream, lo+j) >= ratio for every j, with lo a
// multiple of 4 (one Philox block per four entries). It computes
// Philox4x32-10 inline rather than through rng.Fill, whose per-element
// callback and per-block call cost several times the Philox arithmetic
// itself; TestDropoutKeepMatchesRng pins it to rng bit for bit, which the
// GPU backend relies on.
func dropoutKeep(keep []bool, seed, step, stream uint64, lo int, ratio float32) {
	if lo%4 != 0 {
		panic("dropoutKeep: lo must be a multiple of 4")
	}
	// Counter words 2 and 3 and the key are the same for every block; see
	// rng.Block for the mapping.
	c2 := uint32(step) ^ uint32(step>>32)
	c3 := uint32(stream) ^ uint32(stream>>32)
	key0, key1 := uint32(seed), uint32(seed>>32)
	const (
		m0, m1 = 0xD2511F53, 0xCD9E8D57
		w0, w1 = 0x9E3779B9, 0xBB67AE85
	)
	block := uint64(lo / 4)
	j := 0
	// Two blocks per iteration: one Philox round is a chain of dependent
	// multiplies, so interleaving independent blocks fills the pipeline.
	for ; j+8 <= len(keep); j, block = j+8, block+2 {
		a0, a1, a2, a3 := uint32(block), uint32(block>>32), c2, c3
		b0, b1, b2, b3 := uint32(block+1), uint32((block+1)>>32), c2, c3
		k0, k1 := key0, key1
		for r := 0; r < 10; r++ {
			// bits.Mul32 spelled as one 64-bit product each.
			p0, p1 := uint64(m0)*uint64(a0), uint64(m1)*uint64(a2)
			q0, q1 := uint64(m0)*uint64(b0), uint64(m1)*uint64(b2)
			a0, a1, a2, a3 = uint32(p1>>32)^a1^k0, uint32(p1), uint32(p0>>32)^a3^k1, uint32(p0)
			b0, b1, b2, b3 = uint32(q1>>32)^b1^k0, uint32(q1), uint32(q0>>32)^b3^k1, uint32(q0)
			k0 += w0
			k1 += w1
		}
		k := keep[j : j+8 : j+8]
		k[0] = rng.ToUniform(a0) >= ratio
		k[1] = rng.ToUniform(a1) >= ratio
		k[2] = rng.ToUniform(a2) >= ratio
		k[3] = rng.ToUniform(a3) >= ratio
		k[4] = rng.ToUniform(b0) >= ratio
		k[5] = rng.ToUniform(b1) >= ratio
		k[6] = rng.ToUniform(b2) >= ratio
		k[7] = rng.ToUniform(b3) >= ratio
	}
	for ; j < len(keep); j, block = j+4, block+1 {
		x0, x1, x2, x3 := uint32(block), uint32(block>>32), c2, c3
		k0, k1 := key0, key1
		for r := 0; r < 10; r++ {
			p0, p1 := uint64(m0)*uint64(x0), uint64(m1)*uint64(x2)
			x0, x1, x2, x3 = uint32(p1>>32)^x1^k0, uint32(p1), uint32(p0>>32)^x3^k1, uint32(p0)
			k0 += w0
			k1 += w1
		}
		w := [4]uint32{x0, x1, x2, x3}
		for i := 0; i < 4 && j+i < len(keep); i++ {
			keep[j+i] = rng.ToUniform(w[i]) >= ratio
		}
	}
}

// dropoutChunk is how many mask entries a Dropout kernel draws at a time
// into a stack buffer before applying them (a multiple of 4, so chunks
// start on Philox blocks).
const dropoutChunk = 1024

// parallelBlocks4 runs fn over [0, n) split on multiples of 4, so that
// every piece starts on a Philox block whatever the thread count; work is
// the cost estimate parallelFor takes.
func parallelBlocks4(ctx *Ctx, n, work int, fn func(lo, hi int)) {
	parallelFor(ctx, (n+3)/4, work, func(b0, b1 int) {
		fn(4*b0, min(4*b1, n))
	})
}

// applyDropout writes out[i] = x[i]*s where the mask rule keeps element i
// and +0 where it drops it (even where x is NaN or Inf, as the scalar
// kernels always did). When mask is non-nil the keep decisions are stored
// there too. Both the assembly and the Go path draw rng's exact bits and
// multiply once, so the result is the same on either path and for any
// thread count.
func applyDropout[T float](ctx *Ctx, x, out []T, mask []bool, s T, seed, step, stream uint64, ratio float32) {
	parallelBlocks4(ctx, len(x), len(x)*8, func(lo, hi int) {
		if o32, ok := any(out).([]float32); ok && (useAVX512 || useAVX2) {
			x32, s32 := any(x).([]float32), any(s).(float32)
			v := (hi - lo) &^ 15 // whole 16-element groups
			if v > 0 && dropoutSIMD(o32[lo:lo+v], x32[lo:lo+v], mask, seed, step, stream, lo, ratio, s32) {
				lo += v
			}
		}
		var buf [dropoutChunk]bool
		for c := lo; c < hi; c += dropoutChunk {
			e := min(c+dropoutChunk, hi)
			keep := buf[:e-c]
			if mask != nil {
				keep = mask[c:e]
			}
			dropoutKeep(keep, seed, step, stream, c, ratio)
			scaleKept(out[c:e], x[c:e], keep, s)
		}
	})
}

// philoxVecs are dropoutAVX512's (and dropoutAVX2's) vector operands: the counters of four
// consecutive blocks (one per 128-bit lane), the multipliers, the counter
// increment per 16 elements, and the ten round keys.
type philoxVecs struct {
	ctr, mul, step [16]uint32
	keys           [10][16]uint32
}

// dropoutSIMD runs dropoutAVX512 (or dropoutAVX2) over out/x (a multiple of 16 long),
// whose first element has flat index lo; mask, when non-nil, is the whole
// tensor's. It reports false, doing nothing, when the blocks would carry
// into the high counter word (which the assembly does not propagate): a
// tensor of 2^34 elements or more.
func dropoutSIMD(out, x []float32, mask []bool, seed, step, stream uint64, lo int, ratio, s float32) bool {
	b0, b1 := uint64(lo/4), uint64((lo+len(out))/4-1)
	if b0>>32 != b1>>32 {
		return false
	}
	var v philoxVecs
	c2 := uint32(step) ^ uint32(step>>32)
	c3 := uint32(stream) ^ uint32(stream>>32)
	for g := 0; g < 4; g++ {
		b := b0 + uint64(g)
		copy(v.ctr[4*g:], []uint32{uint32(b), uint32(b >> 32), c2, c3})
		copy(v.mul[4*g:], []uint32{0xD2511F53, 0, 0xCD9E8D57, 0})
		v.step[4*g] = 4
		k0, k1 := uint32(seed), uint32(seed>>32)
		for r := range v.keys {
			v.keys[r][4*g], v.keys[r][4*g+2] = k0, k1
			k0 += 0x9E3779B9
			k1 += 0xBB67AE85
		}
	}
	var mp *bool
	if mask != nil {
		mp = &mask[lo]
	}
	if useAVX512 {
		dropoutAVX512(&out[0], &x[0], mp, len(out), &v, ratio, s)
	} else {
		dropoutAVX2(&out[0], &x[0], mp, len(out), &v, ratio, s)
	}
	return true
}

// scaleKept sets out[i] = x[i]*s where keep[i], else +0, without a branch
// (a 10% drop rate is a mispredicted branch every ten elements): the
// product's bits are ANDed with all-ones or zero.
func scaleKept[T float](out, x []T, keep []bool, s T) {
	x, keep = x[:len(out)], keep[:len(out)]
	switch o := any(out).(type) {
	case []float32:
		xs, s := any(x).([]float32), any(s).(float32)
		for i, k := range keep {
			o[i] = math.Float32frombits(math.Float32bits(xs[i]*s) & -uint32(b2u(k)))
		}
	case []float64:
		xs, s := any(x).([]float64), any(s).(float64)
		for i, k := range keep {
			o[i] = math.Float64frombits(math.Float64bits(xs[i]*s) & -uint64(b2u(k)))
		}
	}
}

// b2u is 1 for true, 0 for false (compiled to a byte load, no branch).
func b2u(b bool) uint32 {
	var u uint32
	if b {
		u = 1
	}
	return u
}
