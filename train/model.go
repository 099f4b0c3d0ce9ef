package train

import (
	"fmt"
	"sort"
	"strings"

	"crsc/data"
	"crsc/ir"
	"crsc/models"
	"crsc/onnx"
	"crsc/passes"
	"crsc/runtime"
)

// Archs are the built-in architectures --arch accepts: BERT classifiers
// from random initialization (no pretrained weights are reachable here).
var Archs = map[string]models.BertConfig{
	// 4 layers, hidden 256: "a small BERT-style model" for SST-2 studies.
	"bert-small": {Vocab: 30522, MaxPositions: 512, TypeVocab: 2, Hidden: 256, Layers: 4, Heads: 4, FFN: 1024, Labels: 2},
	"bert-mini":  {Vocab: 30522, MaxPositions: 512, TypeVocab: 2, Hidden: 256, Layers: 4, Heads: 4, FFN: 1024, Labels: 2},
	"bert-tiny":  {Vocab: 30522, MaxPositions: 512, TypeVocab: 2, Hidden: 128, Layers: 2, Heads: 2, FFN: 512, Labels: 2},
}

// T5Archs are the built-in text-to-text architectures --arch accepts,
// from random initialization, with t5-small's vocabulary size (32128 rows:
// the tokenizer's 32100 pieces padded, as the checkpoint has them).
var T5Archs = map[string]models.T5Config{
	// Small enough to train SST-2 in minutes on two cores; T5 v1.0 layout.
	"t5-tiny":  {Vocab: 32128, DModel: 64, DKV: 16, DFF: 256, Layers: 2, DecoderLayers: 2, Heads: 4, Buckets: 32, MaxDistance: 128, FFN: "relu"},
	"t5-small": models.T5Small,
}

