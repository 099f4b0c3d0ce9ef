package passes_test

import (
	"math"
	"slices"
	"strings"
	"testing"

	"crsc/compiler/ir"
	"crsc/compiler/memplan"
	"crsc/compiler/passes"
	"crsc/internal/testutil"
	"crsc/runtime"
)

// stashGradBound is the relative error (‖Δ‖/‖g‖ per weight gradient) that
// a bfloat16 stash may add to the float32-stash gradients. Each kept value
// is read rounded to 2^-9 relative; the gradients average many such
// products, so their error is of that order, not a sum of them.
const stashGradBound = 1e-2

// stashInt8GradBound is the same bound for 8-bit rows: each kept value is
// read to within max|row|/254, an error up to 2^-1·2^-7 of the row's
// largest value rather than of the value itself; summed over the rows of
// a weight gradient the independent rounding errors partly cancel.
const stashInt8GradBound = 5e-2

// stashZeroBound is the error, as a fraction of the largest gradient's
// norm, allowed on gradients under 1 % of it (zero by symmetry).
const stashZeroBound = 5e-4

// stashInt8ZeroBound is that bound for 8-bit rows: a softmax row read in 8
// bits sums to 1 only within about 1/254 of its largest probability, so the
// noise on the key biases (zero by symmetry) grows with it.
const stashInt8ZeroBound = 2e-3

// TestStashGradients: the tiny BERT with every stash kind in bfloat16
// gives each weight gradient within stashGradBound of the float32 stash
// (same seed, so the same Dropout masks and sampled rows), run in its
// memory plan; the loss is unchanged bit for bit (forward reads float32);
// and what backward keeps shrinks by exactly the bytes the stashes save.
func TestStashGradients(t *testing.T) {
	for _, tc := range []struct {
		name     string
		sampling passes.SamplingSpec
		stash    passes.StashSpec
		want     []string // kinds that must be among the stashes
		int8     int      // -1: every stash must be 8-bit rows
		bound    float64  // on each weight gradient's relative error
	}{
		{"exact", passes.SamplingSpec{}, passes.StashSpec{DType: "bf16"}, []string{"softmax", "norm", "gelu", "attention"}, 0, stashGradBound},
		{"wta@0.3 attention", wta03Attention, passes.StashSpec{DType: "bf16"}, []string{"softmax", "norm", "gelu", "sampled"}, 0, stashGradBound},
		{"wta@0.3 sampled rows only", wta03, passes.StashSpec{DType: "bf16", Kinds: []string{"sampled"}}, []string{"sampled"}, 0, stashGradBound},
		{"int8 exact", passes.SamplingSpec{}, passes.StashSpec{DType: "int8"}, []string{"softmax", "norm", "gelu", "attention"}, -1, stashInt8GradBound},
		{"int8 wta@0.3 attention", wta03Attention, passes.StashSpec{DType: "int8"}, []string{"softmax", "norm", "gelu", "sampled"}, -1, stashInt8GradBound},
		{"mixed wta@0.3: sampled and softmax int8", wta03Attention, passes.StashSpec{DType: "bf16", Int8Kinds: []string{"sampled", "softmax"}}, []string{"softmax", "norm", "gelu", "sampled"}, 0, stashInt8GradBound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			feeds := tinyBertFeeds(5)
			ref, refTr, refPlan := stashRun(t, tc.sampling, passes.StashSpec{}, feeds)
			got, tr, plan := stashRun(t, tc.sampling, tc.stash, feeds)
			if len(refTr.Stashed) != 0 {
				t.Fatalf("no stash asked for, %d made", len(refTr.Stashed))
			}
			saved, int8s := checkStashed(t, tc.stash, tr.Stashed, tc.want)
			if tc.int8 < 0 && int8s != len(tr.Stashed) {
				t.Errorf("%d 8-bit stashes among %d, want all", int8s, len(tr.Stashed))
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
					zero := stashZeroBound
					if tc.bound == stashInt8GradBound {
						zero = stashInt8ZeroBound
					}
					if d := relErr(have, want, largest); d > zero || math.IsNaN(d) {
						t.Errorf("%s (gradient %.3g of the largest): error %.3g of the largest (bound %g)", pg.Param.Name, norm(want)/largest, d, zero)
					}
					continue
				}
				e := relErr(have, want, 0)
				if e > tc.bound || math.IsNaN(e) {
					t.Errorf("%s: relative error %.3g (bound %g)", pg.Param.Name, e, tc.bound)
				}
				if e > worst {
					worst, at = e, pg.Param.Name
				}
			}
			t.Logf("%d stashes (%d in 8 bits), %d bytes fewer kept; worst relative error %.3g (%s)", len(tr.Stashed), int8s, saved, worst, at)
		})
	}
}

