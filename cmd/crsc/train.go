package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"crsc/compiler/memplan"
	"crsc/runtime/device"
	"crsc/tools/planning"
	"crsc/training/data"
	"crsc/training/train"
)

// trainCommand wires `crsc train`: flags in, train.Run does the work.
func trainCommand() *cobra.Command {
	a := &trainArgs{}
	cmd := &cobra.Command{
		Use:   "train [MODEL.onnx | FOLDER | --arch NAME] --task TASK --data DIR [--vocab VOCAB.txt | --tokenizer tokenizer.json] [options]",
		Short: "Fine-tune a model on a GLUE-style task (with no arguments: a one-minute built-in demo)",
		Long:  trainLong,
		Args:  cobra.MaximumNArgs(1),
		RunE:  a.run,
	}
	a.register(cmd)
	return cmd
}

const trainLong = `Fine-tunes a BERT-family classifier on a task's train split with WTA-CRS
at keep 0.3 (the paper's setting; --keep 1 or --estimator exact trains
exactly) and evaluates it on the dev split each epoch (or --eval-every N
steps; --patience stops early), keeping a run directory (--out) with the
configuration, metrics.jsonl and metrics.csv, a TensorBoard event file,
curves.png, memory.png, memory.txt, atomic checkpoints, the best
parameters and the fine-tuned model.onnx. --config FILE reads the options
from a run's config.json (or a JSON file keyed by flag names); flags given
on the command line override it.

Hugging Face exports (Optimum, transformers.onnx, torch.onnx.export) train
as they come: inputs are recognized by role whatever their names
(--input ROLE=NAME overrides), an encoder without logits gets a
classification head (--head, --output), a config.json beside the model
gives labels, family and position limit, and a folder with Optimum's
encoder_model.onnx and decoder_model.onnx (or MODEL --decoder FILE) is
linked into one training graph and exported back as the two files. With
--lora the adapters are also written in PEFT's format.

A T5 (an export with decoder_input_ids, labels and a loss output, Optimum's
two files, or --arch t5-tiny / t5-small / t5-base) is trained text to text with its tokenizer.json
(--tokenizer): input "sst2 sentence: …", target the label word
("negative"/"positive") and </s>; evaluation scores each label word's
likelihood and picks the best.

With no arguments it runs the built-in demo: the bundled tiny BERT on a
synthetic sentiment task generated in Go, WTA-CRS at keep 0.3, ending with
the accuracy and the memory saved against exact training.`

// trainArgs are train's flags as they are parsed.
type trainArgs struct {
	c                           train.Config
	flags                       trainingFlags
	ex                          exportFlags
	dataDir, device, configFile string
	memoryBudget                string
	resumeWithChanges           bool
}

func (a *trainArgs) run(cmd *cobra.Command, args []string) error {
	c := &a.c
	// The demo is `crsc train` alone (--out and --device may place it);
	// anything else describes a run of one's own.
	demo := len(args) == 0 && !anyFlagBut(cmd, "out", "device")
	if a.configFile != "" {
		var err error
		if args, err = applyConfigFile(cmd, a.configFile, args); err != nil {
			return err
		}
	}
	if !demo {
		if err := checkTrainFlags(cmd, c, &a.flags, args); err != nil {
			return err
		}
	}
	dev, err := openDevice(a.device, cmd.ErrOrStderr())
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
	if err := resolveData(c, a.dataDir); err != nil {
		return err
	}
	if c.Custom, err = a.ex.custom(cmd, c.Task); err != nil {
		return err
	}
	c.Spec = a.flags.spec()
	c.Spec.Memory = !a.flags.noMemory
	if a.memoryBudget != "" {
		if c.MemoryBudget, err = a.checkMemoryBudget(cmd); err != nil {
			return err
		}
	}
	c.ResumeWithChanges = a.resumeWithChanges
	// Every value is the flag's: 0 is not "the default".
	c.Explicit = true
	if c.Out == "" {
		c.Out = filepath.Join("runs", c.Task)
	}
	c.Progress, c.Terminal = w, isTerminal(w)
	res, err := train.Run(*c)
	if err != nil {
		return err
	}
	printResult(w, c.Out, res)
	return nil
}

