package main

// Checks of flag values, shared by the commands. Each check returns nil
// or a one-line error that names the flag, the value given and what is
// accepted, e.g.
//
//	--dropout 2: want a number in [0, 1)
//	--top -1: want an integer ≥ 0
//
// Flags are named as registered, without the dashes. Commands run them
// first in RunE, before any work, through firstError:
//
//	if err := firstError(
//		checkInt("batch", batch, 1, noLimit),
//		checkBelow("dropout", dropout, 0, 1),
//	); err != nil {
//		return err
//	}

import (
	"fmt"
	"math"
	"regexp"
	"strings"

	"crsc/compiler/ir"
	"crsc/compiler/models"
	"crsc/compiler/passes"
)

// noLimit is checkInt's hi for a flag with no upper bound.
const noLimit = math.MaxInt

// checkRange accepts a finite v with lo ≤ v ≤ hi. hi may be math.Inf(1)
// for no upper bound.
func checkRange(flag string, v, lo, hi float64) error {
	return checkInterval(flag, v, lo, hi, false, false)
}

// checkBelow accepts a finite v with lo ≤ v < hi (a dropout ratio: [0, 1)).
func checkBelow(flag string, v, lo, hi float64) error {
	return checkInterval(flag, v, lo, hi, false, true)
}

// checkAbove accepts a finite v with lo < v ≤ hi (a kept fraction: (0, 1]).
func checkAbove(flag string, v, lo, hi float64) error {
	return checkInterval(flag, v, lo, hi, true, false)
}

func checkInterval(flag string, v, lo, hi float64, openLo, openHi bool) error {
	ok := !math.IsNaN(v) && !math.IsInf(v, 0) &&
		(v > lo || !openLo && v == lo) && (v < hi || !openHi && v == hi)
	if ok {
		return nil
	}
	if math.IsInf(hi, 1) {
		op := "≥"
		if openLo {
			op = ">"
		}
		return fmt.Errorf("--%s %v: want a finite number %s %v", flag, v, op, lo)
	}
	l, r := "[", "]"
	if openLo {
		l = "("
	}
	if openHi {
		r = ")"
	}
	return fmt.Errorf("--%s %v: want a number in %s%v, %v%s", flag, v, l, lo, hi, r)
}

// checkInt accepts lo ≤ v ≤ hi; hi = noLimit for no upper bound.
func checkInt(flag string, v, lo, hi int) error {
	if v >= lo && v <= hi {
		return nil
	}
	if hi == noLimit {
		return fmt.Errorf("--%s %d: want an integer ≥ %d", flag, v, lo)
	}
	return fmt.Errorf("--%s %d: want an integer in [%d, %d]", flag, v, lo, hi)
}

