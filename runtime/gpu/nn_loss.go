package gpu

import (
	"slices"

	"crsc/compiler/ir"
)

// SoftmaxCrossEntropyLoss and its gradient. The labels (and class weights,
// and the loss cotangent) are small: the host reads them to validate the
// labels exactly as runtime/cpu parseSCE does (an invalid one sends the
// node to the CPU, which reports it) and to compute the per-position
// weights and Σw in the CPU's order; the device does the per-class work.

// nnSCE is the parsed shape of a loss node: scores [N, C, d...] with D the
// product of the d's, labels as int64 with ignored positions set to -1,
// wt the weight of each position's label (0 when ignored), wsum their sum.
type nnSCE struct {
	N, C, D   int
	labels    []int64
	wt        []float64
	wsum      float64
	reduction string
}

// nnParseSCE checks scores (or log_prob) [N, C, ...], labels [N, ...] and
// optional weights [C] as runtime/cpu parseSCE and the loss loops do;
// ok is false wherever the CPU would fail.
func nnParseSCE(c *ctx, n *ir.Node, scores, labels, weights *ir.Tensor) (a nnSCE, ok bool, err error) {
	if scores == nil || labels == nil || !nnAllF32(scores, weights) || len(scores.Shape) < 2 {
		return a, false, nil
	}
	a.N, a.C = scores.Shape[0], scores.Shape[1]
	a.D = ir.NumElements(scores.Shape[2:])
	if !slices.Equal(labels.Shape, append([]int{a.N}, scores.Shape[2:]...)) {
		return a, false, nil
	}
	switch labels.DType {
	case ir.Int64, ir.Int32, ir.Int8, ir.Uint8:
	default:
		return a, false, nil
	}
	if weights != nil && weights.Len() != a.C {
		return a, false, nil
	}
	a.reduction = n.Attrs.String("reduction", "mean")
	if a.reduction != "none" && a.reduction != "sum" && a.reduction != "mean" {
		return a, false, nil
	}
	lh, err := c.host(labels)
	if err != nil {
		return a, false, err
	}
	var w []float32
	if weights != nil {
		wh, err := c.host(weights)
		if err != nil {
			return a, false, err
		}
		w = wh.F32
	}
	hasIgnore, ignore := n.Attrs.Has("ignore_index"), n.Attrs.Int("ignore_index", 0)
	a.labels = lh.Int64s()
	if len(a.labels) != a.N*a.D {
		return a, false, nil
	}
	a.labels = append([]int64(nil), a.labels...) // may alias the input's host data
	a.wt = make([]float64, len(a.labels))
	for p, l := range a.labels {
		if hasIgnore && l == ignore {
			a.labels[p] = -1
			continue
		}
		if l < 0 || l >= int64(a.C) {
			return a, false, nil
		}
		wt := 1.0
		if w != nil {
			wt = float64(w[l])
		}
		a.wt[p] = wt
		a.wsum += wt
	}
	return a, true, nil
}

// nnSCELoss is runtime/cpu sceLossKernel for float32 scores: log_prob by
// the LogSoftmax kernel over axis 1, then the picked -log_prob·w summed in
// float64 (reduction sum or mean, mean dividing by Σw and giving 0 when
// every label is ignored) or kept per position (none).
func nnSCELoss(c *ctx, n *ir.Node, ins []*ir.Tensor) ([]*ir.Tensor, error) {
	scores, labels, weights := input(ins, 0), input(ins, 1), input(ins, 2)
	a, ok, err := nnParseSCE(c, n, scores, labels, weights)
	if err != nil || !ok {
		return nil, orFallback(err)
	}
	if err := nnOnDevice(c, &scores); err != nil {
		return nil, err
	}
	var frees nnFreeAll
	defer frees.run()
	lossShape := []int{}
	if a.reduction == "none" {
		lossShape = labels.Shape
	}
	loss, err := c.out(ir.Float32, lossShape)
	if err != nil {
		return nil, err
	}
	k := nnNumOuts(n, 2)
	logp, err := frees.outOrScratch(c, k > 1, ir.Float32, scores.Shape)
	if err != nil {
		nnRelease(c, loss)
		return nil, err
	}
	outs := []*ir.Tensor{loss, logp}[:k] // an undeclared logp is scratch
	fail := func(err error) ([]*ir.Tensor, error) {
		nnRelease(c, outs...)
		return nil, err
	}
	if err := nnSoftmaxLaunch(c, scores, logp, a.N, a.C, a.D, true); err != nil {
		return fail(err)
	}
	if err := nnSCEPick(c, a, logp, loss, &frees); err != nil {
		return fail(err)
	}
	return outs, nil
}