func (a *trainArgs) register(cmd *cobra.Command) {
	c := &a.c
	fl := cmd.Flags()
	fl.StringVar(&c.Arch, "arch", "", "train a built-in architecture from random init instead of MODEL (bert-tiny, bert-small, t5-tiny, t5-small, t5-base)")
	fl.StringVar(&c.Task, "task", "", taskHelp)
	fl.StringVar(&a.dataDir, "data", "", "folder with train and dev files (.tsv, .jsonl or .csv; JSON Lines with input_ids: pre-tokenized), or one training file")
	fl.StringVar(&c.EvalFile, "eval-data", "", "evaluation file (default: DIR/dev.*)")
	fl.StringVar(&c.Vocab, "vocab", "", "WordPiece vocab.txt (e.g. bert-base-uncased.vocab.txt)")
	fl.StringVar(&c.TokenizerFile, "tokenizer", "", "Hugging Face tokenizer.json: WordPiece (BERT family) or Unigram (T5); default: the tokenizer.json or vocab.txt beside the model")
	fl.IntVar(&c.TgtLen, "tgt-len", 0, "T5 target length: label pieces + </s> (0: the longest label word's)")
	fl.IntVar(&c.MaxLen, "max-len", 128, "longest sequence: longer inputs are truncated")
	fl.BoolVar(&c.StaticPadding, "static-padding", false, "pad every training batch to --max-len (default: to the batch's longest example, rounded up to 8, with one compiled graph per length)")
	fl.IntVar(&c.Batch, "batch", 32, "examples per micro-batch")
	fl.IntVar(&c.Accum, "grad-accum", 1, "micro-batches per optimizer step")
	fl.IntVar(&c.Epochs, "epochs", 3, "passes over the training data")
	fl.IntVar(&c.MaxSteps, "max-steps", 0, "stop after this many optimizer steps (0: all epochs)")
	fl.Float64Var(&c.LR, "lr", 2e-5, "peak learning rate")
	fl.Float64Var(&c.Warmup, "warmup", 0.1, "linear warmup: a fraction of the steps (< 1) or a step count")
	fl.StringVar(&c.Schedule, "schedule", train.ScheduleLinear, "learning rate after the warmup: linear (to 0 at the last step), cosine or constant")
	fl.IntVar(&c.EvalEvery, "eval-every", 0, "evaluate every N optimizer steps and at the end (0: at each epoch's end)")
	fl.IntVar(&c.Patience, "patience", 0, "early stopping: stop after N evaluations in a row without the task's metric improving by more than --min-delta; model.onnx is the best checkpoint's (0: off)")
	fl.Float64Var(&c.MinDelta, "min-delta", 0, "with --patience: the least improvement of the metric that counts")
	fl.StringVar(&a.configFile, "config", "", "read options from a JSON file: a run's config.json, or {\"lr\": 1e-3, \"keep\": 0.3, ...} with flag names as keys; flags given on the command line override it")
	fl.Float64Var(&c.ClipNorm, "clip", 1, "clip gradients to this global norm (0: off)")
	fl.Float64Var(&c.WeightDecay, "weight-decay", 0.01, "AdamW weight decay (never on biases and norms)")
	fl.Int64Var(&c.Seed, "seed", 1, "seed of data order, dropout, sampling and init")
	fl.IntVar(&c.Threads, "threads", 0, "CPU threads (0: all cores)")
	fl.StringVarP(&c.Out, "out", "o", "", "run directory (default runs/TASK; the demo: runs/demo)")
	fl.BoolVar(&c.Resume, "resume", false, "continue the run in --out from its checkpoint")
	fl.BoolVar(&a.resumeWithChanges, "resume-with-changes", false, "with --resume: continue even though the model, data or an option that changes the arithmetic differs from the checkpoint's")
	fl.IntVar(&c.LogEvery, "log-every", 10, "log every N steps (0: only the last step)")
	fl.IntVar(&c.SaveEvery, "save-every", 0, "checkpoint every N steps (0: each epoch)")
	fl.StringVar(&a.device, "device", "cpu", deviceHelp)
	fl.StringVar(&a.memoryBudget, "memory-budget", "", "memory the run may use, e.g. 8GiB: it chooses the cheapest strategy that fits (exact, recomputation, bf16 then 8-bit stashes, WTA-CRS keep 0.3 then 0.1) and says why")
	a.ex.register(cmd, &c.Export, true)
	a.flags.register(cmd, false)
	a.flags.sampleByDefault()
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
	if c.EvalFile != "" {
		return nil
	}
	// A task with several evaluation splits (MNLI's matched and
	// mismatched) reports them all; the first selects the best checkpoint.
	if task, err := data.LookupTask(c.Task); err == nil && len(task.DevSplits) > 1 {
		if splits, err := data.FindDev(dir, task); err == nil {
			c.EvalFile, c.MoreEvalFiles = splits[0].Path, splits[1:]
			return nil
		}
	}
	c.EvalFile, _ = data.Find(dir, "dev")
	return nil
}