// firstError returns the first non-nil error.
func firstError(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// checkTrainingFlags checks the numeric training flags (trainflags.go) of
// a command that compiles a training graph, and refuses settings that
// would be silently ignored: LoRA settings without --lora, sampling
// settings when the graph is exact (plan, grad, bench: without --keep or
// --estimator; train, compile: with --keep 1).
func checkTrainingFlags(f *trainingFlags) error {
	if err := firstError(
		checkAbove("keep", f.keep, 0, 1),
		checkInt("min-rows", f.minRows, 0, noLimit),
		checkInt("lora", f.lora, 0, noLimit),
		checkRange("lora-alpha", f.loraAlpha, 0, math.Inf(1)),
	); err != nil {
		return err
	}
	changed := f.cmd.Flags().Changed
	if f.lora == 0 {
		for _, name := range []string{"lora-alpha", "lora-targets"} {
			if changed(name) {
				return fmt.Errorf("--%s needs --lora R (a rank ≥ 1): without it there are no adapters", name)
			}
		}
	}
	// No sampling asked for (spec() compiles the exact graph): the
	// sampling settings would do nothing. An explicit --estimator exact
	// is a choice, not an omission: it keeps the other sampling flags so
	// that an exact baseline run differs from the sampled one in one flag.
	hint := "give --keep K (< 1) or --estimator too"
	if f.sampledByDefault {
		hint = "--keep 1 trains exactly: give --keep K (< 1) to sample"
	}
	if f.exact() && !changed("estimator") {
		for _, name := range []string{"layers", "min-rows", "gnorm", "attention"} {
			if changed(name) {
				return fmt.Errorf("--%s is a sampling setting: %s", name, hint)
			}
		}
	}
	return nil
}

// checkLoRABound refuses, before any adapter is allocated, a --lora rank
// larger than every weight matrix of g could take (a rank above a layer's
// smaller dimension adds more parameters than the layer has, for nothing).
// The exact per-layer check is checkLoRAAdapters, after compiling.
func checkLoRABound(g *ir.Graph, rank int) error {
	if rank == 0 {
		return nil
	}
	largest := 0
	for _, v := range g.Inits {
		if v.Init != nil && len(v.Init.Shape) == 2 && v.DType.IsFloat() {
			largest = max(largest, min(v.Init.Shape[0], v.Init.Shape[1]))
		}
	}
	if rank > largest {
		return fmt.Errorf("--lora %d: larger than any layer of the model (the largest takes a rank of at most %d)", rank, largest)
	}
	return nil
}

// checkLoRAAdapters checks the rank against each adapted layer: an
// adapter A (in×r) B (r×out) needs r ≤ min(in, out).
func checkLoRAAdapters(t *passes.Training, rank int) error {
	if t == nil || rank == 0 {
		return nil
	}
	for _, name := range t.Adapters {
		base, isA := strings.CutSuffix(name, ".lora_A")
		a, b := t.Graph.Value(name), t.Graph.Value(base+".lora_B")
		if !isA || a == nil || b == nil || a.Init == nil || b.Init == nil || len(a.Init.Shape) != 2 || len(b.Init.Shape) != 2 {
			continue
		}
		in, out := a.Init.Shape[0], b.Init.Shape[1]
		if rank > min(in, out) {
			return fmt.Errorf("--lora %d: larger than layer %s (%d×%d), which takes a rank of at most %d", rank, base, in, out, min(in, out))
		}
	}
	return nil
}

// checkLayersMatched refuses a --layers pattern that matches none of the
// linear layers: nothing would be sampled, silently. It applies only when
// sampling was asked for (not --estimator exact, and --keep or
// --estimator given).
func checkLayersMatched(f *trainingFlags, t *passes.Training) error {
	s := f.spec().Sampling
	if t == nil || s.Estimator == "exact" {
		return nil
	}
	if s.Layers == "auto" || s.Layers == "all" {
		return passes.CheckSampledSome(t, s)
	}
	re, err := regexp.Compile(s.Layers)
	if err != nil {
		return fmt.Errorf("--layers %q: %v", s.Layers, err)
	}
	for _, d := range t.Layers {
		if re.MatchString(d.Node) || re.MatchString(d.Weight) {
			return nil
		}
	}
	if len(t.Layers) == 0 {
		return fmt.Errorf("--layers %q: the model has no linear layer with a trained weight to sample", s.Layers)
	}
	return fmt.Errorf("--layers %q matches none of the %d linear layers (such as %q): nothing would be sampled; match a layer's node or weight name, or use --layers auto or --estimator exact",
		s.Layers, len(t.Layers), t.Layers[0].Node)
}

// checkSeqLen checks the shapes bound to g's token inputs (the 2-D
// integer inputs: input_ids, attention_mask, token_type_ids, T5's decoder
// ids): an empty batch or sequence is refused, and so is a sequence longer
// than g's position table, which would otherwise fail deep in the graph as
// a broadcast error of an Add node.
func checkSeqLen(g *ir.Graph, shapes map[string]ir.Shape) error {
	table, rows := models.PositionTable(g)
	for _, in := range g.Inputs {
		s, ok := shapes[in.Name]
		if !ok || len(s) != 2 || in.DType.IsFloat() || in.DType == ir.Bool {
			continue
		}
		for axis, what := range []string{"batch", "sequence"} {
			if s[axis].IsFixed() && s[axis].Size == 0 {
				return fmt.Errorf("input %q has shape %v: an empty %s", in.Name, s, what)
			}
		}
		if n := s[1].Size; rows > 0 && s[1].IsFixed() && n > int64(rows) {
			return fmt.Errorf("input %q has sequence length %d, longer than the model's %d positions (%s): use %d or less", in.Name, n, rows, table, rows)
		}
	}
	return nil
}
