package cpu

import (
	"math"

	"crsc/compiler/ir"
)

// castKernel: "to" is the ONNX TensorProto.DataType number. Float to
// integer truncates toward zero; int8/uint8 wrap; float16 rounds to the
// nearest half (kept widened in F32); bfloat16 rounds to nearest even
// (packed, see ir.BFloat16).
func castKernel(ctx *Ctx, n *ir.Node, ins []*ir.Tensor) ([]*ir.Tensor, error) {
	if err := required(n, ins, 1); err != nil {
		return nil, err
	}
	if err := checkData(n, ins[0]); err != nil {
		return nil, err
	}
	to, ok := ir.DTypeFromONNX(n.Attrs.Int("to", 0))
	if !ok {
		return nil, errf(n, "unsupported target type %d", n.Attrs.Int("to", 0))
	}
	return []*ir.Tensor{ctx.convert(ins[0], to)}, nil
}

func castLikeKernel(ctx *Ctx, n *ir.Node, ins []*ir.Tensor) ([]*ir.Tensor, error) {
	if err := required(n, ins, 2); err != nil {
		return nil, err
	}
	if err := checkData(n, ins[0]); err != nil {
		return nil, err
	}
	return []*ir.Tensor{ctx.convert(ins[0], ins[1].DType)}, nil
}

// convert returns a copy of t with dtype to, on the Go heap: for
// temporaries. Kernel outputs use ctx.convert.
func convert(t *ir.Tensor, to ir.DType) *ir.Tensor {
	if t.DType == ir.BFloat16 || to == ir.BFloat16 {
		var heap *Ctx
		return heap.convertBF16(t, to)
	}
	return convertInto(newTensor(to, t.Shape), t)
}

// convert returns a copy of t with dtype to, allocated as a kernel output.
func (ctx *Ctx) convert(t *ir.Tensor, to ir.DType) *ir.Tensor {
	if t.DType == ir.BFloat16 || to == ir.BFloat16 {
		return ctx.convertBF16(t, to)
	}
	return convertInto(ctx.newTensor(to, t.Shape), t)
}

// convertBF16 is convert where t or the result is bfloat16. The packed
// words are asked for as the Int32 tensor they are stored in, which is
// how the memory plan lays a bfloat16 value out (memplan.Slot), and every
// element is overwritten, so the slot is not cleared first. Other types go
// through float32: float64 rounds twice (to float32, then to bfloat16),
// which only a value within 2^-30 relative of a bfloat16 tie can notice.
func (ctx *Ctx) convertBF16(t *ir.Tensor, to ir.DType) *ir.Tensor {
	n := t.Len()
	if to == ir.BFloat16 {
		words := ctx.newUninitTensor(ir.Int32, []int{to.StorageLen(n)})
		switch {
		case t.DType == ir.BFloat16:
			copy(words.I32, t.I32)
		case storage(t.DType) == ir.Float32:
			packBF16(ctx, words.I32, t.F32)
		default:
			packBF16(ctx, words.I32, convert(t, ir.Float32).F32)
		}
		return &ir.Tensor{DType: ir.BFloat16, Shape: append([]int{}, t.Shape...), I32: words.I32}
	}
	if storage(to) == ir.Float32 {
		out := ctx.newUninitTensor(to, t.Shape)
		unpackBF16(ctx, out.F32, t.I32)
		narrow(out, ir.Float32)
		return out
	}
	wide := ir.NewTensor(ir.Float32, t.Shape...)
	unpackBF16(ctx, wide.F32, t.I32)
	return ctx.convert(wide, to)
}

// clone returns a copy of t allocated as a kernel output (what t.Clone()
// would give, but placeable by a memory plan).
func (ctx *Ctx) clone(t *ir.Tensor) *ir.Tensor { return ctx.convert(t, t.DType) }

// convertInto fills out (zeroed, of t's shape) with t's elements converted
// to out's dtype, and returns it. Neither may be bfloat16 (convertBF16).
func convertInto(out, t *ir.Tensor) *ir.Tensor {
	to := out.DType
	nElem := t.Len()
	if storage(t.DType) == storage(to) {
		switch storage(to) {
		case ir.Float32:
			copy(out.F32, t.F32)
		case ir.Float64:
			copy(out.F64, t.F64)
		case ir.Int64:
			copy(out.I64, t.I64)
		case ir.Int32:
			copy(out.I32, t.I32)
		case ir.Bool:
			copy(out.Bool, t.Bool)
		}
		narrow(out, t.DType)
		return out
	}
	// Go through float64 for floats, int64 for integers, so no value is
	// rounded twice.
	switch storage(t.DType) {
	case ir.Float32, ir.Float64:
		for i := 0; i < nElem; i++ {
			v := t.Float64At(i)
			switch storage(to) {
			case ir.Float32:
				out.F32[i] = float32(v)
			case ir.Float64:
				out.F64[i] = v
			case ir.Int64:
				out.I64[i] = int64(v)
			case ir.Int32:
				out.I32[i] = int32(int64(v))
			case ir.Bool:
				out.Bool[i] = v != 0
			}
		}
	default:
		var iv []int64
		if t.DType == ir.Bool {
			iv = make([]int64, nElem)
			for i, b := range t.Bool {
				if b {
					iv[i] = 1
				}
			}
		} else {
			iv = t.Int64s()
		}
		for i, v := range iv {
			switch storage(to) {
			case ir.Float32:
				out.F32[i] = float32(v)
			case ir.Float64:
				out.F64[i] = float64(v)
			case ir.Int64:
				out.I64[i] = v
			case ir.Int32:
				out.I32[i] = int32(v)
			case ir.Bool:
				out.Bool[i] = v != 0
			}
		}
	}
	narrow(out, ir.Invalid)
	return out
}

// narrow rounds values stored widened (float16 in F32, int8/uint8 in I32)
// to what the declared dtype can hold; from is the source dtype, and
// nothing is done when it already was that type.
func narrow(t *ir.Tensor, from ir.DType) {
	if from == t.DType {
		return
	}
	switch t.DType {
	case ir.Float16:
		for i, v := range t.F32 {
			t.F32[i] = roundHalf(v)
		}
	case ir.Int8:
		for i, v := range t.I32 {
			t.I32[i] = int32(int8(v))
		}
	case ir.Uint8:
		for i, v := range t.I32 {
			t.I32[i] = int32(uint8(v))
		}
	}
}

// roundHalf rounds f to the nearest IEEE binary16 value (ties to even),
// returned widened to float32.
func roundHalf(f float32) float32 {
	x := float64(f)
	a := math.Abs(x)
	switch {
	case math.IsNaN(x) || math.IsInf(x, 0) || a == 0:
		return f
	case a >= 65520: // rounds past the largest half, 65504
		return float32(math.Copysign(math.Inf(1), x))
	}
	quantum := math.Ldexp(1, -24) // subnormal half spacing
	if a >= math.Ldexp(1, -14) {
		_, e := math.Frexp(a) // a = m·2^e, m in [0.5, 1)
		quantum = math.Ldexp(1, e-11)
	}
	return float32(math.RoundToEven(x/quantum) * quantum)
}

// toFloat64 returns t converted to float64 (t itself when it already is).
func toFloat64(t *ir.Tensor) *ir.Tensor {
	if t.DType == ir.Float64 {
		return t
	}
	return convert(t, ir.Float64)
}
