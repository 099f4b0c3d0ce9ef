package cpu

import (
	"math"

	"crsc/compiler/ir"
)

// ---- Unary ----

type unaryOp int

const (
	opAbs unaryOp = iota
	opCeil
	opFloor
	opExp
	opLog
	opSqrt
	opReciprocal
	opNeg
	opSign
	opRelu
	opSigmoid
	opTanh
	opErf
	opRound
	opSin
	opCos
	opSoftplus
)

// unaryFloat is the float64 definition of each op; float32 tensors are
// computed through it (or through the float32 fast path in unaryF32) so the
// two precisions agree.
func unaryFloat(op unaryOp) func(float64) float64 {
	switch op {
	case opAbs:
		return math.Abs
	case opCeil:
		return math.Ceil
	case opFloor:
		return math.Floor
	case opExp:
		return math.Exp
	case opLog:
		return math.Log
	case opSqrt:
		return math.Sqrt
	case opReciprocal:
		return func(x float64) float64 { return 1 / x }
	case opNeg:
		return neg[float64]
	case opSign:
		return sign[float64]
	case opRelu:
		return relu[float64]
	case opSigmoid:
		return sigmoid
	case opTanh:
		return math.Tanh
	case opErf:
		return math.Erf
	case opRound:
		return math.RoundToEven // ONNX rounds halves to even
	case opSin:
		return math.Sin
	case opCos:
		return math.Cos
	case opSoftplus:
		return func(x float64) float64 {
			if x > 30 { // log1p(exp(x)) == x in float precision; avoids overflow
				return x
			}
			return math.Log1p(math.Exp(x))
		}
	}
	return nil
}

// sigmoid is evaluated on the side that cannot overflow exp.
func sigmoid(x float64) float64 {
	if x >= 0 {
		return 1 / (1 + math.Exp(-x))
	}
	e := math.Exp(x)
	return e / (1 + e)
}

// unaryF32 gives direct float32 loops for ops that need no transcendental.
func unaryF32(op unaryOp, dst, x []float32) bool {
	x = x[:len(dst)]
	switch op {
	case opNeg:
		for i, v := range x {
			dst[i] = -v
		}
	case opRelu:
		for i, v := range x {
			dst[i] = max(v, 0)
		}
	case opAbs:
		for i, v := range x {
			dst[i] = float32(math.Abs(float64(v)))
		}
	case opReciprocal:
		for i, v := range x {
			dst[i] = 1 / v
		}
	case opSqrt:
		for i, v := range x {
			dst[i] = float32(math.Sqrt(float64(v)))
		}
	case opErf:
		for i, v := range x {
			dst[i] = erf32(v)
		}
	case opExp:
		for i, v := range x {
			dst[i] = exp32(v)
		}
	case opTanh:
		for i, v := range x {
			dst[i] = tanh32(v)
		}
	default:
		return false
	}
	return true
}

// neg, sign and relu are Neg, Sign and Relu for floats and integers alike.
func neg[T num](x T) T { return -x }

func relu[T num](x T) T { return max(x, 0) }

func sign[T num](x T) T {
	switch {
	case x > 0:
		return 1
	case x < 0:
		return -1
	}
	return x // keeps 0 (and a float's -0 and NaN)
}

// unaryInt defines the ops that ONNX allows on integers.
func unaryInt[T int64 | int32](op unaryOp) func(T) T {
	switch op {
	case opAbs:
		return func(x T) T {
			if x < 0 {
				return -x
			}
			return x
		}
	case opNeg:
		return neg[T]
	case opSign:
		return sign[T]
	case opRelu:
		return relu[T]
	case opCeil, opFloor, opRound:
		return func(x T) T { return x }
	}
	return nil
}

