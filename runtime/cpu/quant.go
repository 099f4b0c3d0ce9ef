package cpu

import (
	"math"
	"unsafe"

	"crsc/compiler/ir"
	"crsc/runtime/shapes"
)

// quantKernels hold the 8-bit stash ops (domain ai.crsc). passes.Stash puts
// a QuantizeRows after a forward activation that backward reads and a
// DequantizeRows before its first backward reader, so that only the codes
// (a quarter of the float32 bytes) and one scale per row live across the
// step; the scheme is ir.Int8Rows's.
//
//	QuantizeRows(X float32 [..., C]) → (codes Int8Rows [..., C], scale float32 [..., 1])
//	DequantizeRows(codes, scale) → float32 [..., C]
var quantKernels = map[string]Kernel{
	"QuantizeRows":   quantizeRowsKernel,
	"DequantizeRows": dequantizeRowsKernel,
}

// int8Bytes views packed 8-bit words as their codes (element 4i+k is byte
// k of word i on the little-endian machines Go's amd64 and arm64 are).
// Distinct bytes are distinct memory locations, so goroutines may write
// neighbouring codes of one word.
func int8Bytes(words []int32) []int8 {
	return unsafe.Slice((*int8)(unsafe.Pointer(unsafe.SliceData(words))), 4*len(words))
}

func quantizeRowsKernel(ctx *Ctx, n *ir.Node, ins []*ir.Tensor) ([]*ir.Tensor, error) {
	x, err := dataInput(n, ins)
	if err != nil {
		return nil, err
	}
	if x.DType != ir.Float32 || len(x.Shape) == 0 {
		return nil, errf(n, "input %v%v: want float32 with at least one axis", x.DType, x.Shape)
	}
	rows, cols := shapes.Rows(x.Shape)
	// The codes are asked for as the int32 words they are packed in, as
	// the memory plan lays an Int8Rows value out (memplan.slotOf); every
	// byte is written, the padding of the last word included.
	words := ctx.newUninitTensor(ir.Int32, []int{ir.Int8Rows.StorageLen(x.Len())})
	scaleShape := append([]int{}, x.Shape...)
	scaleShape[len(scaleShape)-1] = 1
	scale := ctx.newUninitTensor(ir.Float32, scaleShape)
	codes := int8Bytes(words.I32)
	clear(codes[x.Len():])
	parallelFor(ctx, rows, x.Len(), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			row := x.F32[r*cols : (r+1)*cols]
			m := rowMaxAbs(row)
			s, inv := ir.Int8RowsScale(m)
			scale.F32[r] = s
			quantizeRow(codes[r*cols:(r+1)*cols], row, m, inv)
		}
	})
	packed := &ir.Tensor{DType: ir.Int8Rows, Shape: append([]int{}, x.Shape...), I32: words.I32}
	return []*ir.Tensor{packed, scale}, nil
}

// rowMaxAbs is the largest |x| of row, a NaN when the row holds one. It
// compares bits: those of non-negative floats order as the floats do, and
// every NaN's are above +Inf's.
func rowMaxAbs(row []float32) float32 {
	if len(row) == 0 {
		return 0
	}
	if useAVX512 {
		return math.Float32frombits(rowMaxAbsBitsAVX512(&row[0], len(row)))
	}
	var m uint32
	for _, v := range row {
		m = max(m, math.Float32bits(v)&0x7fffffff)
	}
	return math.Float32frombits(m)
}

// quantizeRow sets dst to row's codes under inv. The assembly needs a
// finite row (max|x| = maxAbs) and a finite inv, which every row of an
// activation that matters has; the others, which decode to NaN anyway,
// take the Go loop so their codes are its codes.
func quantizeRow(dst []int8, row []float32, maxAbs, inv float32) {
	finite := func(f float32) bool { return f-f == 0 }
	if useAVX512 && len(row) > 0 && finite(maxAbs) && finite(inv) {
		quantizeRowAVX512(&dst[0], &row[0], len(row), inv)
		return
	}
	for i, v := range row {
		dst[i] = ir.Int8RowsCode(v, inv)
	}
}

func dequantizeRowsKernel(ctx *Ctx, n *ir.Node, ins []*ir.Tensor) ([]*ir.Tensor, error) {
	if err := checkedInputs(n, ins, 2); err != nil {
		return nil, err
	}
	c, scale := ins[0], ins[1]
	if c.DType != ir.Int8Rows || scale.DType != ir.Float32 || len(c.Shape) == 0 {
		return nil, errf(n, "inputs %v%v and %v%v: want i8rows codes and float32 scales", c.DType, c.Shape, scale.DType, scale.Shape)
	}
	rows, cols := shapes.Rows(c.Shape)
	if scale.Len() != rows {
		return nil, errf(n, "%d scales for %d rows of %v", scale.Len(), rows, c.Shape)
	}
	out := ctx.newUninitTensor(ir.Float32, c.Shape)
	codes := int8Bytes(c.I32)
	parallelFor(ctx, rows, c.Len(), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			s := scale.F32[r]
			dst := out.F32[r*cols : (r+1)*cols]
			src := codes[r*cols : (r+1)*cols]
			if useAVX512 && cols > 0 {
				dequantizeRowAVX512(&dst[0], &src[0], cols, s)
				continue
			}
			for i, q := range src {
				dst[i] = ir.Int8RowsValue(q, s)
			}
		}
	})
	return []*ir.Tensor{out}, nil
}
