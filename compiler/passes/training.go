package passes

import (
	"slices"

	"crsc/compiler/ir"
)

// TrainingState is what the training pipeline's passes share: the spec
// they read (a pass may settle a default for the later ones: LoRA's
// trained set) and the decisions they record.
type TrainingState struct {
	Spec   TrainingSpec
	Result *Training
}

// TrainingPipeline turns a loaded forward graph into a training graph:
// LoRA adapters, loss and gradients, memory rewrites, WTA-CRS sampling of
// linear layers and attention products, recomputation, 16-bit stashes
// (last: they narrow what the others leave for backward to read, sampled
// rows and the inputs replays read included). A pass the spec does not ask
// for leaves the graph as it is. passOrder says why the order is what it
// is.
var TrainingPipeline = []Pass{
	{"lora", loraPass},
	{"autodiff", autodiffPass},
	{"memory-rewrites", memoryRewritesPass},
	{"wtacrs", wtacrsPass},
	{"wtacrs-attention", wtacrsAttentionPass},
	{"recompute", recomputePass},
	{"stash", stashPass},
}

// Lowering rewrites a compiled graph, before its memory is planned, into
// the form the backends run fastest (runtime/engine runs it on every graph
// it binds); every output keeps its value bit for bit. It runs after the
// training pipeline because the passes there that look for patterns
// (WTA-CRS finds linear layers by their weight's Transpose) must see the
// graph as exported and differentiated. fold-transposes: a torch export's
// weights and weight gradients are read through the GEMMs' trans flags
// instead of transposed every step; fold-head-transposes: attention's
// batched products read and write the heads where they lie instead of
// through Transpose copies; fuse-bias-add: a linear layer's bias
// is added inside its GEMM; fuse-epilogues: the activation and residual
// Add after it too (the last three CPU only: see LoweringFor).
var Lowering = []Pass{
	{"fold-transposes", FoldTransposes},
	{"fold-head-transposes", FoldHeadTransposes},
	{"fuse-bias-add", FuseBiasAdd},
	{"fuse-epilogues", FuseEpilogues},
}

// LoweringFor is Lowering for a backend: the GPU MatMul has no bias,
// residual, activation or permuted operands, so the folds into it are the
// CPU's alone.
func LoweringFor(cpu bool) []Pass {
	if cpu {
		return Lowering
	}
	return slices.DeleteFunc(slices.Clone(Lowering), func(p Pass) bool {
		return p.Name == "fold-head-transposes" || p.Name == "fuse-bias-add" || p.Name == "fuse-epilogues"
	})
}

// passOrder are the ordering constraints of both pipelines, as Go SSA
// keeps them: a before b, and why. A test checks the pipelines against
// them.
var passOrder = []struct{ a, b, why string }{
	{"lower-gradient-ops", "check-supported", "the Gradient ops' expansion must be checked like the rest"},
	{"bind-shapes", "infer-shapes", "inference starts from the bound input shapes"},
	{"infer-shapes", "fold-constants", "folding Shape subgraphs needs the shapes"},
	{"fold-constants", "fuse-gelu", "the fusions match the folded constants (√2, 0.5, ε)"},
	{"fold-constants", "fuse-norms", "the fusions match the folded constants"},
	{"fuse-norms", "dce", "a fusion leaves the subgraph it replaced dead"},
	{"lora", "autodiff", "the adapters must exist before their gradients are derived"},
	{"autodiff", "memory-rewrites", "the rewrites change what backward reads"},
	{"memory-rewrites", "wtacrs", "a layer is sampled only if its input leaves what backward keeps, which the rewrites decide"},
	{"autodiff", "wtacrs", "it rewrites the weight gradients autodiff marks"},
	{"wtacrs", "wtacrs-attention", "attention sampling reads which activations the linear layers left kept"},
	{"wtacrs-attention", "recompute", "recomputation replays what sampling left kept"},
	{"recompute", "stash", "stashes narrow what every other pass leaves for backward"},
	{"fold-transposes", "fuse-bias-add", "the bias joins the GEMM as the folding leaves it, its operands read through trans flags"},
	{"fold-transposes", "fold-head-transposes", "the last-two-dims swaps become trans flags first; the permutations left fold into the batched products"},
	{"fuse-bias-add", "fuse-epilogues", "the activation and residual come after the bias, which must be in the GEMM first"},
}

func loraPass(g *ir.Graph, cfg *Config) (err error) {
	st := cfg.Training
	if st.Spec.LoRA.Rank == 0 {
		return nil
	}
	var adapters []LoRAAdapter
	if adapters, st.Spec, err = ApplyLoRA(g, st.Spec); err != nil {
		return err
	}
	for _, a := range adapters {
		st.Result.Adapters = append(st.Result.Adapters, a.A, a.B)
	}
	return nil
}

func autodiffPass(g *ir.Graph, cfg *Config) error {
	st := cfg.Training
	seeds, err := AttachLoss(g, st.Spec.Loss)
	if err != nil {
		return err
	}
	// A training step returns the loss and the gradients. The model's
	// other outputs (logits) would stay alive to the end of the step for
	// nobody: 98 MiB for T5-base at 100×8×32128.
	g.Outputs = slices.DeleteFunc(g.Outputs, func(v *ir.Value) bool { return v.Name != LossName })
	params, err := Params(g, st.Spec.Train)
	if err != nil {
		return err
	}
	st.Result.Trained, st.Result.Backward, err = Gradients(g, params, seeds)
	return err
}

func memoryRewritesPass(g *ir.Graph, cfg *Config) (err error) {
	if st := cfg.Training; st.Spec.Memory {
		st.Result.MemoryRewrites, err = MemoryRewrites(g, nil)
	}
	return err
}

func wtacrsPass(g *ir.Graph, cfg *Config) (err error) {
	if st := cfg.Training; st.Spec.Sampling.Enabled() {
		st.Result.Layers, err = SampleLinearGrads(g, st.Spec.Sampling, st.Result.Backward.Linear)
	}
	return err
}

func wtacrsAttentionPass(g *ir.Graph, cfg *Config) (err error) {
	if st := cfg.Training; st.Spec.Sampling.Enabled() && st.Spec.Sampling.Attention {
		st.Result.Attention, err = SampleAttention(g, st.Spec.Sampling, st.Result.Backward.Products)
	}
	return err
}

func recomputePass(g *ir.Graph, cfg *Config) (err error) {
	st := cfg.Training
	st.Result.Recomputed, err = Remat(g, st.Spec.Remat)
	return err
}

func stashPass(g *ir.Graph, cfg *Config) (err error) {
	st := cfg.Training
	st.Result.Stashed, err = Stash(g, st.Spec.Stash)
	return err
}

// ApplyLoRA is the lora pass on its own, for callers that add the
// adapters to a forward graph before compiling it (an eval graph cloned
// from it has them too): it adds the adapters spec asks for and returns
// the spec the rest of the pipeline compiles with — the adapters (and
// BitFit's biases) trained unless --train says otherwise, and no LoRA left
// to add.
func ApplyLoRA(g *ir.Graph, spec TrainingSpec) ([]LoRAAdapter, TrainingSpec, error) {
	if spec.LoRA.Rank == 0 {
		return nil, spec, nil
	}
	adapters, err := AddLoRAAdapters(g, spec.LoRA)
	if err != nil {
		return nil, spec, err
	}
	if spec.Train.Train == "" {
		spec.Train.Train = LoRATrainPattern(spec.LoRA)
	}
	spec.LoRA.Rank = 0
	return adapters, spec, nil
}
