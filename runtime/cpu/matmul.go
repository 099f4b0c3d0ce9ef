package cpu

import (
	"slices"

	"crsc/compiler/ir"
	"crsc/runtime/gemm"
	"crsc/runtime/shapes"
)

// matMulKernel implements numpy matmul: 1-D operands are promoted (a to
// [1, K], b to [K, 1]) and the added dim removed again; batch dims
// broadcast. float32 goes to runtime/gemm; other numeric types use a plain
// loop (they appear only in tests and gradient checks).
//
// The same kernel serves ai.crsc.MatMul, whose transA/transB attributes
// transpose the last two dims of an operand: backward passes multiply by
// transposed activations and weights without materializing the transpose.
// Its alpha attribute scales the product (a power of two folded in by
// passes.FuseEpilogues); its optional third input is a bias added to
// every row of the result
// (MatMul followed by Add, fused by passes.FuseBiasAdd), its activation
// attribute an elementwise function applied next, and its optional fourth
// input a residual of the output's shape added last (passes.FuseEpilogues):
// bit for bit the unfused ops' result, computed on each tile of the GEMM's
// output while it is in cache instead of in more passes over it.
func matMulKernel(ctx *Ctx, n *ir.Node, ins []*ir.Tensor) ([]*ir.Tensor, error) {
	if err := checkedInputs(n, ins, 2); err != nil {
		return nil, err
	}
	a, b := ins[0], ins[1]
	if err := sameType(n, a, b); err != nil {
		return nil, err
	}
	ta, tb := n.Attrs.Int("transA", 0) != 0, n.Attrs.Int("transB", 0) != 0
	if permutedMatMul(n) {
		return stridedMatMulKernel(ctx, n, a, b, ins, ta, tb)
	}
	mm, err := shapes.MatMulShape(a.Shape, b.Shape, ta, tb)
	if err != nil {
		return nil, nodeErr(n, err)
	}
	m, k, nn, lda, ldb := mm.M, mm.K, mm.N, mm.LDA, mm.LDB
	outShape := append(append([]int{}, mm.Batch...), m, nn)
	ep, err := matMulEpilogue(n, ins, outShape, a.DType)
	if err != nil {
		return nil, err
	}
	alpha := n.Attrs.Float("alpha", 1) // a scale folded in by passes.FuseEpilogues
	if (ep != nil || alpha != 1) && storage(a.DType) != ir.Float32 {
		return nil, errf(n, "a fused scale, bias, activation or residual needs float32 operands, got %v", a.DType)
	}
	var out *ir.Tensor
	if storage(a.DType) == ir.Float32 && k > 0 {
		out = ctx.newUninitTensor(a.DType, outShape) // every element is a GEMM's, beta = 0
	} else {
		out = ctx.newTensor(a.DType, outShape)
	}
	nb := ir.NumElements(mm.Batch)
	if out.Len() == 0 {
		out.Shape = mm.Shape
		return []*ir.Tensor{out}, nil
	}
	// Offsets of each batch's A and B matrices.
	aOff, bOff := mm.Offsets()
	switch storage(a.DType) {
	case ir.Float32:
		strideA, strideB, uniform := shapes.BatchStrides(aOff, bOff)
		switch {
		case k > 0 && uniform && strideB == 0 && strideA == m*k && !ta:
			// A batch against one B: a single tall GEMM, the epilogue
			// applied tile by tile.
			gemm.SgemmEpilogue(false, tb, nb*m, nn, k, alpha, a.F32, lda, b.F32, ldb, out.F32, nn, ep)
			ep = nil
		case k == 0: // the product of empty sums is the zero output
		case uniform:
			gemm.SgemmBatched(ta, tb, m, nn, k, alpha, a.F32[aOff[0]:], lda, strideA, b.F32[bOff[0]:], ldb, strideB, 0, out.F32, nn, m*nn, nb)
		default:
			for i := 0; i < nb; i++ {
				gemm.Sgemm(ta, tb, m, nn, k, alpha, a.F32[aOff[i]:], lda, b.F32[bOff[i]:], ldb, 0, out.F32[i*m*nn:], nn)
			}
		}
		if ep != nil { // a product the tall GEMM does not cover: the epilogue after
			ep.Apply(out.F32, nn, nb*m, nn)
		}
	case ir.Float64:
		naiveMatMul(a.F64, b.F64, out.F64, aOff, bOff, m, nn, k, ta, tb)
	case ir.Int64:
		naiveMatMul(a.I64, b.I64, out.I64, aOff, bOff, m, nn, k, ta, tb)
	case ir.Int32:
		naiveMatMul(a.I32, b.I32, out.I32, aOff, bOff, m, nn, k, ta, tb)
	default:
		return nil, errf(n, "unsupported dtype %v", a.DType)
	}
	out.Shape = mm.Shape
	return []*ir.Tensor{out}, nil
}

