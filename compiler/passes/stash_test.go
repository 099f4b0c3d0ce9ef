package passes_test

import (
	"math"
	"strings"
	"testing"

	"crsc/compiler/ir"
	"crsc/compiler/memplan"
	"crsc/compiler/onnx"
	"crsc/compiler/passes"
	"crsc/runtime"
)

// stashGradBound is the relative error (‖Δ‖/‖g‖ per weight gradient) that
// a bfloat16 stash may add to the float32-stash gradients. Each kept value
// is read rounded to 2^-9 relative; the gradients average many such
// products, so their error is of that order, not a sum of them.
const stashGradBound = 1e-2

// stashZeroBound is the error, as a fraction of the largest gradient's
// norm, allowed on gradients under 1 % of it (zero by symmetry).
const stashZeroBound = 5e-4

// TestStashGradients: the tiny BERT with every stash kind in bfloat16
// gives each weight gradient within stashGradBound of the float32 stash
// (same seed, so the same Dropout masks and sampled rows), run in its
// memory plan; the loss is unchanged bit for bit (forward reads float32);
// and what backward keeps shrinks by exactly the bytes the stashes save.
func TestStashGradients(t *testing.T) {
	for _, tc := range []struct {
		name     string
		sampling passes.SamplingSpec
		kinds    []string
		want     []string // kinds that must be among the stashes
	}{
		{"exact", passes.SamplingSpec{}, nil, []string{"softmax", "norm", "gelu", "attention"}},
		{"wta@0.3 attention", passes.SamplingSpec{Estimator: "wta", Keep: 0.3, Layers: "auto", Attention: true}, nil, []string{"softmax", "norm", "gelu", "sampled"}},
		{"wta@0.3 sampled rows only", passes.SamplingSpec{Estimator: "wta", Keep: 0.3, Layers: "auto"}, []string{"sampled"}, []string{"sampled"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			feeds := tinyBertFeeds(5)
			ref, refTr, refPlan := stashRun(t, tc.sampling, passes.StashSpec{}, feeds)
			got, tr, plan := stashRun(t, tc.sampling, passes.StashSpec{DType: "bf16", Kinds: tc.kinds}, feeds)
			if len(refTr.Stashed) != 0 {
				t.Fatalf("no stash asked for, %d made", len(refTr.Stashed))
			}
			kinds := map[string]bool{}
			var saved int64
			for _, d := range tr.Stashed {
				kinds[d.Kind] = true
				saved += 4*int64(d.Elems) - ir.BFloat16.StorageBytes(d.Elems)
			}
			for _, k := range tc.want {
				if !kinds[k] {
					t.Errorf("no %s stash among %d", k, len(tr.Stashed))
				}
			}
			if len(tc.kinds) > 0 && len(kinds) != len(tc.kinds) {
				t.Errorf("asked for %v, got %v", tc.kinds, kinds)
			}
			if d := refPlan.SavedActivationBytes - plan.SavedActivationBytes; d != saved {
				t.Errorf("kept for backward went down by %d bytes, want %d", d, saved)
			}
			if a, b := ref[passes.LossName].F32[0], got[passes.LossName].F32[0]; a != b {
				t.Errorf("loss %v with the bf16 stash, %v without: forward must not change", b, a)
			}
			// Key biases have a zero true gradient (softmax ignores a
			// per-row shift), so both sides hold only noise; with the
			// softmax output read in bf16 its rows no longer sum to 1
			// exactly, and that noise grows to about 1e-4 of the largest
			// gradient. Gradients under 1 % of the largest are held to
			// an absolute bound instead.
			largest := 0.0
			for _, pg := range tr.Trained {
				largest = math.Max(largest, norm(ref[pg.Grad.Name]))
			}
			worst, at := 0.0, ""
			for _, pg := range tr.Trained {
				want, have := ref[pg.Grad.Name], got[pg.Grad.Name]
				if norm(want) < 1e-2*largest {
					if d := relErr(have, want, largest); d > stashZeroBound || math.IsNaN(d) {
						t.Errorf("%s (gradient %.3g of the largest): error %.3g of the largest (bound %g)", pg.Param.Name, norm(want)/largest, d, stashZeroBound)
					}
					continue
				}
				e := relErr(have, want, 0)
				if e > stashGradBound || math.IsNaN(e) {
					t.Errorf("%s: relative error %.3g (bound %g)", pg.Param.Name, e, stashGradBound)
				}
				if e > worst {
					worst, at = e, pg.Param.Name
				}
			}
			t.Logf("%d stashes; worst relative error %.3g (%s)", len(tr.Stashed), worst, at)
		})
	}
}

// compileRun loads a tiny BERT export at 4 × 16, compiles its logits' VJP
// with spec, plans it and runs it in the plan (seed 11).
func compileRun(t *testing.T, model string, spec passes.TrainingSpec, feeds map[string]*ir.Tensor) (map[string]*ir.Tensor, *passes.Training, *memplan.MemPlan, runtime.Stats) {
	t.Helper()
	g, err := onnx.Load("../../testdata/onnx/" + model)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &passes.Config{Shapes: map[string]ir.Shape{"input_ids": ir.StaticShape(4, 16)}, Supports: runtime.CPU(runtime.Options{}).Supports}
	if err := passes.Run(g, passes.Load, cfg); err != nil {
		t.Fatal(err)
	}
	spec.Loss = passes.LossSpec{Kind: passes.LossVJP, Output: "logits"}
	spec.Memory = true
	tr, err := passes.Compile(g, spec)
	if err != nil {
		t.Fatal(err)
	}
	p, err := memplan.Plan(g, memplan.Options{ForwardEnd: memplan.ForwardEnd(g)})
	if err != nil {
		t.Fatal(err)
	}
	var stats runtime.Stats
	res, err := runtime.Run(g, feeds, runtime.Options{Seed: 11, Plan: p, Stats: &stats})
	if err != nil {
		t.Fatal(err)
	}
	return res, tr, p, stats
}

// stashRun is compileRun of the tiny BERT's eval export with the given
// sampling and stash, checking that every stash cast got its slot.
func stashRun(t *testing.T, sampling passes.SamplingSpec, stash passes.StashSpec, feeds map[string]*ir.Tensor) (map[string]*ir.Tensor, *passes.Training, *memplan.MemPlan) {
	t.Helper()
	res, tr, p, stats := compileRun(t, "bert_tiny_cls.op13.eval.onnx", passes.TrainingSpec{Sampling: sampling, Stash: stash}, feeds)
	for _, n := range stats.Unplanned {
		if strings.Contains(n, "stash/") {
			t.Errorf("%s missed its planned slot", n)
		}
	}
	return res, tr, p
}

func TestStashSpecErrors(t *testing.T) {
	for _, tc := range []struct {
		spec passes.StashSpec
		want string
	}{
		{passes.StashSpec{DType: "fp8"}, `stash dtype "fp8": want bf16 or none`},
		{passes.StashSpec{DType: "bf16", Kinds: []string{"relu"}}, `stash kind "relu": want one of softmax, norm, gelu, sampled, attention`},
		{passes.StashSpec{Kinds: []string{"softmax"}}, `stash kinds softmax without a stash type: give --stash bf16 with them`},
	} {
		_, err := passes.Compile(loadTinyBert(t), passes.TrainingSpec{Loss: passes.LossSpec{Kind: passes.LossVJP, Output: "logits"}, Stash: tc.spec})
		if err == nil || err.Error() != tc.want {
			t.Errorf("%+v: got %v, want %q", tc.spec, err, tc.want)
		}
	}
}
