package rawdata

import (
	"encoding/binary"
	"math"

	"crsc/compiler/ir"
	"crsc/internal/f16"
)

// Decode fills t's elements from raw, which holds at least t.Len() elements
// of t's dtype, little-endian (a Bool is true for any nonzero byte). The
// caller checks the length; a dtype with no byte form here is left as is.
func Decode(t *ir.Tensor, raw []byte) {
	le := binary.LittleEndian
	switch t.DType {
	case ir.Float32:
		for i := range t.F32 {
			t.F32[i] = math.Float32frombits(le.Uint32(raw[4*i:]))
		}
	case ir.Float16:
		for i := range t.F32 {
			t.F32[i] = f16.ToFloat32(le.Uint16(raw[2*i:]))
		}
	case ir.Float64:
		for i := range t.F64 {
			t.F64[i] = math.Float64frombits(le.Uint64(raw[8*i:]))
		}
	case ir.Int64:
		for i := range t.I64 {
			t.I64[i] = int64(le.Uint64(raw[8*i:]))
		}
	case ir.Int32:
		for i := range t.I32 {
			t.I32[i] = int32(le.Uint32(raw[4*i:]))
		}
	case ir.Int8:
		for i := range t.I32 {
			t.I32[i] = int32(int8(raw[i]))
		}
	case ir.Uint8:
		for i := range t.I32 {
			t.I32[i] = int32(raw[i])
		}
	case ir.Bool:
		for i := range t.Bool {
			t.Bool[i] = raw[i] != 0
		}
	case ir.BFloat16:
		for i := range t.Len() {
			ir.SetBF16(t.I32, i, le.Uint16(raw[2*i:]))
		}
	}
}

// Append appends elements [lo, hi) of t to dst in the form Decode reads:
// little-endian in t's dtype, a Bool as 0 or 1. An 8-bit integer (held as
// int32) keeps its low byte; writers that refuse a value outside the
// dtype's range check OutOfRange first. A dtype with no byte form here
// appends nothing.
func Append(dst []byte, t *ir.Tensor, lo, hi int) []byte {
	le := binary.LittleEndian
	switch t.DType {
	case ir.Float32:
		for _, v := range t.F32[lo:hi] {
			dst = le.AppendUint32(dst, math.Float32bits(v))
		}
	case ir.Float16:
		for _, v := range t.F32[lo:hi] {
			dst = le.AppendUint16(dst, f16.FromFloat32(v))
		}
	case ir.Float64:
		for _, v := range t.F64[lo:hi] {
			dst = le.AppendUint64(dst, math.Float64bits(v))
		}
	case ir.Int64:
		for _, v := range t.I64[lo:hi] {
			dst = le.AppendUint64(dst, uint64(v))
		}
	case ir.Int32:
		for _, v := range t.I32[lo:hi] {
			dst = le.AppendUint32(dst, uint32(v))
		}
	case ir.Int8, ir.Uint8:
		for _, v := range t.I32[lo:hi] {
			dst = append(dst, byte(v))
		}
	case ir.Bool:
		for _, v := range t.Bool[lo:hi] {
			b := byte(0)
			if v {
				b = 1
			}
			dst = append(dst, b)
		}
	case ir.BFloat16:
		for i := lo; i < hi; i++ {
			dst = le.AppendUint16(dst, ir.BF16At(t.I32, i))
		}
	}
	return dst
}

// OutOfRange returns the index of the first element of an 8-bit integer
// tensor outside its dtype's range (Append would wrap it), or -1 when
// there is none or t has another dtype.
func OutOfRange(t *ir.Tensor) int {
	lo, hi := int32(math.MinInt8), int32(math.MaxInt8)
	switch t.DType {
	case ir.Int8:
	case ir.Uint8:
		lo, hi = 0, math.MaxUint8
	default:
		return -1
	}
	for i, v := range t.I32 {
		if v < lo || v > hi {
			return i
		}
	}
	return -1
}