func unaryKernel(op unaryOp) Kernel {
	f := unaryFloat(op)
	return func(ctx *Ctx, n *ir.Node, ins []*ir.Tensor) ([]*ir.Tensor, error) {
		x, err := dataInput(n, ins)
		if err != nil {
			return nil, err
		}
		out := ctx.newTensor(x.DType, x.Shape)
		switch storage(x.DType) {
		case ir.Float32:
			src, dst := x.F32, out.F32
			parallelFor(ctx, len(dst), len(dst), func(lo, hi int) {
				if unaryF32(op, dst[lo:hi], src[lo:hi]) {
					return
				}
				for i := lo; i < hi; i++ {
					dst[i] = float32(f(float64(src[i])))
				}
			})
		case ir.Float64:
			mapSlice(ctx, out.F64, x.F64, f)
		case ir.Int64:
			g := unaryInt[int64](op)
			if g == nil {
				return nil, errf(n, "unsupported dtype %v", x.DType)
			}
			mapSlice(ctx, out.I64, x.I64, g)
		case ir.Int32:
			g := unaryInt[int32](op)
			if g == nil {
				return nil, errf(n, "unsupported dtype %v", x.DType)
			}
			mapSlice(ctx, out.I32, x.I32, g)
		default:
			return nil, errf(n, "unsupported dtype %v", x.DType)
		}
		return []*ir.Tensor{out}, nil
	}
}

// mapSlice sets dst[i] = f(src[i]) in parallel chunks.
func mapSlice[T, U elem](ctx *Ctx, dst []U, src []T, f func(T) U) {
	parallelFor(ctx, len(dst), len(dst), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			dst[i] = f(src[i])
		}
	})
}

// floatUnary runs a float64 function over a float tensor, for the
// attribute-carrying activations.
func floatUnary(ctx *Ctx, n *ir.Node, ins []*ir.Tensor, f func(float64) float64) ([]*ir.Tensor, error) {
	x, err := dataInput(n, ins)
	if err != nil {
		return nil, err
	}
	out := ctx.newTensor(x.DType, x.Shape)
	switch storage(x.DType) {
	case ir.Float32:
		mapSlice(ctx, out.F32, x.F32, func(v float32) float32 { return float32(f(float64(v))) })
	case ir.Float64:
		mapSlice(ctx, out.F64, x.F64, f)
	default:
		return nil, errf(n, "unsupported dtype %v (want float)", x.DType)
	}
	return []*ir.Tensor{out}, nil
}

const sqrt2OverPi = 0.7978845608028654

// geluKernel implements Gelu (ONNX opset 20, and com.microsoft's exact
// form): approximate "none" uses erf, "tanh" the tanh approximation.
func geluKernel(ctx *Ctx, n *ir.Node, ins []*ir.Tensor) ([]*ir.Tensor, error) {
	var row func(out, x []float32)
	var scalar func(x float64) float64
	switch approx := n.Attrs.String("approximate", "none"); approx {
	case "none":
		row = geluErf
		scalar = func(x float64) float64 { return 0.5 * x * (1 + math.Erf(x/math.Sqrt2)) }
	case "tanh":
		row = geluTanh
		scalar = func(x float64) float64 { return 0.5 * x * (1 + math.Tanh(sqrt2OverPi*(x+0.044715*x*x*x))) }
	default:
		return nil, errf(n, "unknown approximate %q", approx)
	}
	if len(ins) == 0 || ins[0] == nil || ins[0].DType != ir.Float32 {
		return floatUnary(ctx, n, ins, scalar)
	}
	if err := checkData(n, ins[0]); err != nil {
		return nil, err
	}
	out := ctx.newUninitTensor(ir.Float32, ins[0].Shape) // geluErf/geluTanh write every element
	x := ins[0].F32
	// Work ×8: an erf costs about that many adds, and a 32K-element tensor
	// is worth both threads.
	parallelFor(ctx, len(x), 8*len(x), func(lo, hi int) { row(out.F32[lo:hi], x[lo:hi]) })
	return []*ir.Tensor{out}, nil
}

func leakyReluKernel(ctx *Ctx, n *ir.Node, ins []*ir.Tensor) ([]*ir.Tensor, error) {
	alpha := float64(n.Attrs.Float("alpha", 0.01))
	return floatUnary(ctx, n, ins, func(x float64) float64 {
		if x < 0 {
			return alpha * x
		}
		return x
	})
}

func eluKernel(ctx *Ctx, n *ir.Node, ins []*ir.Tensor) ([]*ir.Tensor, error) {
	alpha := float64(n.Attrs.Float("alpha", 1))
	return floatUnary(ctx, n, ins, func(x float64) float64 {
		if x < 0 {
			return alpha * (math.Exp(x) - 1)
		}
		return x
	})
}

func hardSigmoidKernel(ctx *Ctx, n *ir.Node, ins []*ir.Tensor) ([]*ir.Tensor, error) {
	alpha := float64(n.Attrs.Float("alpha", 0.2))
	beta := float64(n.Attrs.Float("beta", 0.5))
	return floatUnary(ctx, n, ins, func(x float64) float64 { return max(0, min(1, alpha*x+beta)) })
}

