package gpu

import (
	"crsc/compiler/ir"
	"crsc/runtime/shapes"
)

var elementwiseSrc = newSource("elementwise.cu", "offset.cuh")

// Op codes of kernels/elementwise.cu (its U_, B_, C_ and L_ enums).
const (
	uAbs int32 = iota
	uNeg
	uSqrt
	uRecip
	uExp
	uLog
	uTanh
	uErf
	uRelu
	uSigmoid
	uCeil
	uFloor
	uSign
)

const (
	bAdd int32 = iota
	bSub
	bMul
	bDiv
	bMax
	bMin
	bPow
)

const (
	cEq int32 = iota
	cLt
	cGt
	cLe
	cGe
)

const (
	lAnd int32 = iota
	lOr
	lXor
)

// floatOnly marks the unary ops ONNX defines on floats only (the CPU
// refuses integers for them, so the GPU must not compute them).
var floatOnly = map[int32]bool{uSqrt: true, uRecip: true, uExp: true, uLog: true,
	uTanh: true, uErf: true, uSigmoid: true}

// unaryKernel runs one of the U_ ops elementwise.
func unaryKernel(op int32) kernel {
	return func(c *ctx, n *ir.Node, ins []*ir.Tensor) ([]*ir.Tensor, error) {
		if !present(ins, 1) {
			return nil, errFallback
		}
		x := ins[0]
		name := numKernel("unary", x.DType)
		if name == "" || (name != "unary_f32" && floatOnly[op]) {
			return nil, errFallback
		}
		return c.map1(name, x, x.DType, int32(op))
	}
}

// map1 launches a same-shape kernel y = f(x) taking (y, x, n[, op]).
func (c *ctx) map1(name string, x *ir.Tensor, dt ir.DType, op ...int32) ([]*ir.Tensor, error) {
	x, err := c.device(x)
	if err != nil {
		return nil, err
	}
	y, err := c.out(dt, x.Shape)
	if err != nil {
		return nil, err
	}
	args := []any{c.ptr(y), c.ptr(x), int64(x.Len())}
	for _, o := range op {
		args = append(args, o)
	}
	if err := c.launch(elementwiseSrc, name, x.Len(), args...); err != nil {
		c.b.mem.release(y)
		return nil, err
	}
	return []*ir.Tensor{y}, nil
}

func notKernel(c *ctx, n *ir.Node, ins []*ir.Tensor) ([]*ir.Tensor, error) {
	if !present(ins, 1) || ins[0].DType != ir.Bool {
		return nil, errFallback
	}
	return c.map1("not_u8", ins[0], ir.Bool)
}

// bcast launches a broadcasting kernel (y, in0, in1, …, meta, n, extra…)
// over ins into a new output of dtype dt.
func (c *ctx) bcast(name string, dt ir.DType, ins []*ir.Tensor, extra ...any) (*ir.Tensor, error) {
	shape, err := shapes.Broadcast(shapesOf(ins)...)
	if err != nil {
		return nil, errFallback
	}
	dev, err := eachTensor(ins, c.device)
	if err != nil {
		return nil, err
	}
	y, err := c.out(dt, shape)
	if err != nil {
		return nil, err
	}
	if err := c.bcastInto(name, y, dev, extra...); err != nil {
		c.b.mem.release(y)
		return nil, err
	}
	return y, nil
}

// bcastInto is bcast into an existing device tensor y (of the broadcast
// shape) from device inputs.
func (c *ctx) bcastInto(name string, y *ir.Tensor, ins []*ir.Tensor, extra ...any) error {
	m, err := c.meta(broadcastMeta(y.Shape, shapesOf(ins)...)...)
	if err != nil {
		return err
	}
	args := []any{c.ptr(y)}
	for _, t := range ins {
		args = append(args, c.ptr(t))
	}
	args = append(append(args, m, int64(y.Len())), extra...)
	return c.launch(elementwiseSrc, name, y.Len(), args...)
}

// arithName is the binary_ kernel for dtype dt, "" when there is none.
func arithName(dt ir.DType) string { return numKernel("binary", dt) }

