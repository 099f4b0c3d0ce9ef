package gpu

import (
	"math"
	"slices"

	"crsc/compiler/ir"
	"crsc/runtime/cpu"
	"crsc/runtime/rng"
	"crsc/runtime/shapes"
)

// The WTA-CRS sampling ops (runtime/cpu/sample.go): RowNorms, SampleRows,
// GatherRows. SampleRows computes the row norms on the device, brings
// those B·N floats to the host, runs the selection there (sample_select.go,
// the CPU's code) and uploads the chosen indices and weights for the
// device to gather and scale the rows: the same seed picks the same rows
// as on the CPU, bit for bit.

var sampleSrc = newSource("sample.cu")

// nnRowNorms is runtime/cpu rowNormsKernel for float32: the L2 norm of
// every row, summed in float64.
func nnRowNorms(c *ctx, n *ir.Node, ins []*ir.Tensor) ([]*ir.Tensor, error) {
	x := input(ins, 0)
	if x == nil || !nnAllF32(x) || len(x.Shape) < 1 {
		return nil, errFallback
	}
	if err := nnOnDevice(c, &x); err != nil {
		return nil, err
	}
	rows, d := shapes.Rows(x.Shape)
	out, err := c.out(ir.Float32, x.Shape[:len(x.Shape)-1])
	if err != nil {
		return nil, err
	}
	if err := c.launch(sampleSrc, "row_norms_f32", rows, c.ptr(x), c.ptr(out), int64(rows), int64(d)); err != nil {
		nnRelease(c, out)
		return nil, err
	}
	return []*ir.Tensor{out}, nil
}

// nnSampleHost brings SampleRows' optional gnorm or mask input t to the
// host for runtime/cpu SampleGnorm or SampleMask, which check and read it;
// ok is false where its shape is not want (the CPU fails) or it is
// abstract. nil stays nil.
func nnSampleHost(c *ctx, t *ir.Tensor, want []int) (*ir.Tensor, bool, error) {
	if t == nil {
		return nil, true, nil
	}
	if !slices.Equal(t.Shape, want) || t.Abstract {
		return nil, false, nil
	}
	h, err := c.host(t)
	return h, err == nil, err
}

// nnSampleRows is runtime/cpu sampleRowsKernel for float32 X:
// SampleRows(X [..., N, d], gnorm?, mask?; keep, min_rows, estimator) →
// (Xs [..., k, d], idx [..., k]).
func nnSampleRows(c *ctx, n *ir.Node, ins []*ir.Tensor) ([]*ir.Tensor, error) {
	x := input(ins, 0)
	keep, minRows, est, err := ir.SampleParams(n.Attrs)
	if err != nil || x == nil || !nnAllF32(x) || len(x.Shape) < 2 {
		return nil, errFallback
	}
	r := len(x.Shape)
	gt, ok, err := nnSampleHost(c, input(ins, 1), x.Shape[:r-1])
	if err != nil || !ok {
		return nil, orFallback(err)
	}
	mt, ok, err := nnSampleHost(c, input(ins, 2), x.Shape[:r-1])
	if err != nil || !ok {
		return nil, orFallback(err)
	}
	g, err := cpu.SampleGnorm(n, gt, x.Shape[:r-1])
	if err != nil {
		return nil, errFallback
	}
	mask, err := cpu.SampleMask(n, mt, x.Shape[:r-1])
	if err != nil {
		return nil, errFallback
	}
	B, N, d := ir.NumElements(x.Shape[:r-2]), x.Shape[r-2], x.Shape[r-1]
	k := int(ir.SampleBudget(keep, minRows, est, int64(N)))
	if err := nnOnDevice(c, &x); err != nil {
		return nil, err
	}
	nout := nnNumOuts(n, 2)
	if k == N {
		// Exact: every row, weight 1, in order (a copy of X).
		idx := make([]int64, B*N)
		for i := range idx {
			idx[i] = int64(i % max(N, 1))
		}
		return nnSampleOutputs(c, x, ir.FromInt64(x.Shape[:r-1], idx), nil, B, N, k, d, nout)
	}

	// Norms on the device; square roots, probabilities and draws on the
	// host, in the CPU's float64 arithmetic.
	sumsq, free, err := c.scratch(ir.Float64, []int{B * N})
	if err != nil {
		return nil, err
	}
	defer free()
	if err := c.launch(sampleSrc, "row_sumsq", B*N, c.ptr(x), c.ptr(sumsq), int64(B*N), int64(d)); err != nil {
		return nil, err
	}
	sh, err := c.host(sumsq)
	if err != nil {
		return nil, err
	}
	norms := sh.F64
	for i, s := range norms {
		norms[i] = math.Sqrt(s)
	}
	seed, step, stream := c.seed(), c.step(), rng.StreamOf(n.Name)
	idx, weight := selectRows(est, norms, g, mask, B, N, k, func(i uint64) uint64 {
		return rng.Uint64(seed, step, stream, i)
	})
	lead := x.Shape[:r-2]
	idxShape := append(append([]int{}, lead...), k)
	return nnSampleOutputs(c, x, ir.FromInt64(idxShape, idx), weight, B, N, k, d, nout)
}

