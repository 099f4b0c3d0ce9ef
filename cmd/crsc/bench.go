package main

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"crsc/runtime/device"
	"crsc/tools/bench"
)

func benchCommand() *cobra.Command {
	cfg := bench.Config{}
	var device string
	var asJSON, vsExact bool
	var top int
	var flags trainingFlags
	cmd := &cobra.Command{
		Use:   "bench [--arch bert-base|t5-base|…] [--mode forward|train] [--batch 8] [--seq 128]",
		Short: "Time a forward pass or a training step on a preset architecture",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			dev, err := openDevice(device, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			defer dev.Close()
			cfg.Device = dev
			cfg.Training = flags.spec()
			if err := firstError(
				checkInt("--steps", cfg.Steps, 1, noLimit),
				checkInt("--batch", cfg.Batch, 1, 1<<24),
				checkInt("--seq", cfg.Seq, 1, 1<<20),
				checkInt("--threads", cfg.Threads, 1, 4096),
				checkInt("--top", top, 0, noLimit),
				checkBelow("--dropout", float64(cfg.Dropout), 0, 1),
				checkTrainingFlags(&flags),
			); err != nil {
				return err
			}
			if cfg.NoOptimizer && cfg.Mode != "train" {
				return fmt.Errorf("--no-optimizer times a training step without its update: it needs --mode train")
			}
			w := cmd.OutOrStdout()
			if vsExact {
				if !cfg.Training.Sampling.Enabled() {
					return fmt.Errorf("--vs-exact compares a sampled step with the exact one: give --keep below 1")
				}
				ex, sa, err := bench.Compare(cfg, cmd.ErrOrStderr())
				if err != nil {
					return err
				}
				ratio := sa.Median().Seconds() / ex.Median().Seconds()
				if asJSON {
					return json.NewEncoder(w).Encode(map[string]any{"exact": benchJSON(ex, dev), "sampled": benchJSON(sa, dev), "ratio": ratio})
				}
				ex.Report(w, top)
				fmt.Fprintln(w)
				sa.Report(w, top)
				fmt.Fprintln(w)
				bench.ReportDiff(w, ex, sa, top)
				return nil
			}
			res, err := bench.Run(cfg, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			if asJSON {
				return json.NewEncoder(w).Encode(benchJSON(res, dev))
			}
			res.Report(w, top)
			return nil
		},
	}
	cmd.Flags().StringVar(&cfg.Arch, "arch", "bert-base", "bert-base, bert-large or bert-tiny")
	cmd.Flags().StringVar(&cfg.Mode, "mode", "train", "forward, or train: the step crsc train runs (forward, loss, backward, clipping, AdamW)")
	cmd.Flags().BoolVar(&cfg.NoOptimizer, "no-optimizer", false, "with --mode train, time forward and backward only")
	cmd.Flags().IntVar(&cfg.Batch, "batch", 8, "batch size")
	cmd.Flags().IntVar(&cfg.Seq, "seq", 128, "sequence length")
	cmd.Flags().IntVar(&cfg.Steps, "steps", 3, "timed steps (after one warm-up)")
	cmd.Flags().IntVar(&cfg.Threads, "threads", 2, "CPU threads")
	cmd.Flags().Int64Var(&cfg.Seed, "seed", 1, "seed for weights and inputs")
	cmd.Flags().Float32Var(&cfg.Dropout, "dropout", 0, "training-mode Dropout ratio in the model")
	cmd.Flags().StringVar(&device, "device", "cpu", deviceHelp)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object")
	cmd.Flags().BoolVar(&vsExact, "vs-exact", false, "time the exact step too, alternating with the sampled one in the same process, and report the ratio and where the time goes")
	cmd.Flags().IntVar(&top, "top", 12, "ops to list in the time breakdown")
	flags.register(cmd, false)
	return cmd
}

// benchJSON is one benchmark result as `bench --json` prints it.
func benchJSON(res *bench.Result, dev *device.Device) map[string]any {
	return map[string]any{
		"arch": res.Arch, "mode": res.Mode, "batch": res.Batch, "seq": res.Seq, "threads": res.Threads,
		"median_ms": res.Median().Seconds() * 1000, "peak_rss_bytes": res.PeakRSS, "params": res.Params,
		"planned_arena_bytes": res.Planned, "measured_arena_bytes": res.Measured, "saved_activation_bytes": res.SavedForBackward,
		"device": dev.String(), "device_peak_bytes": res.DevicePeak, "fallbacks": res.Fallbacks,
	}
}