// numKernel names the variant of kernel family prefix for dtype dt's
// storage (prefix_f32, _i64 or _i32), "" for the dtypes the numeric
// families have no variant for.
func numKernel(prefix string, dt ir.DType) string {
	switch dt.Storage() {
	case ir.Float32:
		return prefix + "_f32"
	case ir.Int64:
		return prefix + "_i64"
	case ir.Int32:
		return prefix + "_i32"
	}
	return ""
}

// binaryKernel runs a B_ op with broadcasting (Add, Sub, Mul, Div).
// Integer division falls back: the CPU reports division by zero, which a
// kernel cannot.
func binaryKernel(op int32) kernel {
	return func(c *ctx, n *ir.Node, ins []*ir.Tensor) ([]*ir.Tensor, error) {
		if !present(ins, 2) || len(ins) != 2 || ins[0].DType != ins[1].DType {
			return nil, errFallback
		}
		name := arithName(ins[0].DType)
		if name == "" || (op == bDiv && name != "binary_f32") {
			return nil, errFallback
		}
		y, err := c.bcast(name, ins[0].DType, ins[:2], op)
		if err != nil {
			return nil, err
		}
		return []*ir.Tensor{y}, nil
	}
}

// variadicKernel folds Sum, Max or Min over one or more inputs (the
// partial results are scratch; only the last step makes the output).
func variadicKernel(op int32) kernel {
	return func(c *ctx, n *ir.Node, ins []*ir.Tensor) ([]*ir.Tensor, error) {
		if len(ins) == 0 || !present(ins, len(ins)) {
			return nil, errFallback
		}
		dt := ins[0].DType
		name := arithName(dt)
		for _, t := range ins {
			if t.DType != dt {
				return nil, errFallback
			}
		}
		if name == "" {
			return nil, errFallback
		}
		if len(ins) == 1 {
			y, err := c.copyOf(ins[0])
			if err != nil {
				return nil, err
			}
			return []*ir.Tensor{y}, nil
		}
		acc := ins[0]
		var frees []func()
		defer func() {
			for _, f := range frees {
				f()
			}
		}()
		for i, t := range ins[1:] {
			if i == len(ins)-2 {
				y, err := c.bcast(name, dt, []*ir.Tensor{acc, t}, op)
				if err != nil {
					return nil, err
				}
				return []*ir.Tensor{y}, nil
			}
			shape, err := shapes.Broadcast(acc.Shape, t.Shape)
			if err != nil {
				return nil, errFallback
			}
			s, free, err := c.scratch(dt, shape)
			if err != nil {
				return nil, err
			}
			frees = append(frees, free)
			a, b := acc, t
			if err := nnOnDevice(c, &a, &b); err != nil {
				return nil, err
			}
			if err := c.bcastInto(name, s, []*ir.Tensor{a, b}, op); err != nil {
				return nil, err
			}
			acc = s
		}
		panic("unreachable")
	}
}

// copyOf returns a device copy of t as the node's output.
func (c *ctx) copyOf(t *ir.Tensor) (*ir.Tensor, error) {
	d, err := c.device(t)
	if err != nil {
		return nil, err
	}
	y, err := c.out(t.DType, t.Shape)
	if err != nil {
		return nil, err
	}
	if err := c.b.copyDevice(y, d); err != nil {
		c.b.mem.release(y)
		return nil, err
	}
	return y, nil
}

// powKernel: float32 base and exponent on the GPU (with the CPU's exact
// special cases for exponents 2, 3, 1, 0.5 and -1); other dtype mixes
// fall back.
func powKernel(c *ctx, n *ir.Node, ins []*ir.Tensor) ([]*ir.Tensor, error) {
	if !present(ins, 2) || ins[0].DType.Storage() != ir.Float32 || ins[1].DType.Storage() != ir.Float32 {
		return nil, errFallback
	}
	y, err := c.bcast("binary_f32", ins[0].DType, ins[:2], bPow)
	if err != nil {
		return nil, err
	}
	return []*ir.Tensor{y}, nil
}