// clipKernel takes min/max from inputs 1 and 2 (opset 11+) or from the
// min/max attributes (opset 6); a missing bound is unbounded.
func clipKernel(ctx *Ctx, n *ir.Node, ins []*ir.Tensor) ([]*ir.Tensor, error) {
	if err := checkedInputs(n, ins, 1); err != nil {
		return nil, err
	}
	x := ins[0]
	bound := func(i int, attr string, def float64) (float64, error) {
		if t := in(ins, i); t != nil {
			if t.Len() != 1 {
				return 0, errf(n, "%s must be a scalar, got shape %v", attr, t.Shape)
			}
			if storage(t.DType) != storage(x.DType) {
				return 0, errf(n, "%s dtype %v differs from input dtype %v", attr, t.DType, x.DType)
			}
			return t.Float64At(0), nil
		}
		if n.Attrs.Has(attr) {
			return float64(n.Attrs.Float(attr, 0)), nil
		}
		return def, nil
	}
	lo, err := bound(1, "min", math.Inf(-1))
	if err != nil {
		return nil, err
	}
	hi, err := bound(2, "max", math.Inf(1))
	if err != nil {
		return nil, err
	}
	out := ctx.newTensor(x.DType, x.Shape)
	switch storage(x.DType) {
	case ir.Float32:
		l, h := float32(lo), float32(hi)
		mapSlice(ctx, out.F32, x.F32, func(v float32) float32 { return min(max(v, l), h) })
	case ir.Float64:
		mapSlice(ctx, out.F64, x.F64, func(v float64) float64 { return min(max(v, lo), hi) })
	case ir.Int64:
		l, h := clampInt64(lo), clampInt64(hi)
		mapSlice(ctx, out.I64, x.I64, func(v int64) int64 { return min(max(v, l), h) })
	case ir.Int32:
		l, h := int32(max(lo, math.MinInt32)), int32(min(hi, math.MaxInt32))
		mapSlice(ctx, out.I32, x.I32, func(v int32) int32 { return min(max(v, l), h) })
	default:
		return nil, errf(n, "unsupported dtype %v", x.DType)
	}
	return []*ir.Tensor{out}, nil
}

func clampInt64(v float64) int64 {
	switch {
	case v <= math.MinInt64:
		return math.MinInt64
	case v >= math.MaxInt64:
		return math.MaxInt64
	}
	return int64(v)
}

// ---- Binary arithmetic ----

type binOp int

const (
	opAdd binOp = iota
	opSub
	opMul
	opDiv
	opMax
	opMin
)

func arith[T num](op binOp, x, y T) T {
	switch op {
	case opAdd:
		return x + y
	case opSub:
		return x - y
	case opMul:
		return x * y
	case opDiv:
		return x / y
	case opMax:
		if x > y || x != x { // NaN propagates
			return x
		}
		return y
	default:
		if x < y || x != x {
			return x
		}
		return y
	}
}

// exactReciprocal returns 1/y when multiplying by it rounds exactly as
// dividing by y does: y a float power of two, it and its reciprocal
// normal numbers (x/y and x·(1/y) are then the same real, rounded once).
// Integers never qualify.
func exactReciprocal[T num](y T) (T, bool) {
	var f float64
	var emax int // y = ±2^e with |e| ≤ emax: y and 1/y both normal
	switch v := any(y).(type) {
	case float32:
		f, emax = float64(v), 126
	case float64:
		f, emax = v, 1022
	default:
		return 0, false
	}
	frac, exp := math.Frexp(f) // f = frac·2^exp, |frac| in [0.5, 1)
	if e := exp - 1; math.Abs(frac) != 0.5 || e < -emax || e > emax {
		return 0, false
	}
	return T(1 / f), true
}

