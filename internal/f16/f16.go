// Package f16 converts between float32 and IEEE 754 binary16, the one
// implementation the ONNX importer, the checkpoint format and the .npy
// reader share (crsc computes in float32 and widens halves on import).
package f16

import "math"

// FromFloat32 rounds f to the nearest IEEE binary16 value (ties to even),
// as numpy and PyTorch do, keeping the top of a NaN payload.
func FromFloat32(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int(b>>23) & 0xff
	mant := b & 0x7fffff
	if exp == 0xff {
		if mant == 0 {
			return sign | 0x7c00 // ±Inf
		}
		h := uint16(mant >> 13)
		if h == 0 {
			h = 0x200 // payload lost in the low bits: keep it a NaN
		}
		return sign | 0x7c00 | h
	}
	e := exp - 127 + 15 // rebias
	if e >= 0x1f {
		return sign | 0x7c00 // too large: Inf
	}
	if e <= 0 {
		// Subnormal half (or zero): value = mant·2⁻²⁴, so shift the full
		// 24-bit significand right by 14 − e.
		if e < -10 {
			return sign // below half the smallest subnormal
		}
		mant |= 0x800000
		shift := uint(14 - e)
		h := mant >> shift
		rem, halfway := mant&(1<<shift-1), uint32(1)<<(shift-1)
		if rem > halfway || (rem == halfway && h&1 == 1) {
			h++ // may carry into the smallest normal, which is correct
		}
		return sign | uint16(h)
	}
	h := uint32(e)<<10 | mant>>13
	rem := mant & 0x1fff
	if rem > 0x1000 || (rem == 0x1000 && h&1 == 1) {
		h++ // a carry out of the mantissa bumps the exponent, up to Inf
	}
	return sign | uint16(h)
}

// ToFloat32 widens an IEEE binary16 value exactly.
func ToFloat32(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h & 0x3ff)
	switch {
	case exp == 0:
		f := float32(mant) / (1 << 24) // zero or subnormal; exact
		if sign != 0 {
			f = -f
		}
		return f
	case exp == 0x1f:
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	}
	return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
}
