package passes_test

import (
	"math"
	"testing"

	"crsc/compiler/ir"
	"crsc/compiler/models"
	"crsc/compiler/passes"
	"crsc/internal/testutil"
	"crsc/runtime"
)

// dropoutBert compiles a tiny BERT of heads heads with training-mode
// Dropout 0.1 (also on the attention probabilities) for the VJP of its
// logits.
func dropoutBert(t *testing.T, heads int, sampling passes.SamplingSpec) (*ir.Graph, *passes.Training) {
	t.Helper()
	cfg := models.BertConfig{Vocab: 120, MaxPositions: 64, TypeVocab: 2, Hidden: 32, Layers: 2, Heads: heads, FFN: 64, Labels: 2}
	g, err := models.BuildBertWith(cfg, models.BuildOptions{Seed: 3, Dropout: 0.1})
	if err != nil {
		t.Fatal(err)
	}
	testutil.LoadShapes(t, g, map[string]ir.Shape{"input_ids": ir.StaticShape(4, 16)})
	tr, err := passes.Compile(g, passes.TrainingSpec{Loss: passes.LossSpec{Kind: passes.LossVJP, Output: "logits"}, Memory: true, Sampling: sampling})
	if err != nil {
		t.Fatal(err)
	}
	return g, tr
}

// runPair runs the exact and the sampled graph on feeds with one seed and
// step, so their regenerated Dropout masks agree.
func runPair(t *testing.T, exact, g *ir.Graph, feeds map[string]*ir.Tensor) (want, got map[string]*ir.Tensor) {
	t.Helper()
	opt := runtime.Options{Seed: 9, Step: 2}
	return testutil.Run(t, exact, feeds, opt), testutil.Run(t, g, feeds, opt)
}

// TestAttentionRecomputesDroppedProbabilities: in P·V with P' = Dropout(P),
// P is kept for softmax's gradient, so dV reads P' rebuilt from P with the
// regenerated mask instead of sampling it; with keep 1 every gradient stays
// bit-identical to the exact graph's.
func TestAttentionRecomputesDroppedProbabilities(t *testing.T) {
	exact, ex := dropoutBert(t, 2, passes.SamplingSpec{})
	g, tr := dropoutBert(t, 2, passes.SamplingSpec{Estimator: "wta", Keep: 1, Layers: "auto", Attention: true})
	recomputed := 0
	for _, d := range tr.Attention {
		if d.Recomputed {
			recomputed++
			if d.Side != "dB" {
				t.Errorf("%s %s recomputed; only P' (the A of P'·V) should be", d.Node, d.Side)
			}
		}
	}
	if recomputed != 2 {
		t.Fatalf("%d attention operands recomputed, want 2 (P' of each layer): %+v", recomputed, tr.Attention)
	}
	feeds := tinyBertFeeds(5)
	want, got := runPair(t, exact, g, feeds)
	for i, pg := range ex.Trained {
		a, b := want[pg.Grad.Name].F32, got[tr.Trained[i].Grad.Name].F32
		for j := range a {
			if math.Float32bits(a[j]) != math.Float32bits(b[j]) {
				t.Fatalf("%s[%d] = %g, exact %g", pg.Param.Name, j, b[j], a[j])
			}
		}
	}
}