// arithRow computes one broadcast row. Add/Sub/Mul/Div get dedicated loops
// because they dominate transformer graphs; Max/Min go through arith.
func arithRow[T num](op binOp) func(o, a, b []T, sa, sb int) {
	return func(o, a, b []T, sa, sb int) {
		n := len(o)
		switch {
		case sa == 1 && sb == 1:
			a, b = a[:n], b[:n]
			switch op {
			case opAdd:
				for i := range o {
					o[i] = a[i] + b[i]
				}
			case opSub:
				for i := range o {
					o[i] = a[i] - b[i]
				}
			case opMul:
				for i := range o {
					o[i] = a[i] * b[i]
				}
			case opDiv:
				for i := range o {
					o[i] = a[i] / b[i]
				}
			default:
				for i := range o {
					o[i] = arith(op, a[i], b[i])
				}
			}
		case sa == 1: // b is a scalar along the row
			a, y := a[:n], b[0]
			switch op {
			case opAdd:
				for i := range o {
					o[i] = a[i] + y
				}
			case opSub:
				for i := range o {
					o[i] = a[i] - y
				}
			case opMul:
				for i := range o {
					o[i] = a[i] * y
				}
			case opDiv:
				// Attention divides its scores by √d_head, a power of
				// two for BERT and T5 heads: then x·(1/y) is x/y exactly
				// and a multiply is several times cheaper.
				if r, ok := exactReciprocal(y); ok {
					for i := range o {
						o[i] = a[i] * r
					}
					break
				}
				for i := range o {
					o[i] = a[i] / y
				}
			default:
				for i := range o {
					o[i] = arith(op, a[i], y)
				}
			}
		case sb == 1: // a is a scalar along the row
			x, b := a[0], b[:n]
			switch op {
			case opAdd:
				for i := range o {
					o[i] = x + b[i]
				}
			case opSub:
				for i := range o {
					o[i] = x - b[i]
				}
			case opMul:
				for i := range o {
					o[i] = x * b[i]
				}
			default:
				for i := range o {
					o[i] = arith(op, x, b[i])
				}
			}
		default:
			v := arith(op, a[0], b[0])
			for i := range o {
				o[i] = v
			}
		}
	}
}

// bcast2 runs a row function over the broadcast of a and b, into a new
// kernel output.
func bcast2[T, U elem](ctx *Ctx, n *ir.Node, a, b *ir.Tensor, outDT ir.DType, row func(o []U, a, b []T, sa, sb int)) (*ir.Tensor, error) {
	return bcast2To(ctx, n, a, b, ctx.newTensor, outDT, row)
}

// bcast2To is bcast2 with the result allocated by alloc.
func bcast2To[T, U elem](ctx *Ctx, n *ir.Node, a, b *ir.Tensor, alloc allocFunc, outDT ir.DType, row func(o []U, a, b []T, sa, sb int)) (*ir.Tensor, error) {
	shape, err := broadcastShape(n, a.Shape, b.Shape)
	if err != nil {
		return nil, err
	}
	out := alloc(outDT, shape)
	od, ad, bd := slice[U](out), slice[T](a), slice[T](b)
	p := planBroadcast(shape, a.Shape, b.Shape)
	sa, sb := p.inner[0], p.inner[1]
	p.run(ctx, func(o int, offs []int, cnt int) {
		row(od[o:o+cnt], ad[offs[0]:], bd[offs[1]:], sa, sb)
	})
	return out, nil
}

// sameType checks the operands of a binary op share a dtype, as ONNX
// requires (Pow excepted).
func sameType(n *ir.Node, a, b *ir.Tensor) error {
	if a.DType != b.DType {
		return errf(n, "operand dtypes differ: %v and %v", a.DType, b.DType)
	}
	return nil
}

// allocFunc allocates a zeroed tensor: ctx.newTensor for outputs,
// ctx.scratch for temporaries.
type allocFunc func(dt ir.DType, shape []int) *ir.Tensor

// binaryArith computes a op b into a tensor from alloc.
func binaryArith(ctx *Ctx, n *ir.Node, op binOp, a, b *ir.Tensor, alloc allocFunc) (*ir.Tensor, error) {
	if err := sameType(n, a, b); err != nil {
		return nil, err
	}
	switch storage(a.DType) {
	case ir.Float32:
		return bcast2To(ctx, n, a, b, alloc, a.DType, arithRow[float32](op))
	case ir.Float64:
		return bcast2To(ctx, n, a, b, alloc, a.DType, arithRow[float64](op))
	case ir.Int64:
		if op == opDiv && hasZero(b.I64) {
			return nil, errf(n, "integer division by zero")
		}
		return bcast2To(ctx, n, a, b, alloc, a.DType, arithRow[int64](op))
	case ir.Int32:
		if op == opDiv && hasZero(b.I32) {
			return nil, errf(n, "integer division by zero")
		}
		return bcast2To(ctx, n, a, b, alloc, a.DType, arithRow[int32](op))
	}
	return nil, errf(n, "unsupported dtype %v", a.DType)
}

