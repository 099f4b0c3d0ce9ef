package ir

import "math"

// 8-bit rows: each row of a float32 tensor (its last axis) kept as signed
// 8-bit codes c = round(x / s), s = max|x| / 127 over the row, so that
// x ≈ c·s with an absolute error of at most s/2 = max|x|/254 per element:
// what an activation needs for the weight gradient it feeds (a sum over
// many rows, in which the independent rounding errors average out), at a
// quarter of float32's memory plus one float32 per row.

// Int8RowsScale is the scale a row whose largest magnitude is maxAbs gets:
// 0 for an all-zero row (its codes are then 0 and decode to 0). A NaN or
// an infinity in the row makes the scale NaN or Inf, so that the decoded
// row is non-finite too instead of silently finite.
func Int8RowsScale(maxAbs float32) float32 { return maxAbs / 127 }

// Int8RowsCode is x's code under scale s (inverse inv = 1/s, 0 when s is
// 0): rounded to the nearest integer, ties to even, clamped to ±127.
func Int8RowsCode(x, inv float32) int8 {
	q := math.RoundToEven(float64(x * inv))
	switch {
	case q > 127:
		q = 127
	case q < -127:
		q = -127
	case q != q: // NaN: a code cannot say it; the scale does
		q = 0
	}
	return int8(q)
}

// Int8RowsAt is code i of 8-bit data packed in words (see Int8Rows).
func Int8RowsAt(words []int32, i int) int8 { return int8(uint32(words[i/4]) >> (8 * uint(i&3))) }

// SetInt8Rows stores code c as element i of packed 8-bit words.
func SetInt8Rows(words []int32, i int, c int8) {
	w := uint32(words[i/4])
	shift := 8 * uint(i&3)
	w = w&^(0xff<<shift) | uint32(uint8(c))<<shift
	words[i/4] = int32(w)
}
