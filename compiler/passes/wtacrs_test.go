package passes_test

import (
	"math"
	"math/rand"
	"testing"

	"crsc/compiler/ir"
	"crsc/compiler/passes"
	"crsc/internal/testutil"
	"crsc/runtime"
)

// sampledBert compiles the tiny BERT (batch 4 × 16 = 64 rows per linear
// layer) for the VJP of its logits, with every linear layer sampled.
func sampledBert(t *testing.T, estimator string, keep float64) (*ir.Graph, *passes.Training, map[string]*ir.Tensor) {
	t.Helper()
	g := loadTinyBert(t)
	spec := passes.TrainingSpec{Loss: passes.LossSpec{Kind: passes.LossVJP, Output: "logits"}}
	if estimator != "" {
		spec.Sampling = passes.SamplingSpec{Estimator: estimator, Keep: keep, Layers: "all"}
	}
	tr, err := passes.Compile(g, spec)
	if err != nil {
		t.Fatal(err)
	}
	return g, tr, tinyBertFeeds(11)
}

// loadTinyBert loads the tiny BERT export bound to batch 4 × 16.
func loadTinyBert(t *testing.T) *ir.Graph {
	t.Helper()
	return testutil.LoadFile(t, "../../testdata/onnx/bert_tiny_cls.op13.eval.onnx", map[string]ir.Shape{"input_ids": ir.StaticShape(4, 16)})
}

// tinyBertFeeds are random inputs of a tiny BERT at 4 × 16 (vocab 120)
// and a random cotangent of its logits.
func tinyBertFeeds(seed int64) map[string]*ir.Tensor {
	r := rand.New(rand.NewSource(seed))
	ids, ones := make([]int64, 64), make([]int64, 64)
	for i := range ids {
		ids[i], ones[i] = int64(1+r.Intn(119)), 1
	}
	cot := ir.NewTensor(ir.Float32, 4, 2)
	for i := range cot.F32 {
		cot.F32[i] = float32(r.NormFloat64())
	}
	return map[string]*ir.Tensor{
		"input_ids":        ir.FromInt64([]int{4, 16}, ids),
		"attention_mask":   ir.FromInt64([]int{4, 16}, ones),
		"token_type_ids":   ir.FromInt64([]int{4, 16}, make([]int64, 64)),
		"logits_cotangent": cot,
	}
}

// sampledWeights returns, concatenated, the gradients of the weights whose
// layers were sampled.
func sampledWeights(t *testing.T, g *ir.Graph, tr *passes.Training, feeds map[string]*ir.Tensor, seed uint64) []float64 {
	res := testutil.Run(t, g, feeds, runtime.Options{Seed: seed})
	sampled := map[string]bool{}
	for _, d := range tr.Layers {
		if d.Sampled {
			sampled[d.Weight] = true
		}
	}
	var out []float64
	for _, pg := range tr.Trained {
		if sampled[pg.Param.Name] {
			grad := res[pg.Grad.Name]
			for i := 0; i < grad.Len(); i++ {
				out = append(out, grad.Float64At(i))
			}
		}
	}
	return out
}

// TestKeepOneIsExact: with keep = 1 every estimator keeps all rows, and the
// gradients are bit-identical to the exact graph's.
func TestKeepOneIsExact(t *testing.T) {
	g, tr, feeds := sampledBert(t, "", 1)
	exact := testutil.Run(t, g, feeds, runtime.Options{})
	for _, est := range []string{"wta", "crs", "topk"} {
		gs, trs, _ := sampledBert(t, est, 1)
		if n := len(trs.Layers); n != 12 {
			t.Fatalf("%s: %d linear layers, want 12", est, n)
		}
		got := testutil.Run(t, gs, feeds, runtime.Options{Seed: 5})
		for i, pg := range tr.Trained {
			a, b := exact[pg.Grad.Name].F32, got[trs.Trained[i].Grad.Name].F32
			for j := range a {
				if math.Float32bits(a[j]) != math.Float32bits(b[j]) {
					t.Fatalf("%s keep 1: %s[%d] = %g, exact %g", est, pg.Param.Name, j, b[j], a[j])
				}
			}
		}
	}
}

// TestEstimatorsConverge: averaged over seeds, the wta and crs weight
// gradients converge to the exact ones with error shrinking like 1/√S,
// while topk stays biased.
func TestEstimatorsConverge(t *testing.T) {
	_, _, feeds := sampledBert(t, "", 1)
	relErrOfMean := func(est string, seeds int) float64 {
		gs, trs, _ := sampledBert(t, est, 0.3)
		// The exact gradients of the same (sampled) weights.
		ge, tre, _ := sampledBert(t, "", 1)
		ref := map[string][]float64{}
		res := testutil.Run(t, ge, feeds, runtime.Options{})
		for _, pg := range tre.Trained {
			grad := res[pg.Grad.Name]
			v := make([]float64, grad.Len())
			for i := range v {
				v[i] = grad.Float64At(i)
			}
			ref[pg.Param.Name] = v
		}
		var want []float64
		sampled := map[string]bool{}
		for _, d := range trs.Layers {
			if d.Sampled {
				sampled[d.Weight] = true
			}
		}
		for _, pg := range trs.Trained {
			if sampled[pg.Param.Name] {
				want = append(want, ref[pg.Param.Name]...)
			}
		}
		mean := make([]float64, len(want))
		for s := 0; s < seeds; s++ {
			for i, v := range sampledWeights(t, gs, trs, feeds, uint64(s+1)) {
				mean[i] += v / float64(seeds)
			}
		}
		var num, den float64
		for i := range want {
			num += (mean[i] - want[i]) * (mean[i] - want[i])
			den += want[i] * want[i]
		}
		return math.Sqrt(num / den)
	}
	for _, est := range []string{"wta", "crs"} {
		e16, e256 := relErrOfMean(est, 16), relErrOfMean(est, 256)
		t.Logf("%s: relative error of the mean over 16 seeds %.4f, over 256 seeds %.4f (ratio %.2f, 1/√S predicts 4)", est, e16, e256, e16/e256)
		if e16/e256 < 2.5 {
			t.Errorf("%s does not converge like 1/√S: %.4f → %.4f", est, e16, e256)
		}
	}
	t16, t256 := relErrOfMean("topk", 16), relErrOfMean("topk", 256)
	t.Logf("topk: %.4f → %.4f (biased: does not shrink)", t16, t256)
	if t256 < 0.5*t16 || t256 < 0.01 {
		t.Errorf("topk should stay biased: %.4f → %.4f", t16, t256)
	}
}
