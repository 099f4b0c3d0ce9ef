package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"crsc/tools/study"
)

func studyCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "study NAME",
		Short: "Experiments that check the method on real models",
		// Without this, cobra prints the help and exits 0 for a name that
		// is no study ("crsc study bogus"): a silent no-op.
		RunE: func(cmd *cobra.Command, args []string) error {
			var names []string
			for _, c := range cmd.Commands() {
				if c.IsAvailableCommand() {
					names = append(names, c.Name())
				}
			}
			if len(args) == 0 {
				return fmt.Errorf("study: name a study (%s)", strings.Join(names, ", "))
			}
			return fmt.Errorf("unknown study %q (known: %s)", args[0], strings.Join(names, ", "))
		},
	}
	cmd.AddCommand(studyVarianceCommand())
	return cmd
}

func studyVarianceCommand() *cobra.Command {
	c := study.DefaultConfig()
	var out string
	cmd := &cobra.Command{
		Use:   "variance [--out DIR] [--repeats 200] [--steps 64]",
		Short: "Relative error of wta, crs and topk weight-gradient estimates on a BERT mid-training",
		Long: `Trains a small BERT classifier exactly on 1,024 SST-2 sentences, takes X and
G = dL/dY of every encoder linear layer at the last steps, and measures the
relative error ‖dŴ − dW‖/‖dW‖ of the wta, crs and topk estimators (the
runtime's SampleRows kernel) at keep 0.1 and 0.3 with ĝ from none, ema,
cache and the true ‖G‖ (oracle). Prints the table and writes DIR/variance.md,
DIR/variance.json and DIR/variance.png.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := firstError(
				checkInt("repeats", c.Repeats, 2, noLimit),
				checkInt("steps", c.Steps, 1, noLimit),
				checkInt("snapshot", c.Snapshot, 1, max(c.Steps, 1)),
				checkInt("examples", c.Examples, c.Batch, noLimit),
			); err != nil {
				return err
			}
			if c.Examples%c.Batch != 0 {
				return fmt.Errorf("--examples %d: want a multiple of the batch, %d", c.Examples, c.Batch)
			}
			start := time.Now()
			c.Progress = cmd.ErrOrStderr()
			r, err := study.Run(c)
			if err != nil {
				return err
			}
			if err := r.WriteFiles(out); err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			fmt.Fprintln(w, r.Tables())
			fmt.Fprintf(w, "wrote %s, %s, %s (training %.0fs, measuring %.0fs, total %.0fs)\n",
				filepath.Join(out, study.MarkdownFile), filepath.Join(out, study.JSONFile), filepath.Join(out, study.PlotFile),
				r.TrainSeconds, r.StudySeconds, time.Since(start).Seconds())
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&out, "out", "study-variance", "output folder")
	f.StringVar(&c.Data, "data", c.Data, "GLUE SST-2 train.tsv")
	f.IntVar(&c.Repeats, "repeats", c.Repeats, "draws per layer, step, keep and source (wta, crs)")
	f.IntVar(&c.Steps, "steps", c.Steps, "exact training steps; the last --snapshot are studied")
	f.IntVar(&c.Snapshot, "snapshot", c.Snapshot, "last steps whose batches are studied")
	f.IntVar(&c.Examples, "examples", c.Examples, "training subset size (a multiple of the batch, 32)")
	f.Int64Var(&c.Seed, "seed", c.Seed, "seed of the weights, the subset and the shuffles")
	return cmd
}
