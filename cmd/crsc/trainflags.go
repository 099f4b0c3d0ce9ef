package main

import (
	"strings"

	"github.com/spf13/cobra"

	"crsc/compiler/passes"
)

// trainingFlags are the flags shared by every command that compiles a
// training graph (compile, grad, plan, train).
type trainingFlags struct {
	loss, output, train, freeze string
	estimator, gnorm, layers    string
	keep                        float64
	minRows                     int
	lora                        int
	loraAlpha                   float64
	loraTargets                 string
	bitfit, noMemory, attention bool
	stash                       string // --stash bf16|int8|none
	recompute                   bool
	stashKinds, stashInt8       []string
	// sampledByDefault: the command samples unless told otherwise
	// (train, compile: --keep 0.3, the paper's setting). The others
	// (plan, grad, bench) compile the exact graph unless --keep or
	// --estimator is given.
	sampledByDefault bool
	cmd              *cobra.Command
}

// defaultKeep is train's and compile's --keep: the paper's setting.
const defaultKeep = 0.3

// sampleByDefault makes WTA-CRS at keep 0.3 the command's default, with
// --keep 1 or --estimator exact for exact training. Called after register.
func (f *trainingFlags) sampleByDefault() {
	f.sampledByDefault = true
	f.keep = defaultKeep
	k := f.cmd.Flags().Lookup("keep")
	k.DefValue = "0.3"
	k.Usage = "fraction of activation rows kept for each sampled weight gradient (1, or --estimator exact: exact training)"
}

// exact says the flags ask for the exact graph, without sampling nodes.
func (f *trainingFlags) exact() bool {
	changed := f.cmd.Flags().Changed
	if f.estimator == "exact" {
		return true
	}
	if f.sampledByDefault {
		// --keep 1 alone is exact; an explicit estimator with --keep 1
		// still inserts the sampling nodes (k = N: bit-identical), as
		// the tests of the sampled graph use it.
		return f.keep == 1 && !changed("estimator")
	}
	// No sampling asked for: the exact graph. An explicit --keep 1 does
	// insert the sampling nodes (k = N: bit-identical).
	return !changed("keep") && !changed("estimator")
}

func (f *trainingFlags) register(cmd *cobra.Command, withLoss bool) {
	f.cmd = cmd
	fl := cmd.Flags()
	if withLoss {
		fl.StringVar(&f.loss, "loss", "", "output, cross-entropy, mse or vjp (default: the model's scalar loss output)")
		fl.StringVar(&f.output, "output", "", "the model output the loss applies to")
	}
	fl.StringVar(&f.train, "train", "", "regexp: train only the parameters whose name matches")
	fl.StringVar(&f.freeze, "freeze", "", "regexp: freeze the parameters whose name matches")
	fl.StringVar(&f.estimator, "estimator", "wta", "weight-gradient estimator: wta, crs, topk (biased baseline) or exact")
	fl.Float64Var(&f.keep, "keep", 1, "fraction of activation rows kept for each sampled weight gradient (1 = exact)")
	fl.IntVar(&f.minRows, "min-rows", 10, "rows kept at least")
	fl.StringVar(&f.gnorm, "gnorm", "none", "where the ‖G_i‖ estimates come from: none, ema or cache")
	fl.StringVar(&f.layers, "layers", "auto", "which linear layers to sample: auto, all, or a regexp")
	fl.IntVar(&f.lora, "lora", 0, "LoRA rank (0: no adapters)")
	fl.Float64Var(&f.loraAlpha, "lora-alpha", 0, "LoRA alpha (default: the rank)")
	fl.StringVar(&f.loraTargets, "lora-targets", "", "regexp of the layers that get adapters (default: attention Q/K/V)")
	fl.BoolVar(&f.bitfit, "bitfit", true, "with --lora, train the biases too")
	fl.BoolVar(&f.attention, "attention", false, "also sample the attention products (QKᵀ and P·V)")
	fl.BoolVar(&f.noMemory, "no-memory-rewrites", false, "keep Dropout/ReLU masks and norm inputs as they are")
	fl.StringVar(&f.stash, "stash", "none", "keep the activations backward reads in bf16 (half the bytes; backward reads them rounded to 8 significant bits), int8 (a quarter: 8-bit codes with one scale per row, read to within 1/254 of the row's largest value) or none (float32)")
	fl.BoolVar(&f.recompute, "recompute", false, "recompute cheap activations (GELU, Dropout, Tanh outputs) in backward from inputs it keeps anyway instead of keeping them: exact")
	fl.StringSliceVar(&f.stashKinds, "stash-kinds", nil, "with --stash bf16 or int8, only these: "+strings.Join(passes.StashKinds, ",")+" (default: all)")
	fl.StringSliceVar(&f.stashInt8, "stash-int8", nil, "with --stash bf16, keep these kinds in 8-bit rows instead (e.g. sampled,softmax)")
}

func (f *trainingFlags) spec() passes.TrainingSpec {
	estimator := f.estimator
	if f.exact() {
		estimator = "exact"
	}
	return passes.TrainingSpec{
		Loss:   passes.LossSpec{Kind: f.loss, Output: f.output},
		Train:  passes.TrainSelection{Train: f.train, Freeze: f.freeze},
		LoRA:   passes.LoRASpec{Rank: f.lora, Alpha: f.loraAlpha, Targets: f.loraTargets, BitFit: f.bitfit},
		Memory: !f.noMemory,
		Sampling: passes.SamplingSpec{
			Estimator: estimator, Keep: f.keep, MinRows: f.minRows, GNorm: f.gnorm, Layers: f.layers, Attention: f.attention,
		},
		Stash: f.stashSpec(),
		Remat: passes.RematSpec{Enabled: f.recompute},
	}
}

// stashSpec is --stash, --stash-kinds and --stash-int8; "none" is the zero
// spec, so a run's config.json without stashes reads as it did before the
// flag.
func (f *trainingFlags) stashSpec() passes.StashSpec {
	if f.stash == "none" || f.stash == "" {
		// Kinds alone are refused by the stash pass (StashSpec.Check).
		return passes.StashSpec{Kinds: f.stashKinds, Int8Kinds: f.stashInt8}
	}
	return passes.StashSpec{DType: f.stash, Kinds: f.stashKinds, Int8Kinds: f.stashInt8}
}
