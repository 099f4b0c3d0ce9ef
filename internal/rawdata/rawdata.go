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