// nnSampleOutputs writes SampleRows' outputs: Xs, the rows idx picks
// scaled by weight (nil: a plain copy of X, the exact case), and idx
// itself when the node declares it.
func nnSampleOutputs(c *ctx, x, idx *ir.Tensor, weight []float64, B, N, k, d, nout int) ([]*ir.Tensor, error) {
	r := len(x.Shape)
	xsShape := append(append([]int{}, x.Shape[:r-2]...), k, d)
	xs, err := c.out(ir.Float32, xsShape)
	if err != nil {
		return nil, err
	}
	var frees nnFreeAll
	defer frees.run()
	var idxD *ir.Tensor
	if nout > 1 {
		idxD, err = c.outFrom(idx)
	} else if weight != nil {
		var free func()
		idxD, free, err = nnUpload(c, idx)
		if free != nil {
			frees.add(free)
		}
	}
	if err != nil {
		nnRelease(c, xs)
		return nil, err
	}
	if weight == nil {
		err = c.dev().CopyDevice(c.ptr(xs), c.ptr(x), int64(x.Len())*4)
		if x.Len() == 0 {
			err = nil
		}
	} else {
		var wD *ir.Tensor
		var free func()
		wD, free, err = nnUpload(c, nnF64(weight))
		if err == nil {
			frees.add(free)
			err = c.launch(sampleSrc, "scaled_rows_f32", B*k*d, c.ptr(x), c.ptr(idxD), c.ptr(wD), c.ptr(xs),
				int64(B), int64(N), int64(k), int64(d))
		}
	}
	outs := []*ir.Tensor{xs, idxD}[:nout] // an undeclared idx is scratch
	if err != nil {
		nnRelease(c, outs...)
		return nil, err
	}
	return outs, nil
}

// nnGatherRows is runtime/cpu gatherRowsKernel: GatherRows(X [..., N, d],
// idx [..., k]) → [..., k, d], for any dtype (rows are copied as 8-, 4- or
// 1-byte elements). The indices are checked on the host first (one out of
// [0, N) sends the node to the CPU, which reports it).
func nnGatherRows(c *ctx, n *ir.Node, ins []*ir.Tensor) ([]*ir.Tensor, error) {
	x, idxT := input(ins, 0), input(ins, 1)
	if x == nil || idxT == nil || x.Abstract {
		return nil, errFallback
	}
	r := len(x.Shape)
	if r < 2 || len(idxT.Shape) != r-1 || !slices.Equal(idxT.Shape[:r-2], x.Shape[:r-2]) {
		return nil, errFallback
	}
	var name string
	switch x.DType.Storage().Size() {
	case 8:
		name = "gather_rows_8"
	case 4:
		name = "gather_rows_4"
	case 1:
		name = "gather_rows_1"
	default:
		return nil, errFallback
	}
	idx, ok, err := nnHostInts(c, idxT, -1)
	if err != nil || !ok {
		return nil, orFallback(err)
	}
	B, N, d := ir.NumElements(x.Shape[:r-2]), x.Shape[r-2], x.Shape[r-1]
	for _, v := range idx {
		if v < 0 || v >= int64(N) {
			return nil, errFallback
		}
	}
	k := idxT.Shape[r-2]
	if err := nnOnDevice(c, &x); err != nil {
		return nil, err
	}
	// The kernel reads int64 indices: the input itself when it is one on
	// the device, else an upload of the host copy.
	idxD := idxT
	if idxT.DType != ir.Int64 || idxT.Device == nil {
		var free func()
		idxD, free, err = nnUpload(c, ir.FromInt64(idxT.Shape, idx))
		if err != nil {
			return nil, err
		}
		defer free()
	}
	out, err := c.out(x.DType, append(append([]int{}, idxT.Shape...), d))
	if err != nil {
		return nil, err
	}
	if err := c.launch(sampleSrc, name, B*k*d, c.ptr(x), c.ptr(idxD), c.ptr(out),
		int64(B), int64(N), int64(k), int64(d)); err != nil {
		nnRelease(c, out)
		return nil, err
	}
	return []*ir.Tensor{out}, nil
}
