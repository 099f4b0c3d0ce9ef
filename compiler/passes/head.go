package passes

import (
	"fmt"
	"math/rand"
	"strings"

	"crsc/compiler/ir"
)

// Pooling is how a classification head turns [batch, seq, hidden] states
// into one vector per example.
type Pooling string

const (
	PoolAuto   Pooling = ""       // the export's pooler output when it has one, else the family's convention
	PoolPooler Pooling = "pooler" // the export's [batch, hidden] pooler output (BERT's tanh(dense(h[:, 0])))
	PoolFirst  Pooling = "first"  // h[:, 0]: the [CLS] / <s> token
	PoolMean   Pooling = "mean"   // Σ h·mask / Σ mask over the sequence
)

// familyPooling is each family's convention when the export has no pooler:
// BERT, RoBERTa and DistilBERT classify from the first token (their HF
// *ForSequenceClassification heads read h[:, 0]); a T5 encoder has no
// [CLS] token, and mean pooling over the mask is what sentence-T5 and
// sentence-transformers use. An unknown family is pooled by the mean too:
// it needs no special token.
var familyPooling = map[Family]Pooling{
	FamilyBERT:       PoolFirst,
	FamilyRoBERTa:    PoolFirst,
	FamilyDistilBERT: PoolFirst,
	FamilyT5:         PoolMean,
	FamilyALBERT:     PoolFirst,
	FamilyELECTRA:    PoolFirst,
	FamilyDeBERTa:    PoolFirst,
}

// HeadSpec configures AddClassificationHead.
type HeadSpec struct {
	NumLabels int `json:"num_labels"`
	// Output names the output that holds the logits, or the hidden states
	// (or pooled vector) a head is added to. "" chooses: an output named
	// logits, else the single float [batch, classes] output that is not a
	// pooler, else the pooler output, else the [batch, seq, hidden] one.
	Output  string  `json:"output,omitempty"`
	Pooling Pooling `json:"pooling,omitempty"`
	// Family decides the pooling convention; "" detects it from the
	// export's names (a config.json's model_type is the better source).
	Family Family `json:"family,omitempty"`
	// Dropout is the training-mode Dropout ratio before the classifier
	// (HF: hidden_dropout_prob 0.1 for BERT, seq_classif_dropout 0.2 for
	// DistilBERT); 0 adds none.
	Dropout float32 `json:"dropout"`
	Seed    int64   `json:"seed"` // classifier weight init: normal(0, 0.02), zero bias, as HF
	// Mask is the attention-mask input mean pooling reads ("" = found by
	// FindInputRoles).
	Mask string `json:"mask,omitempty"`
}

// Head says what AddClassificationHead did, for the run's report.
type Head struct {
	Added   bool    // false: the export already outputs logits, nothing was added
	Logits  string  // the logits output, [batch, NumLabels]
	From    string  // the output the head reads
	Pooling Pooling // "" when From is already one vector per example
	Dropout float32
	// TrainingMode is the bool initializer Dropout's training_mode input
	// reads (true): set it false for an inference export that runtimes
	// keeping training-mode Dropout (ORT without optimizations) run
	// deterministically. "" without Dropout.
	TrainingMode string
	Hidden       int
	NumLabels    int
	Weight       string   // classifier weight [NumLabels, hidden] (Gemm transB=1, HF's Linear layout)
	Bias         string   // classifier bias [NumLabels]
	Dropped      []string // outputs the classifier replaced
	Opset        [2]int64 // default-domain opset before and after (raised to 12 for Dropout's training_mode input)
}

func (h *Head) String() string {
	if !h.Added {
		return fmt.Sprintf("head: none added (output %q holds the logits)", h.Logits)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "head: %s [batch, %d]", h.Logits, h.NumLabels)
	fmt.Fprintf(&b, " = Linear(%d→%d: %s, %s; normal(0, 0.02), zero bias)", h.Hidden, h.NumLabels, h.Weight, h.Bias)
	if h.Dropout > 0 {
		fmt.Fprintf(&b, " ∘ Dropout(%g)", h.Dropout)
	}
	switch h.Pooling {
	case PoolFirst:
		fmt.Fprintf(&b, " ∘ first token of %s", h.From)
	case PoolMean:
		fmt.Fprintf(&b, " ∘ mean over the mask of %s", h.From)
	default:
		fmt.Fprintf(&b, " ∘ %s", h.From)
	}
	if len(h.Dropped) > 0 {
		fmt.Fprintf(&b, "; outputs %s replaced", strings.Join(h.Dropped, ", "))
	}
	if h.Opset[0] != h.Opset[1] {
		fmt.Fprintf(&b, "; opset %d → %d", h.Opset[0], h.Opset[1])
	}
	return b.String()
}