// nnSCEPick takes each position's weighted -log p of its label from logp
// into loss (reduction none) or, through sce_reduce, its sum or mean; the
// buffers it uploads are freed with frees.
func nnSCEPick(c *ctx, a nnSCE, logp, loss *ir.Tensor, frees *nnFreeAll) error {
	P := a.N * a.D
	// wt carries Σw in its extra last element for sce_reduce.
	labD, free, err := nnUpload(c, ir.FromInt64([]int{P}, a.labels))
	if err != nil {
		return err
	}
	frees.add(free)
	wtD, free, err := nnUpload(c, nnF64(append(a.wt, a.wsum)))
	if err != nil {
		return err
	}
	frees.add(free)
	v, free, err := c.scratch(ir.Float64, []int{P})
	if err != nil {
		return err
	}
	frees.add(free)
	none := a.reduction == "none"
	lossPtr := nnPtr(c, nil)
	if none {
		lossPtr = c.ptr(loss)
	}
	if P > 0 {
		if err := c.launch(nnSrc, "sce_pick", P, c.ptr(logp), c.ptr(labD), c.ptr(wtD), c.ptr(v), lossPtr,
			int64(P), int64(a.C), int64(a.D)); err != nil {
			return err
		}
	}
	if !none {
		mean := int32(0)
		if a.reduction == "mean" {
			mean = 1
		}
		if err := nnRows(c, "sce_reduce", 1, P, nnPtr(c, v), c.ptr(wtD), c.ptr(loss), int64(P), mean); err != nil {
			return err
		}
	}
	return nil
}

// nnSCELossGrad is runtime/cpu sceLossGradKernel: dScores = coef·(exp(
// log_prob) − onehot(label)), with each position's coef (cotangent, weight
// and mean's 1/Σw; 0 when ignored) computed on the host as the CPU does.
func nnSCELossGrad(c *ctx, n *ir.Node, ins []*ir.Tensor) ([]*ir.Tensor, error) {
	dLoss, logp, labels, weights := input(ins, 0), input(ins, 1), input(ins, 2), input(ins, 3)
	if dLoss == nil || !dLoss.DType.IsFloat() || dLoss.Abstract {
		return nil, errFallback
	}
	a, ok, err := nnParseSCE(c, n, logp, labels, weights)
	if err != nil || !ok {
		return nil, orFallback(err)
	}
	if a.reduction == "none" {
		if !slices.Equal(dLoss.Shape, labels.Shape) {
			return nil, errFallback
		}
	} else if dLoss.Len() != 1 {
		return nil, errFallback
	}
	dh, err := c.host(dLoss)
	if err != nil {
		return nil, err
	}
	coef := make([]float64, len(a.wt))
	for p := range coef {
		coef[p] = a.wt[p]
		switch a.reduction {
		case "none":
			coef[p] *= dh.Float64At(p)
		case "sum":
			coef[p] *= dh.Float64At(0)
		default:
			if a.wsum == 0 {
				coef[p] = 0
			} else {
				coef[p] *= dh.Float64At(0) / a.wsum
			}
		}
	}
	if err := nnOnDevice(c, &logp); err != nil {
		return nil, err
	}
	var frees nnFreeAll
	defer frees.run()
	labD, free, err := nnUpload(c, ir.FromInt64([]int{len(a.labels)}, a.labels))
	if err != nil {
		return nil, err
	}
	frees.add(free)
	coefD, free, err := nnUpload(c, nnF64(coef))
	if err != nil {
		return nil, err
	}
	frees.add(free)
	out, err := c.out(ir.Float32, logp.Shape)
	if err != nil {
		return nil, err
	}
	if err := c.launch(nnElemSrc, "sce_grad_f32", out.Len(), c.ptr(logp), c.ptr(labD), c.ptr(coefD), c.ptr(out),
		int64(a.N), int64(a.C), int64(a.D)); err != nil {
		nnRelease(c, out)
		return nil, err
	}
	return []*ir.Tensor{out}, nil
}
