package passes

import (
	"fmt"
	"math"
	"math/rand"
	"regexp"

	"crsc/compiler/ir"
)

// LoRASpec configures low-rank adapters.
type LoRASpec struct {
	Rank    int     `json:"rank"`    // r; 0 disables LoRA
	Alpha   float64 `json:"alpha"`   // the update is scaled by Alpha/Rank (default Alpha = Rank)
	Targets string  `json:"targets"` // regexp over forward MatMul node names, weight names and HF module paths; "" = the attention Q/K/V projections
	BitFit  bool    `json:"bitfit"`  // also train the biases (the reference does)
	Seed    int64   `json:"seed"`    // adapter initialization
	// ModuleNames names adapters after the layer's Hugging Face module
	// (distilbert.transformer.layer.0.attention.q_lin.lora_A) instead of
	// its weight initializer (302.lora_A) where the module is known. Off
	// by default: callers that find the base weight by cutting .lora_A off
	// the adapter's name must use LoRAAdapter.Base first.
	ModuleNames bool `json:"module_names,omitempty"`
	// Family picks the default targets (DefaultLoRAModules); "" detects it
	// from the export's names.
	Family Family `json:"family,omitempty"`
}

// LoRAAdapter is one adapted linear layer.
type LoRAAdapter struct {
	Node   string // the forward MatMul
	Module string // its Hugging Face module path ("" when the names do not say)
	Base   string // the base weight initializer W [in, out]
	A, B   string // the adapter initializers A [in, r], B [r, out]
}

// insertAdapter makes every reader of the linear layer mm's output y read
// y + (x·A)·B·scale instead.
func insertAdapter(g *ir.Graph, mm *ir.Node, a, b *ir.Value, scale float64) error {
	gb := &gradBuilder{g: g, prefix: mm.Name + "/lora"}
	y := mm.Outputs[0]
	readers := g.Consumers()[y]
	xa := insertAfter(g, mm, gb.node("MatMul", "", nil, 1, mm.In(0), a))
	xab := insertAfter(g, xa, gb.node("MatMul", "", nil, 1, xa.Outputs[0], b))
	scaled := insertAfter(g, xab, gb.node("Mul", "", nil, 1, xab.Outputs[0], gb.scalar(scale, y)))
	sum := insertAfter(g, scaled, gb.node("Add", "", nil, 1, y, scaled.Outputs[0]))
	replaceUsesIn(g, readers, y, sum.Outputs[0])
	return gb.err
}

// replaceUsesIn makes the given readers (and the graph outputs) read new
// where they read old.
func replaceUsesIn(g *ir.Graph, readers []*ir.Node, old, new *ir.Value) {
	for _, rd := range readers {
		for i, in := range rd.Inputs {
			if in == old {
				rd.Inputs[i] = new
			}
		}
	}
	for i, o := range g.Outputs {
		if o == old {
			g.Outputs[i] = new
		}
	}
}

// DefaultLoRATargets matches the attention query/key/value projections of
// BERT (…/attention/self/query/MatMul) and T5 (…/SelfAttention/q/MatMul,
// EncDecAttention.k.weight) exports.
const DefaultLoRATargets = `(?i)(query|key|value|Attention[./]+[qkv]\b)`

// LoRATrainPattern is the trained set a LoRA run uses by default: the
// adapters, plus biases with BitFit.
func LoRATrainPattern(spec LoRASpec) string {
	if spec.BitFit {
		return `\.lora_[AB]$|bias`
	}
	return `\.lora_[AB]$`
}

// AddLoRAAdapters adds a rank-r adapter beside every targeted linear
// layer: y = x·W + (x·A)·B·(α/r), with A [d_in, r] drawn like PEFT's
// Kaiming-uniform init and B [r, d_out] zero, so the model's output is
// unchanged at step 0. The base weight W stays in the graph (frozen by the
// trained-set pattern). With no --lora-targets
// a layer is adapted when its node or weight name matches
// DefaultLoRATargets, or its Hugging Face module path is one of its
// family's DefaultLoRAModules (DistilBERT's q_lin/k_lin/v_lin, which the
// exporter leaves in no node name).
func AddLoRAAdapters(g *ir.Graph, spec LoRASpec) ([]LoRAAdapter, error) {
	if spec.Rank < 1 {
		return nil, fmt.Errorf("--lora %d: want a rank ≥ 1", spec.Rank)
	}
	if spec.Alpha == 0 {
		spec.Alpha = float64(spec.Rank)
	}
	pattern := spec.Targets
	if pattern == "" {
		pattern = DefaultLoRATargets
	}
	targets, err := regexp.Compile(pattern)
	if err != nil {
		return nil, fmt.Errorf("--lora-targets %q: %v", pattern, err)
	}
	var familyTargets *regexp.Regexp
	hf := HFModuleNames(g)
	if spec.Family == FamilyUnknown {
		spec.Family = hf.Family
	}
	if spec.Targets == "" {
		if re := DefaultLoRATargetsFor(spec.Family); re != "" {
			familyTargets = regexp.MustCompile(re)
		}
	}
	if err := g.InferShapes(); err != nil {
		return nil, err
	}
	r := rand.New(rand.NewSource(spec.Seed))
	var adapters []LoRAAdapter
	for _, mm := range append([]*ir.Node{}, g.Nodes...) {
		if mm.Op != "MatMul" || mm.Domain != "" {
			continue
		}
		w := mm.In(1)
		name := weightName(w)
		base := g.Value(name)
		if base == nil || !isWeight(base) || !w.HasShape || len(w.Shape) != 2 {
			continue
		}
		module := hf.ModulePath(mm)
		byModule := module != "" && (targets.MatchString(module) || familyTargets != nil && familyTargets.MatchString(module))
		if !targets.MatchString(mm.Name) && !targets.MatchString(name) && !byModule {
			continue
		}
		dims, ok := w.Shape.Ints()
		if !ok {
			continue
		}
		dIn, dOut := dims[0], dims[1]
		a := ir.NewTensor(ir.Float32, dIn, spec.Rank)
		bound := 1 / math.Sqrt(float64(dIn))
		for i := range a.F32 {
			a.F32[i] = float32((2*r.Float64() - 1) * bound)
		}
		prefix := name
		if spec.ModuleNames && module != "" {
			prefix = module
		}
		av := g.AddInit(prefix+".lora_A", a)
		bv := g.AddInit(prefix+".lora_B", ir.NewTensor(ir.Float32, spec.Rank, dOut))
		adapters = append(adapters, LoRAAdapter{Node: mm.Name, Module: module, Base: name, A: av.Name, B: bv.Name})
		if err := insertAdapter(g, mm, av, bv, spec.Alpha/float64(spec.Rank)); err != nil {
			return nil, err
		}
	}
	if len(adapters) == 0 {
		return nil, fmt.Errorf("--lora: no linear layer matches %q", pattern)
	}
	return adapters, g.InferShapes()
}