// AddClassificationHead gives an encoder export without a classification
// output (outputs last_hidden_state, pooler_output) the head
// *ForSequenceClassification has: pool (the pooler output, else the
// family's pooling), Dropout, Linear to NumLabels, as the output logits
// [batch, NumLabels]. An export that already has logits is left as it is.
// It works on the graph as imported (symbolic shapes) so the result
// exports with dynamic axes.
func AddClassificationHead(g *ir.Graph, spec HeadSpec) (*Head, error) {
	if spec.NumLabels < 1 {
		return nil, fmt.Errorf("classification head: want num_labels ≥ 1, have %d", spec.NumLabels)
	}
	if spec.Dropout < 0 || spec.Dropout >= 1 {
		return nil, fmt.Errorf("classification head: dropout %g is not in [0, 1)", spec.Dropout)
	}
	if err := g.InferShapes(); err != nil {
		return nil, err
	}
	from, kind, err := headInput(g, spec)
	if err != nil {
		return nil, err
	}
	h := &Head{Logits: from.Name, From: from.Name, NumLabels: spec.NumLabels, Opset: [2]int64{g.Opsets[""], g.Opsets[""]}}
	if kind == outLogits {
		if d := from.Shape[1]; d.IsFixed() && int(d.Size) != spec.NumLabels {
			return nil, fmt.Errorf("output %q holds %d logits per example, the task has %d classes", from.Name, d.Size, spec.NumLabels)
		}
		return h, nil
	}
	hd := from.Shape[len(from.Shape)-1]
	if !hd.IsFixed() {
		return nil, fmt.Errorf("output %q is %s: its hidden size must be known", from.Name, ir.TypeString(from))
	}
	h.Added, h.Hidden, h.Dropout = true, int(hd.Size), spec.Dropout
	b := &gradBuilder{g: g, prefix: "classifier"}
	x := from
	if kind == outStates {
		h.Pooling = spec.Pooling
		if h.Pooling == PoolAuto || h.Pooling == PoolPooler {
			fam := spec.Family
			if fam == FamilyUnknown {
				fam = HFModuleNames(g).Family
			}
			if h.Pooling = familyPooling[fam]; h.Pooling == "" {
				h.Pooling = PoolMean
			}
		}
		if x, err = pool(g, b, from, h.Pooling, spec.Mask); err != nil {
			return nil, err
		}
	}
	if spec.Dropout > 0 {
		if g.Opsets[""] < 12 {
			// Dropout's training_mode input exists from opset 12; the ops
			// an 11 export uses mean the same at 12 (Softmax, Unsqueeze
			// and the reductions change only at 13).
			g.Opsets[""] = 12
			h.Opset[1] = 12
		}
		ratio := g.AddInit("classifier/dropout/ratio", ir.ScalarF32(spec.Dropout))
		training := g.AddInit("classifier/dropout/training_mode", &ir.Tensor{DType: ir.Bool, Bool: []bool{true}})
		x = b.node("Dropout", "", nil, 1, x, ratio, training).Outputs[0]
		h.TrainingMode = training.Name
	}
	r := rand.New(rand.NewSource(spec.Seed))
	w := ir.NewTensor(ir.Float32, spec.NumLabels, h.Hidden)
	for i := range w.F32 {
		w.F32[i] = float32(0.02 * r.NormFloat64())
	}
	wv := g.AddInit("classifier.weight", w)
	bv := g.AddInit("classifier.bias", ir.NewTensor(ir.Float32, spec.NumLabels))
	h.Weight, h.Bias = wv.Name, bv.Name
	logits := b.node("Gemm", "", ir.Attrs{"transB": ir.IntAttr(1)}, 1, x, wv, bv).Outputs[0]
	if b.err != nil {
		return nil, b.err
	}
	logits.Name = g.UniqueName("logits")
	h.Logits = logits.Name
	for _, o := range g.Outputs {
		h.Dropped = append(h.Dropped, o.Name)
	}
	g.Outputs = []*ir.Value{logits}
	g.RemoveDeadNodes()
	return h, g.InferShapes()
}

type outKind int

const (
	outLogits outKind = iota + 1
	outPooled         // one vector per example: the head is Dropout + Linear
	outStates         // [batch, seq, hidden]: pooled first
)

