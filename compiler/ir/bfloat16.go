package ir

import "math"

// bfloat16 is the top half of an IEEE float32: the same 8-bit exponent
// (so the same range, no overflow when narrowing a finite float32 below
// 2^128·(1−2^-9)) and 7 stored mantissa bits, a relative rounding error
// of at most 2^-9 ≈ 0.2 %. That is why backward can read activations kept
// in it: every value keeps its magnitude, only the low mantissa bits go.

// BF16FromFloat32 rounds f to the nearest bfloat16, ties to even, with
// exactly the bits AVX-512 BF16's VCVTNEPS2BF16 gives, so the assembly and
// the pure-Go path agree: a NaN stays a NaN (made quiet, sign and top
// payload kept: rounding must not carry it into an infinity); a float32
// subnormal becomes a zero of its sign (the instruction treats denormal
// inputs as zero; they are below 1.2e-38, far under anything an activation
// that matters holds); a finite value past the largest bfloat16 rounds to
// an infinity.
func BF16FromFloat32(f float32) uint16 {
	b := math.Float32bits(f)
	switch a := b & 0x7fffffff; {
	case a > 0x7f800000: // NaN
		return uint16(b>>16) | 0x0040
	case a < 0x00800000: // zero or subnormal
		return uint16(b>>16) & 0x8000
	}
	b += 0x7fff + (b>>16)&1
	return uint16(b >> 16)
}

// BF16ToFloat32 widens a bfloat16 exactly.
func BF16ToFloat32(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// BF16At is element i of bfloat16 data packed in words (see BFloat16).
func BF16At(words []int32, i int) uint16 { return uint16(uint32(words[i/2]) >> (16 * uint(i&1))) }

// SetBF16 stores h as element i of packed bfloat16 words.
func SetBF16(words []int32, i int, h uint16) {
	w := uint32(words[i/2])
	shift := 16 * uint(i&1)
	w = w&^(0xffff<<shift) | uint32(h)<<shift
	words[i/2] = int32(w)
}