// archNames lists every --arch value, for messages.
func archNames() string {
	var names []string
	for n := range Archs {
		names = append(names, n)
	}
	for n := range T5Archs {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// model is a loaded forward graph, bound to static shapes.
type model struct {
	raw     *ir.Graph // as imported or built (dynamic shapes): the export base
	forward *ir.Graph // after the load pipeline, shapes bound to batch×maxLen
	inputs  map[string]bool
	vocab   int // rows of the word embedding (0: not found)
	classes int // logits' last dimension (T5: the task's classes)
	// t5: a text-to-text model (inputs decoder_input_ids and labels, a
	// scalar loss output, logits [batch, tgtLen, vocab]).
	t5     bool
	tgtLen int
}

// isT5 says whether g is a text-to-text model that computes its own loss:
// it takes decoder_input_ids and labels and outputs a "loss".
func isT5(g *ir.Graph) bool {
	has := map[string]bool{}
	for _, in := range g.Inputs {
		has[in.Name] = true
	}
	loss := false
	for _, out := range g.Outputs {
		loss = loss || out.Name == passes.LossName
	}
	return has["decoder_input_ids"] && has["labels"] && loss
}

// loadModel imports (or builds) the model and binds every [batch, seq]
// input to batch×maxLen (a T5's decoder inputs to batch×TgtLen).
func loadModel(c *Config, task *data.Task) (*model, error) {
	classes := task.NumClasses()
	var raw *ir.Graph
	name := c.Model
	if c.Model != "" {
		g, err := onnx.Load(c.Model)
		if err != nil {
			return nil, err
		}
		raw = g
	} else if arch, ok := T5Archs[c.Arch]; ok {
		g, err := models.BuildT5(arch, models.BuildOptions{Seed: c.Seed})
		if err != nil {
			return nil, err
		}
		t5Init(g, arch, c.Seed)
		raw, name = g, "--arch "+c.Arch
	} else {
		arch, ok := Archs[c.Arch]
		if !ok {
			return nil, fmt.Errorf("--arch %q: want one of %s", c.Arch, archNames())
		}
		arch.Labels = classes
		if c.Tokenizer != nil {
			arch.Vocab = c.Tokenizer.VocabSize()
		}
		if arch.MaxPositions < c.MaxLen {
			arch.MaxPositions = c.MaxLen
		}
		g, err := models.BuildBertWith(arch, models.BuildOptions{Seed: c.Seed})
		if err != nil {
			return nil, err
		}
		raw, name = g, "--arch "+c.Arch
	}
	if name, rows := models.PositionTable(raw); rows > 0 && c.MaxLen > rows {
		return nil, fmt.Errorf("--max-len %d exceeds the %d positions of %s (%s): use --max-len %d or less", c.MaxLen, rows, name, c.Model, rows)
	}
	m := &model{raw: raw, inputs: map[string]bool{}, t5: isT5(raw), tgtLen: c.TgtLen}
	if m.t5 && (c.TgtLen < 1 || c.Unigram == nil) {
		// The target length comes from the label words' pieces.
		return nil, fmt.Errorf("%s is a text-to-text (T5) model: give its tokenizer.json with --tokenizer", name)
	}
	shapes, err := m.inputShapes(name, c.Batch, c.MaxLen)
	if err != nil {
		return nil, err
	}
	if !m.inputs["input_ids"] {
		return nil, fmt.Errorf("%s: no input_ids input", name)
	}
	if m.forward, err = m.load(shapes); err != nil {
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	logits := m.forward.Value("logits")
	if logits == nil && len(m.forward.Outputs) > 0 {
		logits = m.forward.Outputs[0]
	}
	m.vocab = embeddingRows(m.forward)
	dims, ok := logits.Shape.Ints()
	if m.t5 {
		if task.Regression || len(task.Words) != classes {
			return nil, fmt.Errorf("%s is a text-to-text model; task %s has no label words to train it on (regression is not supported)", name, task.Name)
		}
		if !ok || len(dims) != 3 || dims[0] != c.Batch || dims[1] != c.TgtLen {
			return nil, fmt.Errorf("%s: output %q is %s, want logits [batch, tgt_len, vocab]", name, logits.Name, ir.TypeString(logits))
		}
		if m.vocab == 0 {
			m.vocab = dims[2]
		}
		m.classes = classes
		return m, nil
	}
	if !ok || len(dims) != 2 || dims[0] != c.Batch {
		return nil, fmt.Errorf("%s: output %q is %s, want logits [batch, classes]", name, logits.Name, ir.TypeString(logits))
	}
	m.classes = dims[1]
	if m.classes != classes {
		return nil, fmt.Errorf("%s: the model outputs %d logits per example, the task has %d classes", name, m.classes, classes)
	}
	return m, nil
}

// inputShapes binds every [batch, seq] input to batch×seqLen (a T5's
// decoder inputs to batch×tgtLen) and records which inputs the model has.
func (m *model) inputShapes(name string, batch, seqLen int) (map[string]ir.Shape, error) {
	shapes := map[string]ir.Shape{}
	for _, in := range m.raw.Inputs {
		switch {
		case in.Name == "input_ids" || in.Name == "attention_mask" || (in.Name == "token_type_ids" && !m.t5):
			shapes[in.Name] = ir.StaticShape(batch, seqLen)
		case m.t5 && (in.Name == "decoder_input_ids" || in.Name == "labels"):
			shapes[in.Name] = ir.StaticShape(batch, m.tgtLen)
		default:
			return nil, fmt.Errorf("%s: input %q is not one a BERT-family classifier (input_ids, attention_mask, token_type_ids) or a T5 (input_ids, attention_mask, decoder_input_ids, labels) takes", name, in.Name)
		}
		m.inputs[in.Name] = true
	}
	return shapes, nil
}

// load runs the load pipeline on a copy of the raw graph with the given
// input shapes. The copy shares the raw graph's weight tensors.
func (m *model) load(shapes map[string]ir.Shape) (*ir.Graph, error) {
	g := m.raw.Clone()
	cfg := &passes.Config{Shapes: shapes, Supports: runtime.CPU(runtime.Options{}).Supports}
	if err := passes.Run(g, passes.Load, cfg); err != nil {
		return nil, err
	}
	return g, nil
}

// embeddingRows finds the word-embedding table: the initializer a Gather
// indexes with input_ids.
func embeddingRows(g *ir.Graph) int {
	for _, n := range g.Nodes {
		if n.Op == "Gather" && n.In(1) != nil && n.In(1).Name == "input_ids" && n.In(0) != nil && n.In(0).Init != nil && len(n.In(0).Init.Shape) == 2 {
			return n.In(0).Init.Shape[0]
		}
	}
	return 0
}

// feeds builds the model inputs of one batch.
func (m *model) feeds(b *batch) map[string]*ir.Tensor {
	f := map[string]*ir.Tensor{"input_ids": b.ids}
	if m.inputs["attention_mask"] {
		f["attention_mask"] = b.mask
	}
	if m.inputs["token_type_ids"] {
		f["token_type_ids"] = b.types
	}
	if m.t5 {
		f["decoder_input_ids"], f["labels"] = b.decIDs, b.labels
	}
	return f
}

// exportGraph is the forward graph with params' values written in and
// LoRA adapters (name.lora_A, name.lora_B) merged into their base weight:
// W + A·B·alpha/r. It prefers the model as imported (dynamic shapes) and
// falls back to the loaded one when a parameter's name did not survive
// loading.
func (m *model) exportGraph(params map[string]*ir.Tensor, loraScale float64) (*ir.Graph, error) {
	values := map[string]*ir.Tensor{}
	for name, t := range params {
		if base, ok := strings.CutSuffix(name, ".lora_A"); ok {
			b := params[base+".lora_B"]
			w := m.forward.Value(base)
			if b == nil || w == nil || w.Init == nil {
				return nil, fmt.Errorf("export: adapter %q has no lora_B or base weight", name)
			}
			values[base] = mergeLoRA(w.Init, t, b, loraScale)
			continue
		}
		if strings.HasSuffix(name, ".lora_B") {
			continue
		}
		values[name] = t
	}
	for _, base := range []*ir.Graph{m.raw, m.forward} {
		g := base.Clone()
		ok := true
		for name, t := range values {
			v := g.Value(name)
			if v == nil || v.Init == nil || fmt.Sprint(v.Init.Shape) != fmt.Sprint(t.Shape) {
				ok = false
				break
			}
			v.Init = t // written out as it is: no copy of the whole model
		}
		if ok {
			return g, nil
		}
	}
	return nil, fmt.Errorf("export: the trained parameters do not match the model's initializers")
}

// mergeLoRA returns W + A·B·scale for W [in, out], A [in, r], B [r, out].
func mergeLoRA(w, a, b *ir.Tensor, scale float64) *ir.Tensor {
	in, out, r := w.Shape[0], w.Shape[1], a.Shape[1]
	m := w.Clone()
	for i := 0; i < in; i++ {
		for j := 0; j < out; j++ {
			var s float64
			for k := 0; k < r; k++ {
				s += float64(a.F32[i*r+k]) * float64(b.F32[k*out+j])
			}
			m.F32[i*out+j] += float32(s * scale)
		}
	}
	return m
}