// headInput picks the output the head starts from (see HeadSpec.Output).
func headInput(g *ir.Graph, spec HeadSpec) (*ir.Value, outKind, error) {
	if spec.Output != "" {
		o := findOutput(g, spec.Output)
		if o == nil {
			return nil, 0, outputsError(g, fmt.Sprintf("the model has no output %q", spec.Output))
		}
		k := outputKind(o)
		if k == 0 {
			return nil, 0, outputsError(g, fmt.Sprintf("output %q is %s: want logits or pooled states [batch, n] or hidden states [batch, seq, hidden] (float)", o.Name, ir.TypeString(o)))
		}
		if k == outPooled && spec.Pooling != PoolAuto && spec.Pooling != PoolPooler {
			return nil, 0, fmt.Errorf("pooling %q wants hidden states [batch, seq, hidden]; output %q is %s", spec.Pooling, o.Name, ir.TypeString(o))
		}
		return o, k, nil
	}
	var logits, pooled, states []*ir.Value
	for _, o := range g.Outputs {
		switch outputKind(o) {
		case outLogits:
			logits = append(logits, o)
		case outPooled:
			pooled = append(pooled, o)
		case outStates:
			states = append(states, o)
		}
	}
	if o := findOutput(g, "logits"); o != nil && outputKind(o) != 0 {
		return o, outLogits, nil
	}
	pick := func(vs []*ir.Value, prefer string) *ir.Value {
		if len(vs) == 1 {
			return vs[0]
		}
		for _, v := range vs {
			if v.Name == prefer {
				return v
			}
		}
		return nil
	}
	switch {
	case len(logits) == 1:
		return logits[0], outLogits, nil
	case len(logits) > 1:
		return nil, 0, outputsError(g, "several outputs could hold the logits: name one")
	}
	usePooler := spec.Pooling == PoolAuto || spec.Pooling == PoolPooler
	if o := pick(pooled, "pooler_output"); o != nil && usePooler {
		return o, outPooled, nil
	}
	if spec.Pooling == PoolPooler {
		return nil, 0, outputsError(g, "pooling \"pooler\": the model has no single pooler output [batch, hidden]")
	}
	if o := pick(states, "last_hidden_state"); o != nil {
		return o, outStates, nil
	}
	return nil, 0, outputsError(g, "no output holds logits [batch, classes], a pooler output [batch, hidden] or hidden states [batch, seq, hidden]: name the one to use")
}

// outputKind classifies a float output by shape: [batch, seq, hidden]
// states, a pooler's [batch, hidden] (named so, or computed by BERT's
// tanh), or logits [batch, classes].
func outputKind(o *ir.Value) outKind {
	if !o.DType.IsFloat() || !o.HasShape {
		return 0
	}
	switch len(o.Shape) {
	case 3:
		return outStates
	case 2:
		if o.Name == "logits" {
			return outLogits
		}
		if strings.Contains(strings.ToLower(o.Name), "pool") || o.Producer != nil && o.Producer.Op == "Tanh" {
			return outPooled
		}
		return outLogits
	}
	return 0
}

func outputsError(g *ir.Graph, why string) error {
	var outs []string
	for _, o := range g.Outputs {
		outs = append(outs, o.Name+" "+ir.TypeString(o))
	}
	return fmt.Errorf("%s (outputs: %s)", why, strings.Join(outs, ", "))
}

// pool reduces states [batch, seq, hidden] to [batch, hidden].
func pool(g *ir.Graph, b *gradBuilder, states *ir.Value, how Pooling, maskName string) (*ir.Value, error) {
	switch how {
	case PoolFirst:
		first := g.AddInit("classifier/first_token", ir.FromInt64(nil, []int64{0}))
		return b.node("Gather", "", ir.Attrs{"axis": ir.IntAttr(1)}, 1, states, first).Outputs[0], b.err
	case PoolMean:
		if maskName == "" {
			roles, err := FindInputRoles(g, nil)
			if err != nil {
				return nil, fmt.Errorf("mean pooling needs the attention mask: %v", err)
			}
			if maskName = roles.Name(RoleAttentionMask); maskName == "" {
				return nil, fmt.Errorf("mean pooling needs the attention mask, and the model has none (inputs: %s)", roles)
			}
		}
		mask := graphInput(g, maskName)
		if mask == nil {
			return nil, fmt.Errorf("mean pooling: no input %q", maskName)
		}
		m := b.op("Unsqueeze", ir.Attrs{"axes": ir.IntsAttr(2)}, b.op("Cast", ir.Attrs{"to": ir.IntAttr(1)}, mask))
		sum := b.op("ReduceSum", ir.Attrs{"axes": ir.IntsAttr(1), "keepdims": ir.IntAttr(0)}, b.op("Mul", nil, states, m))
		count := b.op("ReduceSum", ir.Attrs{"axes": ir.IntsAttr(1), "keepdims": ir.IntAttr(0)}, m)
		// sentence-transformers clamps the count at 1e-9: an all-padding
		// row pools to 0 instead of NaN.
		count = b.op("Max", nil, count, g.AddInit("classifier/min_count", ir.ScalarF32(1e-9)))
		return b.op("Div", nil, sum, count), b.err
	}
	return nil, fmt.Errorf("unknown pooling %q (want pooler, first or mean)", how)
}
