package ir

// 8-bit rows: each row of a float32 tensor (its last axis) kept as signed
// 8-bit codes c = round(x / s), s = max|x| / 127 over the row, so that
// x ≈ c·s with an absolute error of at most s/2 = max|x|/254 per element
// (plus float32 rounding):
// what an activation needs for the weight gradient it feeds (a sum over
// many rows, in which the independent rounding errors average out), at a
// quarter of float32's memory plus one float32 per row.

// Int8RowsScale returns the scale s = maxAbs/127 of a row whose largest
// magnitude is maxAbs, and the factor inv = 127/maxAbs that codes it (both
// 0 for an all-zero row, whose codes are then 0 and decode to 0). A row
// holding a NaN must pass maxAbs = NaN (the scale is then NaN and the whole
// row decodes to NaN, never to a silent finite value); an infinity gives
// s = Inf, inv = 0, codes 0, and the row decodes to NaN (0·Inf) likewise.
// Both are float32 divisions, so every backend gets the same bits.
func Int8RowsScale(maxAbs float32) (s, inv float32) {
	if maxAbs == 0 {
		return 0, 0
	}
	return maxAbs / 127, 127 / maxAbs
}

// Int8RowsCode is x's code: float32(x·inv) rounded to the nearest integer,
// ties to even, clamped to ±127 (a NaN product gives 0; the scale carries
// the NaN). The product is rounded to float32 first, as the CUDA kernel's
// __fmul_rn does, so the two agree bit for bit; adding and taking away
// 1.5·2^23 rounds a float32 below 2^22 to an integer in the current
// (nearest-even) mode, without a call.
func Int8RowsCode(x, inv float32) int8 {
	const roundMagic = 1.5 * (1 << 23)
	q := float32(x * inv)
	switch {
	case q != q:
		return 0
	case q > 127:
		q = 127
	case q < -127:
		q = -127
	}
	return int8(float32(q+roundMagic) - roundMagic)
}

// Int8RowsValue decodes code c of a row with scale s.
func Int8RowsValue(c int8, s float32) float32 { return float32(c) * s }

// Int8RowsAt is code i of 8-bit data packed in words (see Int8Rows).
func Int8RowsAt(words []int32, i int) int8 { return int8(uint32(words[i/4]) >> (8 * uint(i&3))) }

// SetInt8Rows stores code c as element i of packed 8-bit words.
func SetInt8Rows(words []int32, i int, c int8) {
	w := uint32(words[i/4])
	shift := 8 * uint(i&3)
	w = w&^(0xff<<shift) | uint32(uint8(c))<<shift
	words[i/4] = int32(w)
}
