package gpu

import (
	"math"

	"crsc/compiler/ir"
)

// bf16Inputs are n float32s for the bfloat16 Cast cases: the values whose
// rounding is easy to get wrong (ties both ways, a carry into the
// exponent, overflow to Inf, NaNs that must stay NaN, subnormals that
// flush to a signed zero), then random bit patterns and ordinary values.
func bf16Inputs(seed uint64, n int) *ir.Tensor {
	special := []uint32{0x3f808000, 0x3f818000, 0x3fffffff, 0x7f7fffff, 0x7f800000, 0xff800000,
		0x7f800001, 0xffa5a5a5, 0x00000000, 0x80000000, 0x007fffff, 0x80400000, 0x00800000}
	r := caseRand(seed)
	t := ir.NewTensor(ir.Float32, n)
	for i := range t.F32 {
		switch {
		case i < len(special):
			t.F32[i] = math.Float32frombits(special[i])
		case i%2 == 0:
			t.F32[i] = math.Float32frombits(r.Uint32())
		default:
			t.F32[i] = float32(r.NormFloat64())
		}
	}
	return t
}

// toBF16 is x rounded to bfloat16 (packed, ir.BFloat16).
func toBF16(x *ir.Tensor) *ir.Tensor {
	t := ir.NewTensor(ir.BFloat16, x.Shape...)
	for i, v := range x.F32 {
		ir.SetBF16(t.I32, i, ir.BF16FromFloat32(v))
	}
	return t
}