func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func printResult(w io.Writer, out string, res *train.Result) {
	if res.Stopped {
		fmt.Fprintf(w, "stopped after step %d; checkpoint in %s (continue with --resume)\n", res.Steps, out)
		return
	}
	printMetrics(w, "", res.Eval)
	for _, k := range slices.Sorted(maps.Keys(res.Eval)) {
		// Further evaluation splits (MNLI's dev_mismatched): split/metric.
		if split, metric, ok := strings.Cut(k, "/"); ok && metric == res.Metric {
			printMetrics(w, split+" ", map[string]float64{metric: res.Eval[k]})
		}
	}
	switch {
	case !res.Evaluated:
		// No "best accuracy: 0.0000" for a run that never evaluated.
		fmt.Fprintln(w, "no evaluation: no dev file (put dev.* beside the training file in --data, or give --eval-data FILE)")
	case res.StoppedEarly:
		fmt.Fprintf(w, "best %s: %.4f (stopped early by --patience; model.onnx is the best checkpoint's)\n", res.Metric, res.Best)
	default:
		fmt.Fprintf(w, "best %s: %.4f\n", res.Metric, res.Best)
	}
	fmt.Fprintf(w, "steps:    %d in %s (%.0f tokens/s), peak RSS %s\n", res.Steps, res.Wall.Round(time.Millisecond), res.TokensPerSec, memplan.FormatBytes(res.PeakRSS))
	fmt.Fprint(w, strings.TrimPrefix(res.MemoryLine(), "\n"))
	if res.CacheBytes > 0 {
		fmt.Fprintf(w, "gnorm cache: %s\n", memplan.FormatBytes(res.CacheBytes))
	}
	exported := "model.onnx, "
	if len(res.Exported) > 0 {
		exported = strings.Join(res.Exported, ", ") + ", "
	}
	fmt.Fprintf(w, "run:      %s (%scurves.png, memory.png, metrics.jsonl and .csv, TensorBoard events, memory.txt)\n", out, exported)
}

// checkMemoryBudget parses --memory-budget; the flags it chooses itself
// are refused beside it.
func (a *trainArgs) checkMemoryBudget(cmd *cobra.Command) (int64, error) {
	for _, name := range memoryBudgetChooses {
		if f := cmd.Flags().Lookup(name); f != nil && f.Changed {
			return 0, fmt.Errorf("--%s with --memory-budget %s: --memory-budget chooses it itself; give one or the other", name, a.memoryBudget)
		}
	}
	if err := checkSize("memory-budget", a.memoryBudget); err != nil {
		return 0, err
	}
	return planning.ParseBytes(a.memoryBudget)
}