func hasZero[T int64 | int32](x []T) bool {
	for _, v := range x {
		if v == 0 {
			return true
		}
	}
	return false
}

func binaryKernel(op binOp) Kernel {
	return func(ctx *Ctx, n *ir.Node, ins []*ir.Tensor) ([]*ir.Tensor, error) {
		if err := checkedInputs(n, ins, 2); err != nil {
			return nil, err
		}
		// Every element is written (bcast2To covers every row): an
		// output slot needs no clearing first.
		out, err := binaryArith(ctx, n, op, ins[0], ins[1], ctx.newUninitTensor)
		if err != nil {
			return nil, err
		}
		return []*ir.Tensor{out}, nil
	}
}

// variadicKernel folds Sum/Max/Min over any number of inputs, broadcasting
// at each step (broadcasting is associative, so the result shape is right).
func variadicKernel(op binOp) Kernel {
	return func(ctx *Ctx, n *ir.Node, ins []*ir.Tensor) ([]*ir.Tensor, error) {
		if err := allInputs(n, ins); err != nil {
			return nil, err
		}
		if len(ins) == 1 {
			return []*ir.Tensor{ctx.clone(ins[0])}, nil
		}
		// Partial results are scratch; only the last fold step allocates
		// the output, so a memory plan gets exactly one output tensor.
		acc := ins[0]
		for i, t := range ins[1:] {
			alloc := ctx.scratch
			if i == len(ins)-2 {
				alloc = ctx.newTensor
			}
			var err error
			if acc, err = binaryArith(ctx, n, op, acc, t, alloc); err != nil {
				return nil, err
			}
		}
		return []*ir.Tensor{acc}, nil
	}
}

func meanKernel(ctx *Ctx, n *ir.Node, ins []*ir.Tensor) ([]*ir.Tensor, error) {
	outs, err := variadicKernel(opAdd)(ctx, n, ins)
	if err != nil {
		return nil, err
	}
	s := outs[0]
	k := float64(len(ins))
	switch storage(s.DType) {
	case ir.Float32:
		for i := range s.F32 {
			s.F32[i] /= float32(k)
		}
	case ir.Float64:
		for i := range s.F64 {
			s.F64[i] /= k
		}
	default:
		return nil, errf(n, "unsupported dtype %v (want float)", s.DType)
	}
	return outs, nil
}

// modKernel: fmod=0 takes the divisor's sign (Python %), fmod=1 the
// dividend's (C fmod). Floats require fmod=1 in ONNX; fmod=0 on floats is
// given the Python meaning rather than rejected.
func modKernel(ctx *Ctx, n *ir.Node, ins []*ir.Tensor) ([]*ir.Tensor, error) {
	if err := checkedInputs(n, ins, 2); err != nil {
		return nil, err
	}
	a, b := ins[0], ins[1]
	if err := sameType(n, a, b); err != nil {
		return nil, err
	}
	cmod := n.Attrs.Int("fmod", 0) == 1
	var out *ir.Tensor
	var err error
	switch storage(a.DType) {
	case ir.Float32:
		out, err = bcast2(ctx, n, a, b, a.DType, elemRow(func(x, y float32) float32 { return float32(floatMod(float64(x), float64(y), cmod)) }))
	case ir.Float64:
		out, err = bcast2(ctx, n, a, b, a.DType, elemRow(func(x, y float64) float64 { return floatMod(x, y, cmod) }))
	case ir.Int64:
		if hasZero(b.I64) {
			return nil, errf(n, "integer modulo by zero")
		}
		out, err = bcast2(ctx, n, a, b, a.DType, elemRow(func(x, y int64) int64 { return intMod(x, y, cmod) }))
	case ir.Int32:
		if hasZero(b.I32) {
			return nil, errf(n, "integer modulo by zero")
		}
		out, err = bcast2(ctx, n, a, b, a.DType, elemRow(func(x, y int32) int32 { return intMod(x, y, cmod) }))
	default:
		return nil, errf(n, "unsupported dtype %v", a.DType)
	}
	if err != nil {
		return nil, err
	}
	return []*ir.Tensor{out}, nil
}

