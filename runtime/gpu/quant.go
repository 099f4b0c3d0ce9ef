package gpu

import (
	"crsc/compiler/ir"
	"crsc/runtime/cuda"
	"crsc/runtime/shapes"
)

var quantSrc = newSource("quant.cu")

// nnQuantizeRows is runtime/cpu quantizeRowsKernel: float32 [..., C] to
// 8-bit codes packed four to an int32 word and one float32 scale a row.
func nnQuantizeRows(c *ctx, n *ir.Node, ins []*ir.Tensor) ([]*ir.Tensor, error) {
	x := input(ins, 0)
	if x == nil || !nnAllF32(x) || len(x.Shape) == 0 {
		return nil, errFallback
	}
	if err := nnOnDevice(c, &x); err != nil {
		return nil, err
	}
	rows, d := shapes.Rows(x.Shape)
	codes, err := c.out(ir.Int8Rows, x.Shape)
	if err != nil {
		return nil, err
	}
	scaleShape := append([]int{}, x.Shape...)
	scaleShape[len(scaleShape)-1] = 1
	scale, err := c.out(ir.Float32, scaleShape)
	if err != nil {
		nnRelease(c, codes)
		return nil, err
	}
	total := x.Len()
	padded := 4 * ir.Int8Rows.StorageLen(total)
	if rows > 0 {
		err = c.launchGrid(quantSrc, "quantize_rows_f32", cuda.Dim3{X: uint32(rows), Y: 1, Z: 1}, nnRowBlock(d), 0,
			c.ptr(x), c.ptr(codes), c.ptr(scale), int64(d), int64(total), int64(padded))
	}
	if err != nil {
		nnRelease(c, codes, scale)
		return nil, err
	}
	return []*ir.Tensor{codes, scale}, nil
}

// nnDequantizeRows is runtime/cpu dequantizeRowsKernel.
func nnDequantizeRows(c *ctx, n *ir.Node, ins []*ir.Tensor) ([]*ir.Tensor, error) {
	codes, scale := input(ins, 0), input(ins, 1)
	if codes == nil || scale == nil || codes.DType != ir.Int8Rows || !nnAllF32(scale) || len(codes.Shape) == 0 {
		return nil, errFallback
	}
	if rows, _ := shapes.Rows(codes.Shape); scale.Len() != rows {
		return nil, errFallback // the CPU kernel names the mismatch
	}
	if err := nnOnDevice(c, &codes, &scale); err != nil {
		return nil, err
	}
	_, d := shapes.Rows(codes.Shape)
	y, err := c.out(ir.Float32, codes.Shape)
	if err != nil {
		return nil, err
	}
	if err := c.launch(quantSrc, "dequantize_rows_f32", y.Len(), c.ptr(codes), c.ptr(scale), c.ptr(y), int64(d), int64(y.Len())); err != nil {
		nnRelease(c, y)
		return nil, err
	}
	return []*ir.Tensor{y}, nil
}
