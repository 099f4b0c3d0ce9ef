package passes_test

import (
	"slices"
	"testing"

	"crsc/compiler/passes"
)

// TestRematExact: recomputing GELU and Dropout (its mask regenerated)
// outputs in backward leaves the loss and every gradient bit for bit
// as they were, while what backward keeps goes down by exactly the bytes
// of the recomputed values, which the plan lists as recomputed.
func TestRematExact(t *testing.T) {
	for _, tc := range []struct {
		name, model string
		sampling    passes.SamplingSpec
		ops         []string // ops that must be among the recomputed
	}{
		{"eval export, exact", "bert_tiny_cls.op13.eval.onnx", passes.SamplingSpec{}, []string{"com.microsoft.Gelu"}},
		{"train export (Dropout), exact", "bert_tiny_cls.op17.train.onnx", passes.SamplingSpec{}, []string{"com.microsoft.Gelu", "Dropout"}},
		{"train export, wta@0.3", "bert_tiny_cls.op17.train.onnx", passes.SamplingSpec{Estimator: "wta", Keep: 0.3, Layers: "auto"}, []string{"Dropout"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			feeds := tinyBertFeeds(9)
			ref, _, refPlan, _ := compileRun(t, tc.model, passes.TrainingSpec{Sampling: tc.sampling}, feeds)
			got, tr, plan, _ := compileRun(t, tc.model, passes.TrainingSpec{Sampling: tc.sampling, Remat: passes.RematSpec{Enabled: true}}, feeds)
			var saved int64
			var ops []string
			for _, d := range tr.Recomputed {
				saved += d.Bytes
				ops = append(ops, d.Op)
			}
			for _, op := range tc.ops {
				if !slices.Contains(ops, op) {
					t.Errorf("no %s recomputed (got %v)", op, ops)
				}
			}
			if d := refPlan.SavedActivationBytes - plan.SavedActivationBytes; d != saved {
				t.Errorf("kept for backward went down by %d bytes, want %d", d, saved)
			}
			if len(plan.Recomputed) != len(tr.Recomputed) || plan.RecomputedBytes != saved {
				t.Errorf("the plan lists %d recomputed (%d bytes), the pass made %d (%d bytes)", len(plan.Recomputed), plan.RecomputedBytes, len(tr.Recomputed), saved)
			}
			for name, want := range ref {
				if !slices.Equal(got[name].F32, want.F32) {
					t.Errorf("%s changed", name)
				}
			}
		})
	}
}
