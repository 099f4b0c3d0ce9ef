package ir

import (
	"fmt"
	"math"
	"strconv"
)

// sampleInferRules are the shape rules of the WTA-CRS sampling ops (kernels
// in runtime/cpu/sample.go; the method is /shared/WTACRS.md):
//
//	SampleRows(X [..., N, d], gnorm? [..., N], mask? [..., N]) → Xs [..., k, d], idx [..., k] int64
//	GatherRows(X [..., N, d], idx [..., k])    → [..., k, d]
//	RowNorms(X [..., N, d])                    → [..., N]
func sampleInferRules() map[string]InferFunc {
	return map[string]InferFunc{
		"ai.crsc.SampleRows": inferSampleRows,
		"ai.crsc.GatherRows": inferGatherRows,
		"ai.crsc.RowNorms":   inferRowNorms,
	}
}

// SampleEstimators are the values of SampleRows' estimator attribute.
var SampleEstimators = []string{"exact", "crs", "topk", "wta"}

// SampleRowsAttrs are SampleRows' attributes as typed fields: the WTA-CRS
// passes write them through Attrs, SampleParams reads them back.
type SampleRowsAttrs struct {
	Keep      float32
	MinRows   int64
	Estimator string
}

// Attrs is the node attributes that carry s.
func (s SampleRowsAttrs) Attrs() Attrs {
	return Attrs{"keep": FloatAttr(s.Keep), "min_rows": IntAttr(s.MinRows), "estimator": StringAttr(s.Estimator)}
}

// SampleParams reads SampleRows' attributes: keep (required float), min_rows
// (int, default 10) and estimator (default "wta"). Shape inference and the
// kernels share it so they agree on k.
func SampleParams(a Attrs) (keep float32, minRows int64, estimator string, err error) {
	if !a.Has("keep") {
		return 0, 0, "", fmt.Errorf("SampleRows needs the keep attribute")
	}
	keep = a.Float("keep", 0)
	if !(keep >= 0) || math.IsInf(float64(keep), 0) {
		return 0, 0, "", fmt.Errorf("keep %v must be a finite ratio >= 0", keep)
	}
	minRows = a.Int("min_rows", 10)
	if minRows < 0 {
		return 0, 0, "", fmt.Errorf("min_rows %d must be >= 0", minRows)
	}
	estimator = a.String("estimator", "wta")
	for _, e := range SampleEstimators {
		if e == estimator {
			return keep, minRows, estimator, nil
		}
	}
	return 0, 0, "", fmt.Errorf("unknown estimator %q (want one of %v)", estimator, SampleEstimators)
}

// SampleBudget is the number of rows SampleRows keeps out of n:
// k = min(max(⌊keep·n⌋, min_rows), n), and k = n for the exact estimator.
//
// keep arrives as a float32 attribute, so 0.7 is stored as 0.69999999; ⌊keep·n⌋
// is taken on the shortest decimal that round-trips the float32 (0.7), read
// as a float64, plus 1e-9 so that a product landing a rounding error below an
// integer counts as that integer. Every backend computes k through here.
func SampleBudget(keep float32, minRows int64, estimator string, n int64) int64 {
	if estimator == "exact" || n <= 0 {
		return max(n, 0)
	}
	dec, err := strconv.ParseFloat(strconv.FormatFloat(float64(keep), 'g', -1, 32), 64)
	if err != nil { // cannot happen for a finite float
		dec = float64(keep)
	}
	prod := dec*float64(n) + 1e-9
	if prod >= float64(n) {
		return n
	}
	return min(max(int64(math.Floor(prod)), minRows), n)
}

// inferSampleRows: Xs is [..., k, d] with X's dtype and idx [..., k] int64,
// with k from SampleBudget when N is fixed; when N is symbolic k is exact
// only if it must equal N (estimator exact, keep ≥ 1), otherwise unknown
// (planning binds every shape before running).
func inferSampleRows(n *Node) error {
	x := n.In(0)
	if x == nil {
		return fmt.Errorf("SampleRows needs input X")
	}
	keep, minRows, est, err := SampleParams(n.Attrs)
	if err != nil {
		return err
	}
	xs := n.Outputs[0]
	var idx *Value
	if len(n.Outputs) > 1 {
		idx = n.Outputs[1]
	}
	xs.DType = x.DType
	if idx != nil {
		idx.DType = Int64
	}
	if !x.HasShape {
		return nil
	}
	r := len(x.Shape)
	if r < 2 {
		return fmt.Errorf("X must have rank >= 2 ([..., N, d]), got %v", x.Shape)
	}
	if g := n.In(1); g != nil && g.HasShape && !mayEqual(g.Shape, x.Shape[:r-1]) {
		return fmt.Errorf("gnorm shape %v, want %v (X's shape without its last axis)", g.Shape, x.Shape[:r-1])
	}
	if m := n.In(2); m != nil && m.HasShape && !mayEqual(m.Shape, x.Shape[:r-1]) {
		return fmt.Errorf("mask shape %v, want %v (X's shape without its last axis)", m.Shape, x.Shape[:r-1])
	}
	N := x.Shape[r-2]
	var k Dim
	switch {
	case N.IsFixed():
		k = Fixed(SampleBudget(keep, minRows, est, N.Size))
	case est == "exact" || keep >= 1:
		k = N
	default:
		k = UnknownDim
	}
	lead := x.Shape[:r-2]
	xs.SetType(x.DType, append(append(lead.Clone(), k), x.Shape[r-1]))
	if idx != nil {
		idx.SetType(Int64, append(lead.Clone(), k))
	}
	return nil
}

// inferGatherRows: the output is idx's shape plus X's row length d, with X's
// dtype; leading dims of X and idx must agree where both are fixed.
func inferGatherRows(n *Node) error {
	x, idx := n.In(0), n.In(1)
	if x == nil || idx == nil {
		return fmt.Errorf("GatherRows needs inputs X and idx")
	}
	n.Outputs[0].DType = x.DType
	if !x.HasShape || !idx.HasShape {
		return nil
	}
	r := len(x.Shape)
	if r < 2 {
		return fmt.Errorf("X must have rank >= 2 ([..., N, d]), got %v", x.Shape)
	}
	if len(idx.Shape) != r-1 || !mayEqual(idx.Shape[:r-2], x.Shape[:r-2]) {
		return fmt.Errorf("idx shape %v does not match X %v (want [..., k] with X's leading dims)", idx.Shape, x.Shape)
	}
	n.Outputs[0].SetType(x.DType, append(idx.Shape.Clone(), x.Shape[r-1]))
	return nil
}

// inferRowNorms: the output is X's shape without its last axis.
func inferRowNorms(n *Node) error {
	x := n.In(0)
	if x == nil {
		return fmt.Errorf("RowNorms needs input X")
	}
	n.Outputs[0].DType = x.DType
	if !x.HasShape {
		return nil
	}
	if len(x.Shape) < 1 {
		return fmt.Errorf("X must have rank >= 1, got a scalar")
	}
	n.Outputs[0].SetType(x.DType, x.Shape[:len(x.Shape)-1].Clone())
	return nil
}