// permAttrs are ai.crsc.MatMul's permutations of A, B and the result
// (passes.FoldHeadTransposes).
var permAttrs = [3]string{"permA", "permB", "permY"}

// permutedMatMul: n reads an operand or writes its result through a
// permutation of dims.
func permutedMatMul(n *ir.Node) bool {
	for _, p := range permAttrs {
		if n.Attrs.Has(p) {
			return true
		}
	}
	return false
}

// stridedMatMulKernel is ai.crsc.MatMul with permuted operands or result:
// one GEMM per batch element on strided views of the stored tensors, every
// element of the output written once.
func stridedMatMulKernel(ctx *Ctx, n *ir.Node, a, b *ir.Tensor, ins []*ir.Tensor, ta, tb bool) ([]*ir.Tensor, error) {
	if storage(a.DType) != ir.Float32 || in(ins, 2) != nil || in(ins, 3) != nil || n.Attrs.String("activation", "") != "" {
		return nil, errf(n, "a permuted MatMul takes two float32 operands and no epilogue, got %v", a.DType)
	}
	var perms [3][]int64
	for i, p := range permAttrs {
		perms[i] = n.Attrs.Ints(p)
	}
	l, err := shapes.StridedMatMulLayout(a.Shape, b.Shape, perms[0], perms[1], perms[2], ta, tb)
	if err != nil {
		return nil, nodeErr(n, err)
	}
	if l.K == 0 {
		return []*ir.Tensor{ctx.newTensor(a.DType, l.Shape)}, nil // the product of empty sums
	}
	out := ctx.newUninitTensor(a.DType, l.Shape) // the GEMMs write every element
	gemm.SgemmOffsets(l.TransA, l.TransB, l.M, l.N, l.K, n.Attrs.Float("alpha", 1), a.F32, l.LDA, l.AOff, b.F32, l.LDB, l.BOff, out.F32, l.LDC, l.COff)
	return []*ir.Tensor{out}, nil
}

// matMulEpilogue reads the fused work of an ai.crsc.MatMul (nil: none):
// bias (input 2), activation attribute, residual (input 3).
func matMulEpilogue(n *ir.Node, ins []*ir.Tensor, outShape []int, dt ir.DType) (*gemm.Epilogue, error) {
	bias, res := in(ins, 2), in(ins, 3)
	act, err := activationOf(n)
	if err != nil || (bias == nil && res == nil && act == nil) {
		return nil, err
	}
	nn := outShape[len(outShape)-1]
	ep := &gemm.Epilogue{Act: act, LDR: nn}
	if bias != nil {
		if bias.DType != dt || len(bias.Shape) != 1 || bias.Shape[0] != nn {
			return nil, errf(n, "bias must be %v [%d] like A, got %v %v", dt, nn, bias.DType, bias.Shape)
		}
		ep.Bias = bias.F32
	}
	if res != nil {
		if res.DType != dt || !slices.Equal(res.Shape, outShape) {
			return nil, errf(n, "residual must be %v %v like the product, got %v %v", dt, outShape, res.DType, res.Shape)
		}
		ep.Residual = res.F32
	}
	return ep, nil
}

// activationOf is the elementwise function an ai.crsc.MatMul's
// activation attribute names, the one the standalone op's kernel applies
// ("": none).
func activationOf(n *ir.Node) (func([]float32), error) {
	switch a := n.Attrs.String("activation", ""); a {
	case "":
		return nil, nil
	case "gelu":
		return func(x []float32) { geluErf(x, x) }, nil
	case "gelu_tanh":
		return func(x []float32) { geluTanh(x, x) }, nil
	case "relu":
		return func(x []float32) { unaryF32(opRelu, x, x) }, nil
	default:
		return nil, errf(n, "unknown activation %q", a)
	}
}

