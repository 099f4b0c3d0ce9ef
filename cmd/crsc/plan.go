package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"crsc/compiler/ir"
	"crsc/compiler/models"
	"crsc/compiler/onnx"
	"crsc/compiler/passes"
	"crsc/tools/planning"
)

func planCommand() *cobra.Command {
	var req planning.Request
	var flags trainingFlags
	var budget, memoryBudget string
	var asJSON bool
	var top int
	cmd := &cobra.Command{
		Use:   "plan (MODEL | --arch t5-base) --batch B --seq L [--keep K] [--lora R] [--stash bf16|int8] [--recompute] [--budget 80GiB | --memory-budget 8GiB] [--json]",
		Short: "Plan a training step's memory: weights, gradients, optimizer state, kept activations, peak",
		Long: `Compiles the training graph (the same passes as compile and train) for a model
file or an architecture preset (bert-base, bert-large, t5-small, t5-base,
t5-large, t5-3b: shapes only, no weights are allocated), lays every value of
one training step out in a memory arena, and reports the planned peak and what
backward keeps. With --budget it finds the largest batch that fits, for the
flags given and for each strategy of --memory-budget's ladder. With
--memory-budget it chooses the cheapest strategy whose step fits at --batch
(exact; + recomputation; + bf16, then 8-bit stashes; + WTA-CRS at keep 0.3, then 0.1;
with --lora R on every rung) and says what each costs.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				var err error
				if req.Model, err = modelFile(args[0]); err != nil {
					return err
				}
			}
			if err := checkPlanFlags(cmd, &req, &flags, budget, top); err != nil {
				return err
			}
			req.Spec = flags.spec()
			if memoryBudget != "" {
				return fitMemoryBudget(cmd, req, &flags, memoryBudget, budget, asJSON, top)
			}
			res, maxBatch, byStrategy, err := planWithBudget(req, budget)
			if err != nil {
				return err
			}
			if err := firstError(checkLoRAAdapters(res.Training, flags.lora), checkLayersMatched(&flags, res.Training)); err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if asJSON {
				return writePlanJSON(w, res, maxBatch, byStrategy)
			}
			printPlan(w, res, maxBatch, budget, top)
			printByStrategy(w, budget, byStrategy)
			return nil
		},
	}
	cmd.Flags().StringVar(&req.Arch, "arch", "", "architecture preset instead of a model file")
	cmd.Flags().IntVar(&req.Batch, "batch", 8, "batch size")
	cmd.Flags().IntVar(&req.Seq, "seq", 128, "sequence length (T5: source length)")
	cmd.Flags().IntVar(&req.TgtLen, "tgt-len", 8, "T5 target length (text-to-text labels are short)")
	cmd.Flags().Float32Var(&req.Dropout, "dropout", 0.1, "presets: Dropout ratio in training mode, as fine-tuning runs")
	cmd.Flags().StringVar(&budget, "budget", "", "memory budget, e.g. 80GiB: report the largest batch that fits (for these flags and per strategy)")
	cmd.Flags().StringVar(&memoryBudget, "memory-budget", "", "memory budget, e.g. 8GiB: choose the cheapest strategy (recompute, bf16 or 8-bit stashes, WTA-CRS keep) whose step fits at --batch")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object")
	cmd.Flags().IntVar(&top, "top", 10, "kept-for-backward tensors to list (0: none)")
	flags.register(cmd, true)
	return cmd
}

// planWithBudget plans req; with --budget it also finds the largest batch
// that fits (-1 without one), for the flags and per strategy.
func planWithBudget(req planning.Request, budget string) (*planning.Result, int, []strategyBatch, error) {
	if budget == "" {
		res, err := planning.Plan(req)
		return res, -1, nil, err
	}
	limit, err := planning.ParseBytes(budget)
	if err != nil {
		return nil, 0, nil, err
	}
	maxBatch, res, err := planning.MaxBatch(req, limit)
	if err != nil {
		return nil, 0, nil, err
	}
	byStrategy, err := maxBatchByStrategy(req, limit)
	if err != nil {
		return nil, 0, nil, err
	}
	if res == nil {
		req.Batch = 1
		if res, err = planning.Plan(req); err != nil {
			return nil, 0, nil, err
		}
	}
	return res, maxBatch, byStrategy, nil
}

// writePlanJSON is plan --json: one object of flat keys, one number each.
func writePlanJSON(w io.Writer, res *planning.Result, maxBatch int, byStrategy []strategyBatch) error {
	out := map[string]any{
		"params_bytes": res.ParamsBytes, "grads_bytes": res.GradsBytes, "optimizer_bytes": res.OptimizerBytes,
		"saved_activation_bytes": res.SavedActivationBytes, "planned_peak_bytes": res.PlannedPeakBytes,
		"arena_bytes": res.ArenaBytes, "inputs_bytes": res.InputsBytes, "trained_params": res.TrainedParams,
	}
	if maxBatch >= 0 {
		out["max_batch"] = maxBatch
		for _, sb := range byStrategy {
			out["max_batch/"+sb.name] = sb.batch
		}
	}
	return json.NewEncoder(w).Encode(out)
}

// Bounds of plan's sizes: far above any real step, low enough that every
// byte count of the plan fits in 64 bits.
const (
	maxPlanBatch  = 1 << 24
	maxPlanSeq    = 1 << 20
	maxPlanTokens = 1 << 31
)

// checkPlanFlags checks plan's flags before any planning: their ranges,
// the contradictions (a model file and --arch; --batch with --budget,
// which searches the batch; --dropout, which only presets take, with a
// model file) and, on the model's graph, --seq
// against its positions and --lora against its layers.
func checkPlanFlags(cmd *cobra.Command, req *planning.Request, flags *trainingFlags, budget string, top int) error {
	if req.Model != "" && req.Arch != "" {
		return fmt.Errorf("--arch %s with model file %s: give one or the other", req.Arch, req.Model)
	}
	if budget != "" && cmd.Flags().Changed("batch") {
		return fmt.Errorf("--batch %d with --budget %s: --budget finds the largest batch itself; give one or the other", req.Batch, budget)
	}
	if req.Model != "" && cmd.Flags().Changed("dropout") {
		return fmt.Errorf("--dropout applies to --arch presets; model file %s has its own Dropout ratios", req.Model)
	}
	if err := firstError(
		checkInt("batch", req.Batch, 1, maxPlanBatch),
		checkInt("seq", req.Seq, 1, maxPlanSeq),
		checkInt("tgt-len", req.TgtLen, 1, maxPlanSeq),
		checkBelow("dropout", float64(req.Dropout), 0, 1),
		checkInt("top", top, 0, noLimit),
		checkSize("budget", budget),
		checkTrainingFlags(flags),
	); err != nil {
		return err
	}
	if tokens := int64(req.Batch) * int64(req.Seq); tokens > maxPlanTokens {
		return fmt.Errorf("--batch %d × --seq %d is %d tokens a step: want at most %d", req.Batch, req.Seq, tokens, int64(maxPlanTokens))
	}
	var g *ir.Graph
	var err error
	switch {
	case req.Model != "":
		g, err = onnx.Load(req.Model)
	case req.Arch != "":
		g, err = models.Preset(req.Arch, models.BuildOptions{Abstract: true})
	default:
		return fmt.Errorf("give a model file or --arch (%s)", strings.Join(models.PresetNames(), ", "))
	}
	if err != nil {
		return err
	}
	if table, rows := models.PositionTable(g); rows > 0 && req.Seq > rows {
		return fmt.Errorf("--seq %d: longer than the model's %d positions (%s): use --seq %d or less", req.Seq, rows, table, rows)
	}
	return checkLoRABound(g, flags.lora)
}

// checkSize refuses a size flag (--budget, --memory-budget) that is not a
// finite size (planning's parser reads NaN and Inf as numbers).
func checkSize(flag, size string) error {
	if size == "" {
		return nil
	}
	if l := strings.ToLower(size); strings.Contains(l, "nan") || strings.Contains(l, "inf") {
		return fmt.Errorf("--%s %q: want a finite size, e.g. 80GiB", flag, size)
	}
	if n, err := planning.ParseBytes(size); err != nil {
		return fmt.Errorf("--%s %v", flag, err)
	} else if n <= 0 {
		return fmt.Errorf("--%s %q: want a size from 1 byte to 8 EiB, e.g. 80GiB", flag, size)
	}
	return nil
}

func printPlan(w io.Writer, r *planning.Result, maxBatch int, budget string, top int) {
	printLayerDecisions(w, r.Training)
	printRecomputed(w, r.Training)
	printStashes(w, r.Training)
	fmt.Fprintf(w, "trained parameters:      %d\n", r.TrainedParams)
	for _, row := range []struct {
		name string
		v    int64
	}{
		{"weights", r.ParamsBytes}, {"gradients", r.GradsBytes}, {"optimizer state", r.OptimizerBytes},
		{"inputs", r.InputsBytes}, {"kept for backward", r.SavedActivationBytes}, {"arena (all node outputs)", r.ArenaBytes},
		{"planned peak", r.PlannedPeakBytes},
	} {
		fmt.Fprintf(w, "%-24s %12s\n", row.name+":", humanBytes(row.v))
	}
	if maxBatch >= 0 {
		fmt.Fprintf(w, "largest batch within %s: %d\n", budget, maxBatch)
	}
	if top > 0 {
		fmt.Fprintln(w)
		r.Plan.Report(w, top)
	}
}

// printStashes says how many kept activations backward reads in bf16, by
// kind, and the bytes that saves.
func printStashes(w io.Writer, t *passes.Training) {
	if len(t.Stashed) == 0 {
		return
	}
	count := map[string]int{}
	var saved int64
	for _, d := range t.Stashed {
		count[d.Kind+" "+d.DType]++
		saved += 4*int64(d.Elems) - d.Bytes
	}
	var kinds []string
	for _, k := range passes.StashKinds {
		for _, dt := range []string{passes.StashBF16, passes.StashInt8} {
			if c := count[k+" "+dt]; c > 0 {
				kinds = append(kinds, fmt.Sprintf("%d %s in %s", c, k, dt))
			}
		}
	}
	fmt.Fprintf(w, "stash:     %d kept activations narrowed (%s), %s less kept for backward\n", len(t.Stashed), strings.Join(kinds, ", "), humanBytes(saved))
}

// printRecomputed says what backward recomputes instead of keeping, by
// op, with the bytes that saves and the operations it adds.
func printRecomputed(w io.Writer, t *passes.Training) {
	if len(t.Recomputed) == 0 {
		return
	}
	count := map[string]int{}
	var ops []string
	var saved int64
	var flops float64
	for _, d := range t.Recomputed {
		if count[d.Op] == 0 {
			ops = append(ops, d.Op)
		}
		count[d.Op]++
		saved += d.Bytes
		flops += d.FLOPs
	}
	var parts []string
	for _, op := range ops {
		parts = append(parts, fmt.Sprintf("%d %s", count[op], op))
	}
	fmt.Fprintf(w, "recompute: %d activations recomputed in backward from inputs it keeps anyway (%s), exact: %s less kept, +%.2f GFLOP a step\n",
		len(t.Recomputed), strings.Join(parts, ", "), humanBytes(saved), flops/1e9)
}

// strategyBatch is the largest batch one strategy fits in a budget.
type strategyBatch struct {
	name  string
	batch int
}

// plainName is the baseline row of the per-strategy table: the training
// graph as plain autodiff gives it, without crsc's memory rewrites (the
// reference's "full" column).
const plainName = "plain (no memory rewrites)"

// maxBatchByStrategy finds the largest batch within limit for the plain
// baseline and each strategy of the --memory-budget ladder.
func maxBatchByStrategy(req planning.Request, limit int64) ([]strategyBatch, error) {
	plain := req
	plain.Spec.Memory, plain.Spec.Sampling = false, passes.SamplingSpec{}
	plain.Spec.Stash, plain.Spec.Remat = passes.StashSpec{}, passes.RematSpec{}
	b, _, err := planning.MaxBatch(plain, limit)
	if err != nil {
		return nil, err
	}
	out := []strategyBatch{{plainName, b}}
	for _, s := range planning.Strategies() {
		r := req
		r.Spec = s.Spec(req.Spec)
		if b, _, err = planning.MaxBatch(r, limit); err != nil {
			return nil, fmt.Errorf("%s: %v", s.Name, err)
		}
		out = append(out, strategyBatch{s.Name, b})
	}
	return out, nil
}

func printByStrategy(w io.Writer, budget string, rows []strategyBatch) {
	if len(rows) == 0 {
		return
	}
	fmt.Fprintf(w, "\nlargest batch within %s per strategy (with the LoRA and trained parameters asked for):\n", budget)
	for _, r := range rows {
		ratio := ""
		if base := rows[0].batch; base > 0 {
			ratio = fmt.Sprintf("  (%.1f× plain)", float64(r.batch)/float64(base))
		}
		fmt.Fprintf(w, "  %-48s %8d%s\n", r.name, r.batch, ratio)
	}
}

// memoryBudgetChooses are the flags --memory-budget sets itself.
var memoryBudgetChooses = []string{"keep", "estimator", "attention", "layers", "stash", "stash-kinds", "stash-int8", "recompute", "no-memory-rewrites", "budget"}

// fitMemoryBudget is plan --memory-budget: climb the strategy ladder at
// --batch until a step fits, print what was tried and why the choice,
// then the chosen plan.
func fitMemoryBudget(cmd *cobra.Command, req planning.Request, flags *trainingFlags, memoryBudget, budget string, asJSON bool, top int) error {
	for _, name := range memoryBudgetChooses {
		if cmd.Flags().Changed(name) {
			return fmt.Errorf("--%s with --memory-budget %s: --memory-budget chooses it itself; give one or the other", name, memoryBudget)
		}
	}
	if err := checkSize("memory-budget", memoryBudget); err != nil {
		return err
	}
	limit, err := planning.ParseBytes(memoryBudget)
	if err != nil {
		return err
	}
	chosen, tried, res, err := planning.Fit(req, limit)
	if err != nil {
		return err
	}
	if err := firstError(checkLoRAAdapters(res.Training, flags.lora)); err != nil {
		return err
	}
	w := cmd.OutOrStdout()
	if asJSON {
		var rows []map[string]any
		for _, t := range tried {
			rows = append(rows, map[string]any{"strategy": t.Strategy.Name, "planned_peak_bytes": t.Peak, "fits": t.Fits})
		}
		return json.NewEncoder(w).Encode(map[string]any{
			"strategy": tried[chosen].Strategy.Name, "budget_bytes": limit, "tried": rows,
			"planned_peak_bytes": res.PlannedPeakBytes, "saved_activation_bytes": res.SavedActivationBytes,
			"arena_bytes": res.ArenaBytes, "trained_params": res.TrainedParams,
		})
	}
	fmt.Fprintf(w, "memory budget %s at batch %d:\n", humanBytes(limit), req.Batch)
	for i, t := range tried {
		verdict := "over"
		if t.Fits {
			verdict = "fits"
		}
		fmt.Fprintf(w, "  %-48s %12s  %s\n", t.Strategy.Name, humanBytes(t.Peak), verdict)
		if i == chosen {
			fmt.Fprintf(w, "chose %s, the cheapest that fits; what it gives up: %s\n\n", t.Strategy.Name, t.Strategy.Cost)
		}
	}
	printPlan(w, res, -1, budget, top)
	return nil
}
