package gpu

import (
	"crsc/compiler/ir"
	"crsc/runtime/cuda"
	"crsc/runtime/shapes"
)

// matMulKernel implements numpy matmul on float32 with cuBLAS (Device.Gemm):
// 1-D operands are promoted (a to [1, K], b to [K, 1]) and the added dim
// dropped again; batch dims broadcast. It also serves ai.crsc.MatMul,
// whose transA/transB attributes transpose the last two dims of an
// operand (backward passes multiply by transposed activations and weights
// without materializing the transpose). Other dtypes fall back, and so
// does the CPU lowering's fused work (scale, bias, residual, activation,
// permuted operands).
func matMulKernel(c *ctx, n *ir.Node, ins []*ir.Tensor) ([]*ir.Tensor, error) {
	if !present(ins, 2) || len(ins) > 2 || n.Attrs.Has("activation") || n.Attrs.Has("alpha") || n.Attrs.Has("permA") || n.Attrs.Has("permB") || n.Attrs.Has("permY") {
		return nil, errFallback
	}
	a, b := ins[0], ins[1]
	if a.DType != b.DType || a.DType.Storage() != ir.Float32 || len(a.Shape) == 0 || len(b.Shape) == 0 {
		return nil, errFallback
	}
	ta, tb := n.Attrs.Int("transA", 0) != 0, n.Attrs.Int("transB", 0) != 0
	mm, err := shapes.MatMulShape(a.Shape, b.Shape, ta, tb)
	if err != nil {
		return nil, errFallback
	}
	m, k, nn, lda, ldb, final := mm.M, mm.K, mm.N, mm.LDA, mm.LDB, mm.Shape
	if k == 0 {
		y, err := c.zeros(a.DType, final) // the product of empty sums
		if err != nil {
			return nil, err
		}
		return []*ir.Tensor{y}, nil
	}
	y, err := c.out(a.DType, final)
	if err != nil {
		return nil, err
	}
	if y.Len() == 0 {
		return []*ir.Tensor{y}, nil
	}
	ad, err := c.device(a)
	if err != nil {
		return nil, err
	}
	bd, err := c.device(b)
	if err != nil {
		return nil, err
	}
	aOff, bOff := mm.Offsets()
	g := cuda.GemmArgs{TransA: ta, TransB: tb, M: m, N: nn, K: k, Alpha: 1,
		LDA: lda, LDB: ldb, LDC: nn, Batch: 1}
	at := func(t *ir.Tensor, off int) cuda.Ptr { return c.ptr(t) + cuda.Ptr(4*off) }
	sa, sb, uniform := shapes.BatchStrides(aOff, bOff)
	nb := len(aOff)
	switch {
	case uniform && nb > 1 && sb == 0 && sa == m*k && !ta:
		// A batch against one B: a single tall GEMM.
		g.M = nb * m
		g.A, g.B, g.C = at(ad, aOff[0]), at(bd, bOff[0]), c.ptr(y)
		err = c.gemm(g)
	case uniform:
		g.A, g.B, g.C = at(ad, aOff[0]), at(bd, bOff[0]), c.ptr(y)
		g.Batch, g.StrideA, g.StrideB, g.StrideC = nb, int64(sa), int64(sb), int64(m*nn)
		err = c.gemm(g)
	default:
		for i := 0; i < nb && err == nil; i++ {
			g.A, g.B, g.C = at(ad, aOff[i]), at(bd, bOff[i]), at(y, i*m*nn)
			err = c.gemm(g)
		}
	}
	if err != nil {
		c.b.mem.release(y)
		return nil, err
	}
	return []*ir.Tensor{y}, nil
}

// gemmKernel: Y = alpha·A'·B' + beta·C with C broadcast to [M, N]; C is
// first broadcast into Y, which the GEMM then accumulates into.
func gemmKernel(c *ctx, n *ir.Node, ins []*ir.Tensor) ([]*ir.Tensor, error) {
	if !present(ins, 2) {
		return nil, errFallback
	}
	a, b, cIn := ins[0], ins[1], input(ins, 2)
	if a.DType != b.DType || a.DType.Storage() != ir.Float32 {
		return nil, errFallback
	}
	ta, tb := n.Attrs.Int("transA", 0) == 1, n.Attrs.Int("transB", 0) == 1
	alpha, beta := n.Attrs.Float("alpha", 1), n.Attrs.Float("beta", 1)
	m, k, nn, err := shapes.Gemm(a.Shape, b.Shape, ta, tb)
	if err != nil || k == 0 {
		return nil, errFallback // bad shapes (the CPU reports them) or a pure beta·C
	}
	if cIn == nil || beta == 0 {
		beta, cIn = 0, nil
	} else if cIn.DType != a.DType {
		return nil, errFallback
	} else if shape, err := shapes.Broadcast([]int{m, nn}, cIn.Shape); err != nil || shape[0] != m || shape[1] != nn {
		return nil, errFallback
	}
	y, err := c.out(a.DType, []int{m, nn})
	if err != nil {
		return nil, err
	}
	if y.Len() == 0 {
		return []*ir.Tensor{y}, nil
	}
	fail := func(err error) ([]*ir.Tensor, error) {
		c.b.mem.release(y)
		return nil, err
	}
	if cIn != nil {
		if err := c.stridedCopy(y, cIn, 0, []int{m, nn}, shapes.AlignedStrides(cIn.Shape, 2)); err != nil {
			return fail(err)
		}
	}
	ad, err := c.device(a)
	if err != nil {
		return fail(err)
	}
	bd, err := c.device(b)
	if err != nil {
		return fail(err)
	}
	err = c.gemm(cuda.GemmArgs{TransA: ta, TransB: tb, M: m, N: nn, K: k, Alpha: alpha, Beta: beta,
		A: c.ptr(ad), B: c.ptr(bd), C: c.ptr(y), LDA: a.Shape[1], LDB: b.Shape[1], LDC: nn, Batch: 1})
	if err != nil {
		return fail(err)
	}
	return []*ir.Tensor{y}, nil
}
