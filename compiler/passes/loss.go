package passes

import (
	"fmt"
	"strings"

	"crsc/compiler/ir"
)

// Loss kinds a training graph can be built around.
const (
	LossOutput       = "output"        // a scalar the model already outputs (T5 with labels)
	LossCrossEntropy = "cross-entropy" // logits output + an integer labels input
	LossMSE          = "mse"           // regression: predictions output + a float targets input
	LossVJP          = "vjp"           // sum(output ⊙ cotangent), the cotangent an input
)

// LossSpec says what to differentiate.
type LossSpec struct {
	Kind   string `json:"kind"`   // one of the Loss* kinds; "" picks LossOutput when the model outputs a scalar "loss"
	Output string `json:"output"` // the model output the loss is built on ("" = the only or first output)
}

// LossName is the training graph's scalar loss output.
const LossName = "loss"

// AttachLoss adds the loss to g and returns its seeds for Gradients: the
// value to differentiate and its incoming gradient (1, or the cotangent).
// It adds inputs as the loss kind needs: labels, targets or
// <output>_cotangent.
func AttachLoss(g *ir.Graph, spec LossSpec) (map[*ir.Value]*ir.Value, error) {
	if err := g.InferShapes(); err != nil {
		return nil, err
	}
	kind := spec.Kind
	if kind == "" {
		if v := findOutput(g, LossName); v != nil {
			kind, spec.Output = LossOutput, LossName
		} else {
			return nil, fmt.Errorf("the model has no scalar %q output: choose a loss kind (cross-entropy, mse or vjp: --loss) and the output it applies to (--output)", LossName)
		}
	}
	out := findOutput(g, spec.Output)
	if spec.Output == "" && len(g.Outputs) > 0 {
		out = g.Outputs[0]
	}
	if out == nil {
		return nil, fmt.Errorf("the model has no output %q (outputs: %s)", spec.Output, ir.JoinNames(g.Outputs))
	}
	if !out.DType.IsFloat() {
		return nil, fmt.Errorf("output %q is %v, not a float that a loss can be taken of", out.Name, out.DType)
	}
	b := &gradBuilder{g: g, prefix: "loss"}
	switch kind {
	case LossOutput:
		if !out.HasShape || len(out.Shape) != 0 {
			return nil, fmt.Errorf("output %q is %s, not a scalar loss", out.Name, ir.TypeString(out))
		}
		return map[*ir.Value]*ir.Value{out: b.scalar(1, out)}, nil
	case LossCrossEntropy:
		if !out.HasShape || (len(out.Shape) != 2 && len(out.Shape) != 3) {
			return nil, fmt.Errorf("cross-entropy wants logits [batch, classes] or [batch, seq, vocab]; output %q is %s", out.Name, ir.TypeString(out))
		}
		labels := g.AddInput("labels", ir.Int64, out.Shape[:len(out.Shape)-1].Clone())
		scores := out
		if len(out.Shape) == 3 { // SoftmaxCrossEntropyLoss wants [N, C, d1]
			scores = b.op("Transpose", ir.Attrs{"perm": ir.IntsAttr(0, 2, 1)}, out)
		}
		sce := b.node("SoftmaxCrossEntropyLoss", "", ir.Attrs{"reduction": ir.StringAttr("mean"), "ignore_index": ir.IntAttr(-100)}, 1, scores, labels)
		return lossOutput(g, b, sce.Outputs[0])
	case LossMSE:
		targets := g.AddInput("targets", out.DType, out.Shape.Clone())
		d := b.op("Sub", nil, out, targets)
		l := b.op("ReduceMean", ir.Attrs{"keepdims": ir.IntAttr(0)}, b.op("Mul", nil, d, d))
		return lossOutput(g, b, l)
	case LossVJP:
		cot := g.AddInput(out.Name+"_cotangent", out.DType, out.Shape.Clone())
		l := b.op("ReduceSum", ir.Attrs{"keepdims": ir.IntAttr(0)}, b.op("Mul", nil, out, cot))
		l.Name = g.UniqueName(LossName)
		g.Outputs = append(g.Outputs, l)
		return map[*ir.Value]*ir.Value{out: cot}, b.err
	}
	return nil, fmt.Errorf("unknown loss %q (want output, cross-entropy, mse or vjp)", kind)
}

