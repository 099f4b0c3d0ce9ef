package gpu

import (
	"crsc/cuda"
	"crsc/ir"
)

// matMulKernel implements numpy matmul on float32 with cuBLAS (Device.Gemm):
// 1-D operands are promoted (a to [1, K], b to [K, 1]) and the added dim
// dropped again; batch dims broadcast. It also serves ai.crsc.MatMul,
// whose transA/transB attributes transpose the last two dims of an
// operand (backward passes multiply by transposed activations and weights
// without materializing the transpose). Other dtypes fall back.
func matMulKernel(c *ctx, n *ir.Node, ins []*ir.Tensor) ([]*ir.Tensor, error) {
	if !present(ins, 2) {
		return nil, errFallback
	}
	a, b := ins[0], ins[1]
	if a.DType != b.DType || a.DType.Storage() != ir.Float32 || len(a.Shape) == 0 || len(b.Shape) == 0 {
		return nil, errFallback
	}
	as, bs := a.Shape, b.Shape
	if len(as) == 1 {
		as = []int{1, as[0]}
	}
	if len(bs) == 1 {
		bs = []int{bs[0], 1}
	}
	ta, tb := n.Attrs.Int("transA", 0) != 0, n.Attrs.Int("transB", 0) != 0
	if (ta && len(a.Shape) < 2) || (tb && len(b.Shape) < 2) {
		return nil, errFallback
	}
	m, k := as[len(as)-2], as[len(as)-1]
	if ta {
		m, k = k, m
	}
	k2, nn := bs[len(bs)-2], bs[len(bs)-1]
	if tb {
		k2, nn = nn, k2
	}
	lda, ldb := k, nn
	if ta {
		lda = m
	}
	if tb {
		ldb = k
	}
	if k != k2 {
		return nil, errFallback
	}
	aBatch, bBatch := as[:len(as)-2], bs[:len(bs)-2]
	batch, ok := broadcastShape(aBatch, bBatch)
	if !ok {
		return nil, errFallback
	}
	final := append([]int{}, batch...)
	if len(a.Shape) > 1 {
		final = append(final, m)
	}
	if len(b.Shape) > 1 {
		final = append(final, nn)
	}
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
	aOff, bOff := batchOffsets(batch, aBatch, bBatch, m*k, k*nn)
	g := cuda.GemmArgs{TransA: ta, TransB: tb, M: m, N: nn, K: k, Alpha: 1,
		LDA: lda, LDB: ldb, LDC: nn, Batch: 1}
	at := func(t *ir.Tensor, off int) cuda.Ptr { return c.ptr(t) + cuda.Ptr(4*off) }
	sa, sb, uniform := batchStrides(aOff, bOff)
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

// batchOffsets returns, for each batch of the broadcast batch shape, the
// element offsets of its A and B matrices (of aSize and bSize elements).
func batchOffsets(batch, aBatch, bBatch []int, aSize, bSize int) (aOff, bOff []int) {
	nb := ir.NumElements(batch)
	sa, sb := alignedStrides(aBatch, len(batch)), alignedStrides(bBatch, len(batch))
	aOff, bOff = make([]int, nb), make([]int, nb)
	idx := make([]int, len(batch))
	for i := 0; i < nb; i++ {
		oa, ob := 0, 0
		for d, v := range idx {
			oa += v * sa[d]
			ob += v * sb[d]
		}
		aOff[i], bOff[i] = oa*aSize, ob*bSize
		for d := len(idx) - 1; d >= 0; d-- { // odometer
			if idx[d]++; idx[d] < batch[d] {
				break
			}
			idx[d] = 0
		}
	}
	return aOff, bOff
}

// batchStrides reports whether the batch offsets advance by constant
// non-negative strides (so one batched GEMM covers them).
func batchStrides(aOff, bOff []int) (sa, sb int, ok bool) {
	if len(aOff) > 1 {
		sa, sb = aOff[1]-aOff[0], bOff[1]-bOff[0]
	}
	for i := range aOff {
		if aOff[i] != aOff[0]+i*sa || bOff[i] != bOff[0]+i*sb {
			return 0, 0, false
		}
	}
	return sa, sb, sa >= 0 && sb >= 0
}

// gemmKernel: Y = alpha·A'·B' + beta·C with C broadcast to [M, N]; C is
// first broadcast into Y, which the GEMM then accumulates into.
func gemmKernel(c *ctx, n *ir.Node, ins []*ir.Tensor) ([]*ir.Tensor, error) {
	if !present(ins, 2) {
		return nil, errFallback
	}
	a, b, cIn := ins[0], ins[1], input(ins, 2)
	if len(a.Shape) != 2 || len(b.Shape) != 2 || a.DType != b.DType || a.DType.Storage() != ir.Float32 {
		return nil, errFallback
	}
	ta, tb := n.Attrs.Int("transA", 0) == 1, n.Attrs.Int("transB", 0) == 1
	alpha, beta := n.Attrs.Float("alpha", 1), n.Attrs.Float("beta", 1)
	m, k := a.Shape[0], a.Shape[1]
	if ta {
		m, k = k, m
	}
	k2, nn := b.Shape[0], b.Shape[1]
	if tb {
		k2, nn = nn, k2
	}
	if k != k2 || k == 0 {
		return nil, errFallback // mismatch (the CPU reports it) or a pure beta·C
	}
	if cIn == nil || beta == 0 {
		beta, cIn = 0, nil
	} else if cIn.DType != a.DType {
		return nil, errFallback
	} else if shape, ok := broadcastShape([]int{m, nn}, cIn.Shape); !ok || shape[0] != m || shape[1] != nn {
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
		if err := c.stridedCopy(y, cIn, 0, []int{m, nn}, alignedStrides(cIn.Shape, 2)); err != nil {
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
