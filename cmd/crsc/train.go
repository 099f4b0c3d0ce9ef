package main

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"crsc/data"
	"crsc/memplan"
	"crsc/runtime/device"
	"crsc/train"
)

// trainCommand wires `crsc train`: flags in, train.Run does the work.
func trainCommand() *cobra.Command {
	var c train.Config
	var flags trainingFlags
	var dataDir, device string
	var resumeWithChanges bool
	cmd := &cobra.Command{
		Use:   "train [MODEL.onnx | --arch NAME] --task TASK --data DIR (--vocab VOCAB.txt | --tokenizer tokenizer.json) [options]",
		Short: "Fine-tune a model on a GLUE-style task (with no arguments: a one-minute built-in demo)",
		Long: `Fine-tunes a BERT-family classifier on a task's train split and evaluates it
on the dev split each epoch, keeping a run directory (--out) with the
configuration, metrics.jsonl, curves.png, memory.txt, atomic checkpoints,
the best parameters and the fine-tuned model.onnx.

A T5 (an export with decoder_input_ids, labels and a loss output, or
--arch t5-tiny / t5-small) is trained text to text with its tokenizer.json
(--tokenizer): input "sst2 sentence: …", target the label word
("negative"/"positive") and </s>; evaluation scores each label word's
likelihood and picks the best.

With no arguments it runs the built-in demo: the bundled tiny BERT on a
synthetic sentiment task generated in Go, WTA-CRS at keep 0.3, ending with
the accuracy and the memory saved against exact training.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			// The demo is `crsc train` alone (--out and --device may
			// place it); anything else describes a run of one's own.
			demo := len(args) == 0 && !anyFlagBut(cmd, "out", "device")
			if !demo {
				if err := checkTrainFlags(cmd, &c, &flags, args); err != nil {
					return err
				}
			}
			dev, err := openDevice(device, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			defer dev.Close()
			c.Device = dev
			w := cmd.OutOrStdout()
			if demo {
				return runDemo(cmd, c.Out, dev)
			}
			if len(args) == 1 {
				c.Model = args[0]
			}
			if err := resolveData(&c, dataDir); err != nil {
				return err
			}
			c.Spec = flags.spec()
			c.Spec.Memory = !flags.noMemory
			c.ResumeWithChanges = resumeWithChanges
			// Every value is the flag's: 0 is not "the default".
			c.Explicit = true
			if c.Out == "" {
				c.Out = filepath.Join("runs", c.Task)
			}
			c.Progress, c.Terminal = w, isTerminal(w)
			res, err := train.Run(c)
			if err != nil {
				return err
			}
			printResult(w, c.Out, res)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&c.Arch, "arch", "", "train a built-in architecture from random init instead of MODEL (bert-tiny, bert-small, t5-tiny, t5-small)")
	fl.StringVar(&c.Task, "task", "", "sst2, cola, mrpc, qnli, rte or stsb")
	fl.StringVar(&dataDir, "data", "", "folder with train and dev files (.tsv, .jsonl or .csv), or one training file")
	fl.StringVar(&c.EvalFile, "eval-data", "", "evaluation file (default: DIR/dev.*)")
	fl.StringVar(&c.Vocab, "vocab", "", "WordPiece vocab.txt (e.g. bert-base-uncased.vocab.txt)")
	fl.StringVar(&c.TokenizerFile, "tokenizer", "", "Hugging Face tokenizer.json of a T5 (Unigram)")
	fl.IntVar(&c.TgtLen, "tgt-len", 0, "T5 target length: label pieces + </s> (0: the longest label word's)")
	fl.IntVar(&c.MaxLen, "max-len", 128, "longest sequence: longer inputs are truncated")
	fl.BoolVar(&c.StaticPadding, "static-padding", false, "pad every training batch to --max-len (default: to the batch's longest example, rounded up to 8, with one compiled graph per length)")
	fl.IntVar(&c.Batch, "batch", 32, "examples per micro-batch")
	fl.IntVar(&c.Accum, "grad-accum", 1, "micro-batches per optimizer step")
	fl.IntVar(&c.Epochs, "epochs", 3, "passes over the training data")
	fl.IntVar(&c.MaxSteps, "max-steps", 0, "stop after this many optimizer steps (0: all epochs)")
	fl.Float64Var(&c.LR, "lr", 2e-5, "peak learning rate")
	fl.Float64Var(&c.Warmup, "warmup", 0.1, "linear warmup: a fraction of the steps (< 1) or a step count")
	fl.Float64Var(&c.ClipNorm, "clip", 1, "clip gradients to this global norm (0: off)")
	fl.Float64Var(&c.WeightDecay, "weight-decay", 0.01, "AdamW weight decay (never on biases and norms)")
	fl.Int64Var(&c.Seed, "seed", 1, "seed of data order, dropout, sampling and init")
	fl.IntVar(&c.Threads, "threads", 0, "CPU threads (0: all cores)")
	fl.StringVarP(&c.Out, "out", "o", "", "run directory (default runs/TASK; the demo: runs/demo)")
	fl.BoolVar(&c.Resume, "resume", false, "continue the run in --out from its checkpoint")
	fl.BoolVar(&resumeWithChanges, "resume-with-changes", false, "with --resume: continue even though the model, data or an option that changes the arithmetic differs from the checkpoint's")
	fl.IntVar(&c.LogEvery, "log-every", 10, "log every N steps (0: only the last step)")
	fl.IntVar(&c.SaveEvery, "save-every", 0, "checkpoint every N steps (0: each epoch)")
	fl.StringVar(&device, "device", "cpu", deviceHelp)
	flags.register(cmd, false)
	return cmd
}

// resolveData finds the train and dev files from --data.
func resolveData(c *train.Config, dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("--data: %v", err)
	}
	if !fi.IsDir() {
		c.TrainFile = dir
		return nil
	}
	if c.TrainFile, err = data.Find(dir, "train"); err != nil {
		return err
	}
	if c.EvalFile == "" {
		c.EvalFile, _ = data.Find(dir, "dev")
	}
	return nil
}

func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func printResult(w interface{ Write([]byte) (int, error) }, out string, res *train.Result) {
	if res.Stopped {
		fmt.Fprintf(w, "stopped after step %d; checkpoint in %s (continue with --resume)\n", res.Steps, out)
		return
	}
	for _, k := range []string{"accuracy", "f1", "matthews", "pearson", "spearman"} {
		if v, ok := res.Eval[k]; ok {
			fmt.Fprintf(w, "%-9s %.4f\n", k+":", v)
		}
	}
	fmt.Fprintf(w, "best %s: %.4f\n", res.Metric, res.Best)
	fmt.Fprintf(w, "steps:    %d in %s (%.0f tokens/s), peak RSS %s\n", res.Steps, res.Wall.Round(time.Millisecond), res.TokensPerSec, memplan.FormatBytes(res.PeakRSS))
	fmt.Fprint(w, strings.TrimPrefix(res.MemoryLine(), "\n"))
	if res.CacheBytes > 0 {
		fmt.Fprintf(w, "gnorm cache: %s\n", memplan.FormatBytes(res.CacheBytes))
	}
	fmt.Fprintf(w, "run:      %s (model.onnx, curves.png, metrics.jsonl, memory.txt)\n", out)
}

// anyFlagBut reports whether a flag other than those named was given.
func anyFlagBut(cmd *cobra.Command, allowed ...string) bool {
	n := cmd.Flags().NFlag()
	for _, name := range allowed {
		if cmd.Flags().Changed(name) {
			n--
		}
	}
	return n > 0
}

// checkTrainFlags checks a run's arguments and numeric flags before any
// work: one line naming the flag and what it accepts.
func checkTrainFlags(cmd *cobra.Command, c *train.Config, flags *trainingFlags, args []string) error {
	changed := cmd.Flags().Changed
	switch {
	case len(args) == 0 && c.Arch == "":
		return fmt.Errorf("no model: give MODEL.onnx or --arch bert-tiny|bert-small|t5-tiny|t5-small (with no arguments at all, crsc train runs the demo)")
	case len(args) == 1 && c.Arch != "":
		return fmt.Errorf("both MODEL (%s) and --arch %s: give one", args[0], c.Arch)
	case c.Task == "" || !changed("data"):
		return fmt.Errorf("--task and --data are required")
	case changed("resume-with-changes") && !c.Resume:
		return fmt.Errorf("--resume-with-changes goes with --resume")
	}
	return firstError(
		checkInt("max-len", c.MaxLen, 4, noLimit),
		checkInt("tgt-len", c.TgtLen, 0, noLimit),
		checkInt("batch", c.Batch, 1, noLimit),
		checkInt("grad-accum", c.Accum, 1, noLimit),
		checkInt("epochs", c.Epochs, 1, noLimit),
		checkInt("max-steps", c.MaxSteps, 0, noLimit),
		checkAbove("lr", c.LR, 0, math.Inf(1)),
		checkRange("warmup", c.Warmup, 0, math.Inf(1)),
		checkRange("clip", c.ClipNorm, 0, math.Inf(1)),
		checkRange("weight-decay", c.WeightDecay, 0, math.Inf(1)),
		checkInt("threads", c.Threads, 0, noLimit),
		checkInt("log-every", c.LogEvery, 0, noLimit),
		checkInt("save-every", c.SaveEvery, 0, noLimit),
		checkTrainingFlags(flags),
	)
}

// runDemo is `crsc train` with no arguments. It writes only its own run
// directory (runs/demo, marked by train.DemoMark): a re-run replaces the
// files a previous demo made there, and a directory that is not a
// demo's is refused, never emptied.
func runDemo(cmd *cobra.Command, out string, dev *device.Device) error {
	w := cmd.OutOrStdout()
	if out == "" {
		out = filepath.Join("runs", "demo")
	}
	// Refused before the demo's data and model are made (train.Run
	// checks again, holding the directory's lock).
	if err := train.DemoDirUsable(out); err != nil {
		return err
	}
	c, err := train.Demo(".", out)
	if err != nil {
		return err
	}
	c.Device = dev
	c.Progress, c.Terminal = w, isTerminal(w)
	what := c.Model
	if what == "" {
		what = "built-in tiny BERT"
	}
	fmt.Fprintf(w, "demo: %s on a synthetic sentiment task (%d train / %d dev), WTA-CRS keep %.1f\n", what, len(c.TrainExamples), len(c.EvalExamples), c.Spec.Sampling.Keep)
	res, err := train.Run(c)
	if err != nil {
		return err
	}
	printResult(w, out, res)
	mc, err := train.CompareMemory(c)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "memory:   training graph peak %s vs %s exact (%.0f%% saved); activations kept for backward %s vs %s\n",
		memplan.FormatBytes(mc.Peak), memplan.FormatBytes(mc.ExactPeak), 100*(1-float64(mc.Peak)/float64(mc.ExactPeak)),
		memplan.FormatBytes(mc.Saved), memplan.FormatBytes(mc.ExactSaved))
	return nil
}