func lossOutput(g *ir.Graph, b *gradBuilder, l *ir.Value) (map[*ir.Value]*ir.Value, error) {
	l.Name = g.UniqueName(LossName)
	g.Outputs = append([]*ir.Value{l}, g.Outputs...)
	return map[*ir.Value]*ir.Value{l: b.scalar(1, l)}, b.err
}

func findOutput(g *ir.Graph, name string) *ir.Value {
	for _, v := range g.Outputs {
		if v.Name == name {
			return v
		}
	}
	return nil
}

// TrainingSpec is everything that shapes a training graph.
type TrainingSpec struct {
	Loss     LossSpec       `json:"loss"`
	Train    TrainSelection `json:"train"`
	LoRA     LoRASpec       `json:"lora"`
	Memory   bool           `json:"memory"` // apply the memory rewrites (regenerated Dropout masks, 1-bit ReLU masks, LayerNorm from output)
	Sampling SamplingSpec   `json:"sampling"`
	Stash    StashSpec      `json:"stash,omitzero"`     // activations backward reads kept in 16 bits
	Remat    RematSpec      `json:"recompute,omitzero"` // cheap activations recomputed in backward
}

// Training is a compiled training graph and what the compiler decided.
type Training struct {
	Graph          *ir.Graph
	Trained        []ParamGrad
	Layers         []LayerDecision     // one per linear layer with a trained weight (WTA-CRS)
	Attention      []AttentionDecision // with Sampling.Attention: each side of each attention product
	Adapters       []string            // LoRA adapter parameters added
	MemoryRewrites int
	Backward       *Backward       // what autodiff built, for the passes after it
	Stashed        []StashDecision // activations kept in bfloat16 for backward
	Recomputed     []RematDecision // activations recomputed in backward instead of kept
}

// Compile turns a loaded forward graph into a training graph in place: the
// TrainingPipeline run by Run, with Verify after each pass.
func Compile(g *ir.Graph, spec TrainingSpec) (*Training, error) {
	return CompileWith(g, spec, nil)
}

// CompileWith is Compile calling after (when not nil) with the graph after
// each training pass that ran (crsc inspect --after).
func CompileWith(g *ir.Graph, spec TrainingSpec, after func(pass string, g *ir.Graph)) (*Training, error) {
	st := &TrainingState{Spec: spec, Result: &Training{Graph: g}}
	if err := Run(g, TrainingPipeline, &Config{Training: st, After: after}); err != nil {
		return nil, err
	}
	return st.Result, nil
}

// DefaultLoss is the loss to train when none is asked for (compile,
// inspect, plan): the model's scalar loss output, else cross-entropy on
// its logits (an output named logits, or its only [batch, classes] float
// output). An encoder without either is refused in one line saying what
// to give.
func DefaultLoss(g *ir.Graph) (LossSpec, error) {
	for _, o := range g.Outputs {
		if o.Name == LossName {
			return LossSpec{Kind: LossOutput, Output: o.Name}, nil
		}
	}
	for _, o := range g.Outputs {
		classes := o.HasShape && len(o.Shape) == 2 && o.DType.IsFloat()
		if o.Name == "logits" || classes && len(g.Outputs) == 1 {
			return LossSpec{Kind: LossCrossEntropy, Output: o.Name}, nil
		}
	}
	var outs []string
	for _, o := range g.Outputs {
		outs = append(outs, o.Name+" "+ir.TypeString(o))
	}
	return LossSpec{}, fmt.Errorf("no loss or logits output (outputs: %s): give --loss and --output, or train it with crsc train, which adds a classification head", strings.Join(outs, ", "))
}