// printMetrics writes the task metrics crsc reports, one per line.
func printMetrics(w io.Writer, prefix string, m map[string]float64) {
	for _, k := range []string{"accuracy", "f1", "matthews", "pearson", "spearman"} {
		if v, ok := m[k]; ok {
			fmt.Fprintf(w, "%s%-9s %.4f\n", prefix, k+":", v)
		}
	}
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
		return fmt.Errorf("no model: give MODEL.onnx or --arch bert-tiny|bert-small|t5-tiny|t5-small|t5-base (with no arguments at all, crsc train runs the demo)")
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
		checkInt("eval-every", c.EvalEvery, 0, noLimit),
		checkInt("patience", c.Patience, 0, noLimit),
		checkRange("min-delta", c.MinDelta, 0, math.Inf(1)),
		checkSchedule(c.Schedule),
		checkGoesWith(cmd, "min-delta", "patience"),
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

// checkSchedule accepts the learning-rate schedules train knows.
func checkSchedule(s string) error {
	switch s {
	case train.ScheduleLinear, train.ScheduleCosine, train.ScheduleConstant:
		return nil
	}
	return fmt.Errorf("--schedule %q: want linear, cosine or constant", s)
}

// checkGoesWith refuses a flag that does nothing without another.
func checkGoesWith(cmd *cobra.Command, flag, needs string) error {
	if cmd.Flags().Changed(flag) && !cmd.Flags().Changed(needs) {
		return fmt.Errorf("--%s goes with --%s", flag, needs)
	}
	return nil
}

// configKeys maps the keys of a run's config.json (train.Config's JSON,
// nested keys joined with ".") to the flags that set them. A --config
// file may also use the flag names themselves as keys.
var configKeys = map[string]string{
	"export.decoder": "decoder", "export.output": "output", "export.head": "head",
	"custom.labels": "labels", "custom.num_labels": "num-labels", "custom.text_columns": "text-columns",
	"custom.label_column": "label-column", "custom.regression": "regression",
	"task": "task", "train_file": "data", "eval_file": "eval-data", "vocab": "vocab", "tokenizer": "tokenizer",
	"max_len": "max-len", "static_padding": "static-padding", "tgt_len": "tgt-len", "batch": "batch", "grad_accum": "grad-accum",
	"epochs": "epochs", "max_steps": "max-steps", "lr": "lr", "warmup": "warmup", "schedule": "schedule", "eval_every": "eval-every",
	"patience": "patience", "min_delta": "min-delta", "clip_norm": "clip", "weight_decay": "weight-decay", "seed": "seed",
	"threads": "threads", "out": "out", "log_every": "log-every", "save_every": "save-every",
	"spec.sampling.estimator": "estimator", "spec.sampling.keep": "keep", "spec.sampling.min_rows": "min-rows",
	"spec.sampling.gnorm": "gnorm", "spec.sampling.layers": "layers", "spec.sampling.attention": "attention",
	"spec.lora.rank": "lora", "spec.lora.alpha": "lora-alpha", "spec.lora.targets": "lora-targets", "spec.lora.bitfit": "bitfit",
	"spec.train.train": "train", "spec.train.freeze": "freeze",
	"spec.stash.dtype": "stash", "spec.stash.kinds": "stash-kinds", "spec.stash.int8_kinds": "stash-int8",
}

// configIgnored are config.json keys that no flag sets: what the run
// decided itself (the loss, the adapters' seed), an action rather than a
// setting (resume), or what the library alone sets.
var configIgnored = map[string]bool{
	"resume": true, "resume_with_changes": true, "no_export": true, "demo": true, "gnorm_ema_decay": true,
	"spec.loss.kind": true, "spec.loss.output": true, "spec.lora.seed": true, "spec.lora.module_names": true,
	"spec.lora.family": true, "custom.name": true, "custom.pair": true, "more_eval_files": true,
	// What --memory-budget chose is in the spec: a rerun from config.json
	// repeats the choice instead of choosing again.
	"memory_budget": true,
}

// applyConfigFile sets, from a JSON file, every flag the command line did
// not give (command-line flags override the file). "model" is MODEL when
// no MODEL argument is given; spec.memory false is --no-memory-rewrites.
// A value equal to the flag's default is left unset, so that a run's own
// config.json does not count as asking for every setting (--lora-alpha
// without --lora is refused only when someone asks for it). Unknown keys
// are errors: a misspelt option must not be ignored.
func applyConfigFile(cmd *cobra.Command, path string, args []string) ([]string, error) {
	values, err := readConfigValues(path)
	if err != nil {
		return nil, err
	}
	fl := cmd.Flags()
	// What the command line gave wins, MODEL or --arch included.
	cli := map[string]bool{"arch": fl.Changed("arch"), "no-memory-rewrites": fl.Changed("no-memory-rewrites"), "input": fl.Changed("input")}
	for key := range values {
		for _, name := range []string{key, configKeys[key]} {
			if name != "" && fl.Lookup(name) != nil {
				cli[name] = fl.Changed(name)
			}
		}
	}
	haveModel := len(args) > 0 || cli["arch"]
	for _, key := range slices.Sorted(maps.Keys(values)) {
		v := values[key]
		switch {
		case v == nil || configIgnored[key]:
		case key == "model" || key == "arch":
			if s, ok := v.(string); ok && s != "" && !haveModel {
				if key == "arch" {
					fl.Set("arch", s)
				} else {
					args = []string{s}
				}
			}
		case strings.HasPrefix(key, "export.inputs."):
			if name, ok := v.(string); ok && !cli["input"] {
				if err := fl.Set("input", strings.TrimPrefix(key, "export.inputs.")+"="+name); err != nil {
					return nil, fmt.Errorf("--config %s: %s: %v", path, key, err)
				}
			}
		case key == "spec.memory":
			if on, ok := v.(bool); ok && !on && !cli["no-memory-rewrites"] {
				fl.Set("no-memory-rewrites", "true")
			}
		default:
			if err := setFromConfig(cmd, path, key, v, cli); err != nil {
				return nil, err
			}
		}
	}
	return args, nil
}

// readConfigValues reads a JSON object and flattens it: nested keys
// joined with ".".
func readConfigValues(path string) (map[string]any, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--config: %v", err)
	}
	var tree map[string]any
	if err := json.Unmarshal(b, &tree); err != nil {
		return nil, fmt.Errorf("--config %s: not a JSON object: %v", path, err)
	}
	values := map[string]any{}
	var flatten func(prefix string, m map[string]any)
	flatten = func(prefix string, m map[string]any) {
		for k, v := range m {
			if sub, ok := v.(map[string]any); ok {
				flatten(prefix+k+".", sub)
				continue
			}
			values[prefix+k] = v
		}
	}
	flatten("", tree)
	return values, nil
}