func floatMod(x, y float64, cmod bool) float64 {
	r := math.Mod(x, y)
	if !cmod && r != 0 && (r < 0) != (y < 0) {
		r += y
	}
	return r
}

func intMod[T int64 | int32](x, y T, cmod bool) T {
	r := x % y
	if !cmod && r != 0 && (r < 0) != (y < 0) {
		r += y
	}
	return r
}

// elemRow lifts a scalar function to a broadcast row.
func elemRow[T, U elem](f func(x, y T) U) func(o []U, a, b []T, sa, sb int) {
	return func(o []U, a, b []T, sa, sb int) {
		for i := range o {
			o[i] = f(a[i*sa], b[i*sb])
		}
	}
}

// powKernel: the result has the base's dtype; the exponent may be any
// numeric type. A scalar float exponent of 2, 0.5, 1, 3 or -1 avoids
// math.Pow (Pow(x, 2) appears in every exported LayerNorm).
func powKernel(ctx *Ctx, n *ir.Node, ins []*ir.Tensor) ([]*ir.Tensor, error) {
	if err := checkedInputs(n, ins, 2); err != nil {
		return nil, err
	}
	x, y := ins[0], ins[1]
	if !isNumeric(x.DType) || !isNumeric(y.DType) {
		return nil, errf(n, "unsupported dtypes %v, %v", x.DType, y.DType)
	}
	if storage(x.DType) == ir.Float32 && y.Len() == 1 && len(y.Shape) <= len(x.Shape) {
		e := y.Float64At(0)
		var f func(v float32) float32
		switch e {
		case 2:
			f = func(v float32) float32 { return v * v }
		case 3:
			f = func(v float32) float32 { return v * v * v }
		case 1:
			f = func(v float32) float32 { return v }
		case 0.5:
			f = func(v float32) float32 { return float32(math.Sqrt(float64(v))) }
		case -1:
			f = func(v float32) float32 { return 1 / v }
		default:
			f = func(v float32) float32 { return float32(math.Pow(float64(v), e)) }
		}
		shape, err := broadcastShape(n, x.Shape, y.Shape)
		if err != nil {
			return nil, err
		}
		out := ctx.newTensor(x.DType, shape)
		mapSlice(ctx, out.F32, x.F32, f)
		return []*ir.Tensor{out}, nil
	}
	// General path in float64, which is exact for float32 and for the
	// integer powers the conformance tests use.
	xf, yf := toFloat64(x), toFloat64(y)
	p, err := bcast2To(ctx, n, xf, yf, ctx.scratch, ir.Float64, elemRow(math.Pow))
	if err != nil {
		return nil, err
	}
	return []*ir.Tensor{ctx.convert(p, x.DType)}, nil
}

func isNumeric(dt ir.DType) bool {
	switch storage(dt) {
	case ir.Float32, ir.Float64, ir.Int64, ir.Int32:
		return true
	}
	return false
}

// ---- Comparison and logic ----

type cmpOp int

const (
	cmpEq cmpOp = iota
	cmpLt
	cmpGt
	cmpLe
	cmpGe
)

func cmpRow[T num](op cmpOp) func(o []bool, a, b []T, sa, sb int) {
	return func(o []bool, a, b []T, sa, sb int) {
		switch op {
		case cmpEq:
			for i := range o {
				o[i] = a[i*sa] == b[i*sb]
			}
		case cmpLt:
			for i := range o {
				o[i] = a[i*sa] < b[i*sb]
			}
		case cmpGt:
			for i := range o {
				o[i] = a[i*sa] > b[i*sb]
			}
		case cmpLe:
			for i := range o {
				o[i] = a[i*sa] <= b[i*sb]
			}
		case cmpGe:
			for i := range o {
				o[i] = a[i*sa] >= b[i*sb]
			}
		}
	}
}

