package passes

import (
	"fmt"
	"math"
	"math/rand"
	"regexp"

	"crsc/ir"
)

// LoRASpec configures low-rank adapters.
type LoRASpec struct {
	Rank    int     `json:"rank"`    // r; 0 disables LoRA
	Alpha   float64 `json:"alpha"`   // the update is scaled by Alpha/Rank (default Alpha = Rank)
	Targets string  `json:"targets"` // regexp over forward MatMul node and weight names; "" = the attention Q/K/V projections
	BitFit  bool    `json:"bitfit"`  // also train the biases (the reference does)
	Seed    int64   `json:"seed"`    // adapter initialization
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

// AddLoRA adds a rank-r adapter beside every targeted linear layer:
// y = x·W + (x·A)·B·(α/r), with A [d_in, r] drawn like PEFT's Kaiming-uniform
// init and B [r, d_out] zero, so the model's output is unchanged at step 0.
// The base weight W stays in the graph (frozen by the trained-set pattern).
// It returns the names of the adapter parameters.
func AddLoRA(g *ir.Graph, spec LoRASpec) ([]string, error) {
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
	if err := g.InferShapes(); err != nil {
		return nil, err
	}
	r := rand.New(rand.NewSource(spec.Seed))
	var adapters []string
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
		if !targets.MatchString(mm.Name) && !targets.MatchString(name) {
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
		av := g.AddInit(name+".lora_A", a)
		bv := g.AddInit(name+".lora_B", ir.NewTensor(ir.Float32, spec.Rank, dOut))
		adapters = append(adapters, av.Name, bv.Name)
		b := &gradBuilder{g: g, prefix: mm.Name + "/lora"}
		y := mm.Outputs[0]
		readers := g.Consumers()[y]
		xa := insertAfter(g, mm, b.node("MatMul", "", nil, 1, mm.In(0), av))
		xab := insertAfter(g, xa, b.node("MatMul", "", nil, 1, xa.Outputs[0], bv))
		scaled := insertAfter(g, xab, b.node("Mul", "", nil, 1, xab.Outputs[0], b.scalar(spec.Alpha/float64(spec.Rank), y)))
		sum := insertAfter(g, scaled, b.node("Add", "", nil, 1, y, scaled.Outputs[0]))
		for _, rd := range readers {
			for i, in := range rd.Inputs {
				if in == y {
					rd.Inputs[i] = sum.Outputs[0]
				}
			}
		}
		for i, o := range g.Outputs {
			if o == y {
				g.Outputs[i] = sum.Outputs[0]
			}
		}
		if b.err != nil {
			return nil, b.err
		}
	}
	if len(adapters) == 0 {
		return nil, fmt.Errorf("--lora: no linear layer matches %q", pattern)
	}
	return adapters, g.InferShapes()
}
