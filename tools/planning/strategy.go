package planning

import (
	"fmt"

	"crsc/compiler/memplan"
	"crsc/compiler/passes"
)

// Strategy is one way of training a step, from the ladder Fit climbs: each
// rung keeps less for backward than the one before at a higher estimated
// cost, so the first that fits a budget is the cheapest that does.
type Strategy struct {
	Name string
	// Cost says what the strategy gives up, for the printed choice.
	Cost string
	spec func(base passes.TrainingSpec) passes.TrainingSpec
}

// Spec is base (loss, trained parameters, LoRA) with the strategy's
// sampling, recomputation and stashes.
func (s Strategy) Spec(base passes.TrainingSpec) passes.TrainingSpec { return s.spec(base) }

// Strategies is the ladder, cheapest first. Recomputation is exact and
// costs time only (a GELU or a regenerated Dropout mask per element it
// saves); a bfloat16 stash adds a bounded error (each kept value read to
// 2^-9 relative; weight gradients within 1e-2 relative, passes/stash_test.go)
// and no time; 8-bit rows add a larger one (each kept value read to within
// 1/254 of its row's largest; weight gradients within 5e-2 relative, the
// same test), still far below sampling's; WTA-CRS sampling adds variance (the variance study's RMS
// relative error of a sampled weight gradient: 0.5–1.7 at keep 0.3, 1.1–2.9
// at keep 0.1, by ĝ source), so it comes last, keep 0.3 before 0.1.
// Memory rewrites (exact) are on in every rung.
func Strategies() []Strategy {
	exact := passes.SamplingSpec{}
	wta := func(keep float64) passes.SamplingSpec {
		return passes.SamplingSpec{Estimator: "wta", Keep: keep, MinRows: 10, GNorm: "none", Layers: "auto", Attention: true}
	}
	bf16 := func(kinds ...string) passes.StashSpec { return passes.StashSpec{DType: passes.StashBF16, Kinds: kinds} }
	int8 := func(kinds ...string) passes.StashSpec {
		if len(kinds) == 0 {
			return passes.StashSpec{DType: passes.StashInt8}
		}
		return passes.StashSpec{DType: passes.StashBF16, Int8Kinds: kinds}
	}
	rung := func(name, cost string, sampling passes.SamplingSpec, remat bool, stash passes.StashSpec) Strategy {
		return Strategy{Name: name, Cost: cost, spec: func(base passes.TrainingSpec) passes.TrainingSpec {
			base.Memory, base.Sampling, base.Remat, base.Stash = true, sampling, passes.RematSpec{Enabled: remat}, stash
			return base
		}}
	}
	// The stash kinds come one at a time, the ones whose rounding reaches
	// the fewest gradients first: a GELU input only GELU's gradient, a
	// softmax output softmax's and P·V's, an attention operand its
	// partner's and the Q/K/V projections', a norm output the norm's and
	// the next layer's weight gradients.
	return []Strategy{
		rung("exact", "nothing: exact float32", exact, false, passes.StashSpec{}),
		rung("exact + recompute", "GELU/Dropout outputs recomputed in backward (exact; a little time)", exact, true, passes.StashSpec{}),
		rung("exact + recompute + bf16 gelu", "that, and GELU inputs kept in bf16 (weight gradients within 1e-2 relative)", exact, true, bf16("gelu")),
		rung("exact + recompute + bf16 gelu,softmax", "that, and softmax outputs in bf16 too", exact, true, bf16("gelu", "softmax")),
		rung("exact + recompute + bf16 gelu,softmax,attention", "that, and the attention products' operands in bf16 too", exact, true, bf16("gelu", "softmax", "attention")),
		rung("exact + recompute + bf16", "that, and norm outputs in bf16 too", exact, true, bf16()),
		rung("exact + recompute + int8 gelu,softmax,attention", "that, with GELU inputs, softmax outputs and attention operands in 8-bit rows (weight gradients within 5e-2 relative)", exact, true, int8("gelu", "softmax", "attention")),
		rung("exact + recompute + int8", "that, and norm outputs in 8-bit rows too", exact, true, int8()),
		rung("WTA@0.3 + recompute + int8", "that, and 30 % of the rows kept for linear-layer and attention weight gradients (unbiased; added variance), in 8-bit rows", wta(0.3), true, int8()),
		rung("WTA@0.1 + recompute + int8", "that, with 10 % of the rows (more variance)", wta(0.1), true, int8()),
	}
}

// Tried is one strategy Fit planned.
type Tried struct {
	Strategy Strategy
	Peak     int64
	Fits     bool
}

// Fit plans req with each strategy of the ladder in turn (req.Spec gives
// the loss, the trained parameters and LoRA) and returns the index of the
// first whose planned peak is within budget, with its result, and every
// strategy it tried. When none fits it returns an error naming the
// smallest peak it reached: the least budget it could meet at this batch.
func Fit(req Request, budget int64) (int, []Tried, *Result, error) {
	var tried []Tried
	for i, s := range Strategies() {
		r := req
		r.Spec = s.Spec(req.Spec)
		res, err := Plan(r)
		if err != nil {
			return -1, tried, nil, fmt.Errorf("%s: %v", s.Name, err)
		}
		fits := res.PlannedPeakBytes <= budget
		tried = append(tried, Tried{Strategy: s, Peak: res.PlannedPeakBytes, Fits: fits})
		if fits {
			return i, tried, res, nil
		}
	}
	least := tried[len(tried)-1].Peak
	more := ""
	if req.Spec.LoRA.Rank == 0 {
		more = ", or --lora R"
	}
	return -1, tried, nil, fmt.Errorf("--memory-budget %s: no strategy fits batch %d (the leanest, %s, needs %s): give at least that, a smaller batch%s",
		memplan.FormatBytes(budget), req.Batch, tried[len(tried)-1].Strategy.Name, memplan.FormatBytes(least), more)
}