func compareKernel(op cmpOp) Kernel {
	return func(ctx *Ctx, n *ir.Node, ins []*ir.Tensor) ([]*ir.Tensor, error) {
		if err := checkedInputs(n, ins, 2); err != nil {
			return nil, err
		}
		a, b := ins[0], ins[1]
		if err := sameType(n, a, b); err != nil {
			return nil, err
		}
		var out *ir.Tensor
		var err error
		switch storage(a.DType) {
		case ir.Float32:
			out, err = bcast2(ctx, n, a, b, ir.Bool, cmpRow[float32](op))
		case ir.Float64:
			out, err = bcast2(ctx, n, a, b, ir.Bool, cmpRow[float64](op))
		case ir.Int64:
			out, err = bcast2(ctx, n, a, b, ir.Bool, cmpRow[int64](op))
		case ir.Int32:
			out, err = bcast2(ctx, n, a, b, ir.Bool, cmpRow[int32](op))
		case ir.Bool:
			if op != cmpEq {
				return nil, errf(n, "unsupported dtype bool")
			}
			out, err = bcast2(ctx, n, a, b, ir.Bool, elemRow(func(x, y bool) bool { return x == y }))
		default:
			return nil, errf(n, "unsupported dtype %v", a.DType)
		}
		if err != nil {
			return nil, err
		}
		return []*ir.Tensor{out}, nil
	}
}

type logicOp int

const (
	logAnd logicOp = iota
	logOr
	logXor
)

func logicKernel(op logicOp) Kernel {
	f := map[logicOp]func(x, y bool) bool{
		logAnd: func(x, y bool) bool { return x && y },
		logOr:  func(x, y bool) bool { return x || y },
		logXor: func(x, y bool) bool { return x != y },
	}[op]
	return func(ctx *Ctx, n *ir.Node, ins []*ir.Tensor) ([]*ir.Tensor, error) {
		if err := checkedInputs(n, ins, 2); err != nil {
			return nil, err
		}
		if ins[0].DType != ir.Bool || ins[1].DType != ir.Bool {
			return nil, errf(n, "inputs must be bool, got %v and %v", ins[0].DType, ins[1].DType)
		}
		out, err := bcast2(ctx, n, ins[0], ins[1], ir.Bool, elemRow(f))
		if err != nil {
			return nil, err
		}
		return []*ir.Tensor{out}, nil
	}
}

func notKernel(ctx *Ctx, n *ir.Node, ins []*ir.Tensor) ([]*ir.Tensor, error) {
	x, err := dataInput(n, ins)
	if err != nil {
		return nil, err
	}
	if x.DType != ir.Bool {
		return nil, errf(n, "input must be bool, got %v", x.DType)
	}
	out := ctx.newTensor(ir.Bool, x.Shape)
	mapSlice(ctx, out.Bool, x.Bool, func(v bool) bool { return !v })
	return []*ir.Tensor{out}, nil
}

// whereKernel broadcasts condition, X and Y together.
func whereKernel(ctx *Ctx, n *ir.Node, ins []*ir.Tensor) ([]*ir.Tensor, error) {
	if err := checkedInputs(n, ins, 3); err != nil {
		return nil, err
	}
	c, x, y := ins[0], ins[1], ins[2]
	if c.DType != ir.Bool {
		return nil, errf(n, "condition must be bool, got %v", c.DType)
	}
	if err := sameType(n, x, y); err != nil {
		return nil, err
	}
	shape, err := broadcastShape(n, c.Shape, x.Shape, y.Shape)
	if err != nil {
		return nil, err
	}
	out := ctx.newTensor(x.DType, shape)
	switch storage(x.DType) {
	case ir.Float32:
		where(ctx, shape, c, x, y, out.F32)
	case ir.Float64:
		where(ctx, shape, c, x, y, out.F64)
	case ir.Int64:
		where(ctx, shape, c, x, y, out.I64)
	case ir.Int32:
		where(ctx, shape, c, x, y, out.I32)
	case ir.Bool:
		where(ctx, shape, c, x, y, out.Bool)
	default:
		return nil, errf(n, "unsupported dtype %v", x.DType)
	}
	return []*ir.Tensor{out}, nil
}

func where[T elem](ctx *Ctx, shape []int, c, x, y *ir.Tensor, out []T) {
	cd, xd, yd := c.Bool, slice[T](x), slice[T](y)
	p := planBroadcast(shape, c.Shape, x.Shape, y.Shape)
	sc, sx, sy := p.inner[0], p.inner[1], p.inner[2]
	p.run(ctx, func(o int, offs []int, cnt int) {
		cr, xr, yr := cd[offs[0]:], xd[offs[1]:], yd[offs[2]:]
		for i := 0; i < cnt; i++ {
			if cr[i*sc] {
				out[o+i] = xr[i*sx]
			} else {
				out[o+i] = yr[i*sy]
			}
		}
	})
}