// compareKernel: Equal, Less, … into bool; bool operands only for Equal.
func compareKernel(op int32) kernel {
	return func(c *ctx, n *ir.Node, ins []*ir.Tensor) ([]*ir.Tensor, error) {
		if !present(ins, 2) || ins[0].DType != ins[1].DType {
			return nil, errFallback
		}
		name := numKernel("cmp", ins[0].DType)
		if ins[0].DType.Storage() == ir.Bool && op == cEq {
			name = "cmp_u8"
		}
		if name == "" {
			return nil, errFallback
		}
		y, err := c.bcast(name, ir.Bool, ins[:2], op)
		if err != nil {
			return nil, err
		}
		return []*ir.Tensor{y}, nil
	}
}

// logicKernel: And, Or, Xor of bool tensors.
func logicKernel(op int32) kernel {
	return func(c *ctx, n *ir.Node, ins []*ir.Tensor) ([]*ir.Tensor, error) {
		if !present(ins, 2) || ins[0].DType != ir.Bool || ins[1].DType != ir.Bool {
			return nil, errFallback
		}
		y, err := c.bcast("logic_u8", ir.Bool, ins[:2], op)
		if err != nil {
			return nil, err
		}
		return []*ir.Tensor{y}, nil
	}
}

// whereKernel broadcasts condition, X and Y; values are moved by size.
func whereKernel(c *ctx, n *ir.Node, ins []*ir.Tensor) ([]*ir.Tensor, error) {
	if !present(ins, 3) || ins[0].DType != ir.Bool || ins[1].DType != ins[2].DType {
		return nil, errFallback
	}
	suffix := sizeSuffix(ins[1].DType)
	if suffix == "" {
		return nil, errFallback
	}
	y, err := c.bcast("where_"+suffix, ins[1].DType, ins[:3])
	if err != nil {
		return nil, err
	}
	return []*ir.Tensor{y}, nil
}

// castBF16 narrows float32 to bfloat16 or widens it back; other pairs
// with bfloat16 fall back. The packed words are asked for as the int32
// tensor they are stored in, as the memory plan lays a bfloat16 value out
// (memplan.Slot), and relabelled bfloat16.
func (c *ctx) castBF16(x *ir.Tensor, to ir.DType) ([]*ir.Tensor, error) {
	switch {
	case x.DType == ir.Float32 && to == ir.BFloat16:
		x, err := c.device(x)
		if err != nil {
			return nil, err
		}
		y, err := c.out(ir.Int32, []int{to.StorageLen(x.Len())})
		if err != nil {
			return nil, err
		}
		y.DType, y.Shape = ir.BFloat16, append([]int{}, x.Shape...)
		if err := c.launch(elementwiseSrc, "cast_f32_bf16", x.Len(), c.ptr(y), c.ptr(x), int64(x.Len())); err != nil {
			c.b.mem.release(y)
			return nil, err
		}
		return []*ir.Tensor{y}, nil
	case x.DType == ir.BFloat16 && to == ir.Float32:
		return c.map1("cast_bf16_f32", x, to)
	}
	return nil, errFallback
}

// castNames are the kernel-name parts of the dtypes Cast handles on the
// GPU; float16, int8 and uint8 need rounding or wrapping and fall back.
var castNames = map[ir.DType]string{ir.Float32: "f32", ir.Float64: "f64", ir.Int64: "i64",
	ir.Int32: "i32", ir.Bool: "u8"}

func castKernel(c *ctx, n *ir.Node, ins []*ir.Tensor) ([]*ir.Tensor, error) {
	if !present(ins, 1) {
		return nil, errFallback
	}
	x := ins[0]
	to, ok := ir.DTypeFromONNX(n.Attrs.Int("to", 0))
	if ok && (to == ir.BFloat16) != (x.DType == ir.BFloat16) {
		return c.castBF16(x, to)
	}
	from, ok1 := castNames[x.DType]
	dst, ok2 := castNames[to]
	if !ok || !ok1 || !ok2 {
		return nil, errFallback
	}
	if from == dst {
		y, err := c.copyOf(x)
		if err != nil {
			return nil, err
		}
		return []*ir.Tensor{y}, nil
	}
	return c.map1("cast_"+from+"_"+dst, x, to)
}