// compileRun loads a tiny BERT export at 4 × 16, compiles its logits' VJP
// with spec, plans it and runs it in the plan (seed 11).
func compileRun(t *testing.T, model string, spec passes.TrainingSpec, feeds map[string]*ir.Tensor) (map[string]*ir.Tensor, *passes.Training, *memplan.MemPlan, runtime.Stats) {
	t.Helper()
	g := testutil.LoadFile(t, "../../testdata/onnx/"+model, map[string]ir.Shape{"input_ids": ir.StaticShape(4, 16)})
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
	res := testutil.Run(t, g, feeds, runtime.Options{Seed: 11, Plan: p, Stats: &stats})
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
		{passes.StashSpec{DType: "fp8"}, `stash dtype "fp8": want bf16, int8 or none`},
		{passes.StashSpec{DType: "int8", Int8Kinds: []string{"softmax"}}, `8-bit stash kinds softmax with --stash int8, which keeps every kind in 8 bits: give them with --stash bf16`},
		{passes.StashSpec{DType: "bf16", Kinds: []string{"norm"}, Int8Kinds: []string{"softmax"}}, `8-bit stash kind "softmax" is not among the stash kinds norm`},
		{passes.StashSpec{DType: "bf16", Int8Kinds: []string{"relu"}}, `stash kind "relu": want one of softmax, norm, gelu, sampled, attention`},
		{passes.StashSpec{DType: "bf16", Kinds: []string{"relu"}}, `stash kind "relu": want one of softmax, norm, gelu, sampled, attention`},
		{passes.StashSpec{Kinds: []string{"softmax"}}, `stash kinds softmax without a stash type: give --stash bf16 with them`},
	} {
		_, err := passes.Compile(loadTinyBert(t), passes.TrainingSpec{Loss: passes.LossSpec{Kind: passes.LossVJP, Output: "logits"}, Stash: tc.spec})
		if err == nil || err.Error() != tc.want {
			t.Errorf("%+v: got %v, want %q", tc.spec, err, tc.want)
		}
	}
}

var (
	wta03          = passes.SamplingSpec{Estimator: "wta", Keep: 0.3, Layers: "auto"}
	wta03Attention = passes.SamplingSpec{Estimator: "wta", Keep: 0.3, Layers: "auto", Attention: true}
)

// checkStashed checks the stash pass's decisions against spec: every kind
// in want among them, only the asked kinds when spec narrows them, 8-bit
// rows only where asked (and some where Int8Kinds asks). It returns the
// bytes the stashes save against float32 and how many are 8-bit.
func checkStashed(t *testing.T, spec passes.StashSpec, stashed []passes.StashDecision, want []string) (saved int64, int8s int) {
	t.Helper()
	kinds := map[string]bool{}
	for _, d := range stashed {
		kinds[d.Kind] = true
		saved += 4*int64(d.Elems) - d.Bytes
		if d.DType == passes.StashInt8 {
			int8s++
			if spec.DType != passes.StashInt8 && !slices.Contains(spec.Int8Kinds, d.Kind) {
				t.Errorf("%s (%s) kept in 8 bits, not asked for", d.Value, d.Kind)
			}
		}
	}
	if len(spec.Int8Kinds) > 0 && int8s == 0 {
		t.Errorf("no 8-bit stash among %d for --stash-int8 %v", len(stashed), spec.Int8Kinds)
	}
	for _, k := range want {
		if !kinds[k] {
			t.Errorf("no %s stash among %d", k, len(stashed))
		}
	}
	if len(spec.Kinds) > 0 && len(kinds) != len(spec.Kinds) {
		t.Errorf("asked for %v, got %v", spec.Kinds, kinds)
	}
	return saved, int8s
}