func naiveMatMul[T num](a, b, c []T, aOff, bOff []int, m, n, k int, ta, tb bool) {
	for bi := range aOff {
		A, B, C := a[aOff[bi]:], b[bOff[bi]:], c[bi*m*n:]
		for i := 0; i < m; i++ {
			for p := 0; p < k; p++ {
				x := A[i*k+p]
				if ta {
					x = A[p*m+i]
				}
				for j := 0; j < n; j++ {
					if tb {
						C[i*n+j] += x * B[j*k+p]
					} else {
						C[i*n+j] += x * B[p*n+j]
					}
				}
			}
		}
	}
}

// gemmKernel: Y = alpha·A'·B' + beta·C with C broadcast to [M, N].
func gemmKernel(ctx *Ctx, n *ir.Node, ins []*ir.Tensor) ([]*ir.Tensor, error) {
	if err := checkedInputs(n, ins, 2); err != nil {
		return nil, err
	}
	a, b, c := ins[0], ins[1], in(ins, 2)
	ta, tb := n.Attrs.Int("transA", 0) == 1, n.Attrs.Int("transB", 0) == 1
	m, k, nn, err := shapes.Gemm(a.Shape, b.Shape, ta, tb)
	if err != nil {
		return nil, nodeErr(n, err)
	}
	if err := sameType(n, a, b); err != nil {
		return nil, err
	}
	alpha, beta := n.Attrs.Float("alpha", 1), n.Attrs.Float("beta", 1)
	var y *ir.Tensor
	if storage(a.DType) == ir.Float32 && k > 0 {
		// Every element is written before it is read: by C's broadcast
		// copy below, or by the GEMM with beta = 0.
		y = ctx.newUninitTensor(a.DType, []int{m, nn})
	} else {
		y = ctx.newTensor(a.DType, []int{m, nn})
	}
	if c != nil && beta != 0 {
		if c.DType != a.DType {
			return nil, errf(n, "C dtype %v differs from A %v", c.DType, a.DType)
		}
		shape, err := broadcastShape(n, []int{m, nn}, c.Shape)
		if err != nil || shape[0] != m || shape[1] != nn {
			return nil, errf(n, "C shape %v does not broadcast to [%d %d]", c.Shape, m, nn)
		}
		if y.Len() > 0 {
			stridedCopy(ctx, y, c, 0, []int{m, nn}, shapes.AlignedStrides(c.Shape, 2))
		}
	} else {
		beta = 0
	}
	if y.Len() == 0 {
		return []*ir.Tensor{y}, nil
	}
	switch storage(a.DType) {
	case ir.Float32:
		if k == 0 {
			scaleF32(y.F32, beta)
			break
		}
		gemm.Sgemm(ta, tb, m, nn, k, alpha, a.F32, a.Shape[1], b.F32, b.Shape[1], beta, y.F32, nn)
	case ir.Float64, ir.Int64, ir.Int32:
		at, bt := a, b
		if ta {
			at = transposeTo(ctx, a, []int{1, 0}, ctx.scratch)
		}
		if tb {
			bt = transposeTo(ctx, b, []int{1, 0}, ctx.scratch)
		}
		at, bt, yc := toFloat64(at), toFloat64(bt), toFloat64(y)
		prod := make([]float64, m*nn)
		naiveMatMul(at.F64, bt.F64, prod, []int{0}, []int{0}, m, nn, k, false, false)
		for i := range prod {
			prod[i] = float64(alpha)*prod[i] + float64(beta)*yc.F64[i]
		}
		// y (holding C) was only an input of the product: the result
		// replaces it as the output.
		y = ctx.convert(&ir.Tensor{DType: ir.Float64, Shape: []int{m, nn}, F64: prod}, a.DType)
	default:
		return nil, errf(n, "unsupported dtype %v", a.DType)
	}
	return []*ir.Tensor{y}, nil
}

func scaleF32(x []float32, s float32) {
	for i := range x {
		x[i] *= s
	}
}
