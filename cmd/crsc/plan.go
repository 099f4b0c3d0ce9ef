package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"crsc/planning"
)

func planCommand() *cobra.Command {
	var req planning.Request
	var flags trainingFlags
	var budget string
	var asJSON bool
	var top int
	cmd := &cobra.Command{
		Use:   "plan (MODEL | --arch t5-base) --batch B --seq L [--keep K] [--lora R] [--budget 80GiB] [--json]",
		Short: "Plan a training step's memory: weights, gradients, optimizer state, kept activations, peak",
		Long: `Compiles the training graph (the same passes as compile and train) for a model
file or an architecture preset (bert-base, bert-large, t5-small, t5-base,
t5-large, t5-3b: shapes only, no weights are allocated), lays every value of
one training step out in a memory arena, and reports the planned peak and what
backward keeps. With --budget it finds the largest batch that fits.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				req.Model = args[0]
			}
			req.Spec = flags.spec()
			var res *planning.Result
			var err error
			maxBatch := -1
			if budget != "" {
				limit, err := planning.ParseBytes(budget)
				if err != nil {
					return err
				}
				if maxBatch, res, err = planning.MaxBatch(req, limit); err != nil {
					return err
				}
				if res == nil {
					req.Batch = 1
					if res, err = planning.Plan(req); err != nil {
						return err
					}
				}
			} else if res, err = planning.Plan(req); err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if asJSON {
				out := map[string]any{
					"params_bytes": res.ParamsBytes, "grads_bytes": res.GradsBytes, "optimizer_bytes": res.OptimizerBytes,
					"saved_activation_bytes": res.SavedActivationBytes, "planned_peak_bytes": res.PlannedPeakBytes,
					"arena_bytes": res.ArenaBytes, "inputs_bytes": res.InputsBytes, "trained_params": res.TrainedParams,
				}
				if maxBatch >= 0 {
					out["max_batch"] = maxBatch
				}
				return json.NewEncoder(w).Encode(out)
			}
			printPlan(w, res, maxBatch, budget, top)
			return nil
		},
	}
	cmd.Flags().StringVar(&req.Arch, "arch", "", "architecture preset instead of a model file")
	cmd.Flags().IntVar(&req.Batch, "batch", 8, "batch size")
	cmd.Flags().IntVar(&req.Seq, "seq", 128, "sequence length (T5: source length)")
	cmd.Flags().IntVar(&req.TgtLen, "tgt-len", 8, "T5 target length (text-to-text labels are short)")
	cmd.Flags().Float32Var(&req.Dropout, "dropout", 0.1, "presets: Dropout ratio in training mode, as fine-tuning runs")
	cmd.Flags().StringVar(&budget, "budget", "", "memory budget, e.g. 80GiB: report the largest batch that fits")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object")
	cmd.Flags().IntVar(&top, "top", 10, "kept-for-backward tensors to list")
	flags.register(cmd, true)
	return cmd
}

func printPlan(w io.Writer, r *planning.Result, maxBatch int, budget string, top int) {
	printLayerDecisions(w, r.Training)
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
