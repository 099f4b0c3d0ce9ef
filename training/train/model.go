package train

import (
	"fmt"
	"sort"
	"strings"

	"crsc/compiler/ir"
	"crsc/compiler/models"
	"crsc/compiler/passes"
	"crsc/runtime"
	"crsc/training/data"
	"crsc/training/hfconfig"
)

// Archs are the built-in architectures --arch accepts: BERT classifiers
// from random initialization (no pretrained weights are reachable here),
// as models defines them (crsc bench and plan know them by the same
// names); the vocabulary is the tokenizer's and the positions at least
// --max-len.
var Archs = map[string]models.BertConfig{
	"bert-small": models.BertSmall,
	"bert-tiny":  models.BertTiny,
}

// T5Archs are the built-in text-to-text architectures --arch accepts,
// from random initialization, with t5-small's vocabulary size (32128 rows:
// the tokenizer's 32100 pieces padded, as the checkpoint has them).
var T5Archs = map[string]models.T5Config{
	// Small enough to train SST-2 in minutes on two cores; T5 v1.0 layout.
	"t5-tiny":  {Vocab: 32128, DModel: 64, DKV: 16, DFF: 256, Layers: 2, DecoderLayers: 2, Heads: 4, Buckets: 32, MaxDistance: 128, FFN: "relu"},
	"t5-small": models.T5Small,
	"t5-base":  models.T5Base,
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
	// inputs are the model inputs by role (whatever the export calls
	// them), each fed from a batch in the input's own element type.
	inputs map[passes.Role]*ir.Value
	logits string // the output holding the logits
	vocab  int    // rows of the word embedding (0: not found)
	// classes is the logits' last dimension (T5: the task's classes).
	classes int
	// t5: a text-to-text model (inputs labels and, unless linked,
	// decoder_input_ids; a scalar loss output, logits [batch, tgtLen,
	// vocab]).
	t5     bool
	tgtLen int
	// What importing found or did (hfimport.go): config.json, the head
	// added, Optimum's two files linked.
	hf      *hfconfig.Config
	head    *passes.Head
	seq2seq *passes.Seq2Seq
	notes   []string
	files   []string // the model's files (encoder, decoder), "" for --arch
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

// fedRoles are the inputs crsc feeds from a batch, per kind of model.
var (
	classifierRoles = []passes.Role{passes.RoleInputIDs, passes.RoleAttentionMask, passes.RoleTokenTypeIDs, passes.RolePositionIDs}
	t5Roles         = []passes.Role{passes.RoleInputIDs, passes.RoleAttentionMask, passes.RoleDecoderInputIDs, passes.RoleLabels}
)

// loadModel imports (or builds) the model and binds every [batch, seq]
// input to batch×maxLen (a T5's decoder inputs to batch×TgtLen).
func loadModel(c *Config, task *data.Task) (*model, error) {
	im, err := importModel(c, task)
	if err != nil {
		return nil, err
	}
	name, raw := im.name, im.raw
	if table, rows := models.PositionTable(raw); rows > 0 && c.MaxLen > rows {
		return nil, fmt.Errorf("--max-len %d exceeds the %d positions of %s (%s): use --max-len %d or less", c.MaxLen, rows, table, name, rows)
	}
	if im.hf != nil && im.hf.MaxPositions > 0 && c.MaxLen > im.hf.MaxPositions {
		return nil, fmt.Errorf("--max-len %d exceeds max_position_embeddings %d of %s's config.json: use --max-len %d or less", c.MaxLen, im.hf.MaxPositions, name, im.hf.MaxPositions)
	}
	m := &model{raw: raw, t5: im.seq2seq != nil || isT5(raw), tgtLen: c.TgtLen, logits: im.logits,
		hf: im.hf, head: im.head, seq2seq: im.seq2seq, notes: im.notes, files: im.files}
	if m.t5 && (c.TgtLen < 1 || c.Unigram == nil) {
		// The target length comes from the label words' pieces.
		return nil, fmt.Errorf("%s is a text-to-text (T5) model: give its tokenizer.json with --tokenizer", name)
	}
	if err := m.findInputs(name, c.Export.Inputs); err != nil {
		return nil, err
	}
	if m.forward, err = m.load(m.inputShapes(c.Batch, c.MaxLen)); err != nil {
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	logits := m.forward.Value(m.logits)
	if logits == nil {
		return nil, fmt.Errorf("%s: no output %q after loading", name, m.logits)
	}
	m.vocab = embeddingRows(m.forward, m.inputs[passes.RoleInputIDs].Name)
	dims, ok := logits.Shape.Ints()
	if m.t5 {
		if task.Regression || len(task.Words) != task.NumClasses() {
			return nil, fmt.Errorf("%s is a text-to-text model; task %s has no label words to train it on (regression is not supported)", name, task.Name)
		}
		if !ok || len(dims) != 3 || dims[0] != c.Batch || dims[1] != c.TgtLen {
			return nil, fmt.Errorf("%s: output %q is %s, want logits [batch, tgt_len, vocab]", name, logits.Name, ir.TypeString(logits))
		}
		if m.vocab == 0 {
			m.vocab = dims[2]
		}
		m.classes = task.NumClasses()
		return m, nil
	}
	if !ok || len(dims) != 2 || dims[0] != c.Batch {
		return nil, fmt.Errorf("%s: output %q is %s, want logits [batch, classes]%s", name, logits.Name, ir.TypeString(logits), outputsHint(raw))
	}
	m.classes = dims[1]
	if classes := task.NumClasses(); m.classes != classes {
		return nil, fmt.Errorf("%s: the model outputs %d logits per example, the task has %d classes", name, m.classes, classes)
	}
	return m, nil
}

// importModel reads the export (importONNX), or builds --arch from random
// initialization.
func importModel(c *Config, task *data.Task) (*imported, error) {
	if c.Model != "" {
		return importONNX(c, task)
	}
	im := &imported{logits: "logits", name: "--arch " + c.Arch}
	if arch, ok := T5Archs[c.Arch]; ok {
		g, err := models.BuildT5(arch, models.BuildOptions{Seed: c.Seed})
		if err != nil {
			return nil, err
		}
		t5Init(g, arch, c.Seed)
		im.raw = g
		return im, nil
	}
	arch, ok := Archs[c.Arch]
	if !ok {
		return nil, fmt.Errorf("--arch %q: want one of %s", c.Arch, archNames())
	}
	arch.Labels = task.NumClasses()
	if c.Tokenizer != nil {
		arch.Vocab = c.Tokenizer.VocabSize()
	}
	arch.MaxPositions = max(arch.MaxPositions, c.MaxLen)
	g, err := models.BuildBertWith(arch, models.BuildOptions{Seed: c.Seed})
	if err != nil {
		return nil, err
	}
	im.raw = g
	return im, nil
}

// findInputs gives every model input its role, by name and by how the
// graph uses it (passes.FindInputRoles), with --input overrides.
func (m *model) findInputs(name string, overrides map[string]string) error {
	over := roleOverrides(overrides)
	if s := m.seq2seq; s != nil {
		// The linking knows its inputs: the labels also index the
		// embeddings (shifted right), which usage would read as ids.
		over = map[passes.Role]string{passes.RoleInputIDs: s.EncoderIDs, passes.RoleAttentionMask: s.EncoderMask, passes.RoleLabels: s.Labels}
	}
	roles, err := passes.FindInputRoles(m.raw, over)
	if err != nil {
		return fmt.Errorf("%s: %v", name, err)
	}
	fed := map[passes.Role]bool{}
	kinds := classifierRoles
	if m.t5 {
		kinds = t5Roles
	}
	for _, r := range kinds {
		fed[r] = true
	}
	if err := unfedInputs(name, m.raw, roles, fed); err != nil {
		return err
	}
	m.inputs = map[passes.Role]*ir.Value{}
	for r, ri := range roles {
		m.inputs[r] = ri.Input
	}
	if m.inputs[passes.RoleInputIDs] == nil {
		return fmt.Errorf("%s: no input carries token ids (roles found: %s; name it with --input input_ids=NAME)", name, roles)
	}
	if m.t5 && m.seq2seq == nil && m.inputs[passes.RoleDecoderInputIDs] == nil || m.t5 && m.inputs[passes.RoleLabels] == nil {
		return fmt.Errorf("%s: a text-to-text model needs labels and decoder_input_ids inputs (roles found: %s)", name, roles)
	}
	return nil
}

// inputShapes binds every [batch, seq] input to batch×seqLen (a T5's
// decoder inputs to batch×tgtLen; position ids of one row to 1×seqLen).
func (m *model) inputShapes(batch, seqLen int) map[string]ir.Shape {
	shapes := map[string]ir.Shape{}
	for r, in := range m.inputs {
		switch {
		case r == passes.RoleDecoderInputIDs || r == passes.RoleLabels:
			shapes[in.Name] = ir.StaticShape(batch, m.tgtLen)
		case r == passes.RolePositionIDs && len(in.Shape) == 1:
			shapes[in.Name] = ir.StaticShape(seqLen)
		case r == passes.RolePositionIDs && len(in.Shape) == 2 && in.Shape[0].IsFixed() && in.Shape[0].Size == 1:
			shapes[in.Name] = ir.StaticShape(1, seqLen)
		default:
			shapes[in.Name] = ir.StaticShape(batch, seqLen)
		}
	}
	return shapes
}

// load runs the load pipeline on a copy of the raw graph with the given
// input shapes. The copy shares the raw graph's weight tensors.
func (m *model) load(shapes map[string]ir.Shape) (*ir.Graph, error) {
	g := m.raw.Clone()
	if !m.t5 {
		// Training reads the logits only: the export's other outputs
		// (last_hidden_state beside an added head) are not kept alive.
		if v := g.Value(m.logits); v != nil {
			g.Outputs = []*ir.Value{v}
		}
	}
	cfg := &passes.Config{Shapes: shapes, Supports: runtime.CPU(runtime.Options{}).Supports}
	if err := passes.Run(g, passes.Load, cfg); err != nil {
		return nil, err
	}
	return g, nil
}

// embeddingRows finds the word-embedding table: the initializer a Gather
// indexes with the token ids.
func embeddingRows(g *ir.Graph, ids string) int {
	for _, n := range g.Nodes {
		if n.Op == "Gather" && n.In(1) != nil && n.In(1).Name == ids && n.In(0) != nil && n.In(0).Init != nil && len(n.In(0).Init.Shape) == 2 {
			return n.In(0).Init.Shape[0]
		}
	}
	return 0
}

// feeds builds the model inputs of one batch, each in its input's element
// type (int32 ids, float masks).
func (m *model) feeds(b *batch) map[string]*ir.Tensor {
	f := map[string]*ir.Tensor{}
	for r, in := range m.inputs {
		var t *ir.Tensor
		switch r {
		case passes.RoleInputIDs:
			t = b.ids
		case passes.RoleAttentionMask:
			t = b.mask
		case passes.RoleTokenTypeIDs:
			t = b.types
		case passes.RolePositionIDs:
			t = positions(in, b.ids.Shape)
		case passes.RoleDecoderInputIDs:
			t = b.decIDs
		case passes.RoleLabels:
			t = b.labels
		default:
			continue
		}
		f[in.Name] = asDType(t, in.DType)
	}
	return f
}

// positions is 0, 1, … along the sequence, in the position-ids input's
// shape ([seq], [1, seq] or [batch, seq]).
func positions(in *ir.Value, idsShape []int) *ir.Tensor {
	rows, L := idsShape[0], idsShape[1]
	switch {
	case len(in.Shape) == 1:
		rows = 0
	case in.Shape[0].IsFixed() && in.Shape[0].Size == 1:
		rows = 1
	}
	t := ir.NewTensor(ir.Int64, max(rows, 1), L)
	if rows == 0 {
		t = ir.NewTensor(ir.Int64, L)
	}
	for i := range t.I64 {
		t.I64[i] = int64(i % L)
	}
	return t
}

// asDType is t (int64) converted to an input's element type.
func asDType(t *ir.Tensor, dt ir.DType) *ir.Tensor {
	if t.DType == dt || t.DType != ir.Int64 {
		return t
	}
	out := ir.NewTensor(dt, t.Shape...)
	for i, v := range t.I64 {
		switch dt {
		case ir.Int32:
			out.I32[i] = int32(v)
		case ir.Float32:
			out.F32[i] = float32(v)
		case ir.Float64:
			out.F64[i] = float64(v)
		case ir.Bool:
			out.Bool[i] = v != 0
		default:
			return t
		}
	}
	return out
}