// setFromConfig sets the flag a config key names (a config.json key or the
// flag's own name) unless the command line gave it or the value is the
// flag's default.
func setFromConfig(cmd *cobra.Command, path, key string, v any, cli map[string]bool) error {
	fl := cmd.Flags()
	flag, known := configKeys[key]
	if !known {
		if fl.Lookup(key) == nil || key == "config" || key == "resume" || key == "resume-with-changes" {
			return fmt.Errorf("--config %s: unknown key %q (want a config.json key or a flag name)", path, key)
		}
		flag = key // a flag's own name
	}
	f := fl.Lookup(flag)
	if f == nil || cli[flag] {
		return nil // the command line wins
	}
	text := fmt.Sprint(v)
	if list, ok := v.([]any); ok {
		parts := make([]string, len(list))
		for i, x := range list {
			parts[i] = fmt.Sprint(x)
		}
		text = strings.Join(parts, ",")
	}
	if x, ok := v.(float64); ok {
		text = strconv.FormatFloat(x, 'g', -1, 64)
		if d, err := strconv.ParseFloat(f.DefValue, 64); err == nil && d == x {
			return nil
		}
	} else if text == f.DefValue {
		return nil
	}
	if err := fl.Set(flag, text); err != nil {
		return fmt.Errorf("--config %s: %s = %v: %v", path, key, v, err)
	}
	return nil
}
