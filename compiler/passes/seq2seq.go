package passes

import (
	"fmt"
	"slices"

	"crsc/compiler/ir"
)

// Seq2SeqSpec configures LinkSeq2Seq.
type Seq2SeqSpec struct {
	// DecoderStart is the id the shifted labels start with, and Pad the id
	// that replaces -100 in them (T5: both the pad id 0, HF's _shift_right).
	DecoderStart, Pad int64
}

// Seq2Seq is what LinkSeq2Seq joined, by value name in the linked graph,
// for the report and for SplitSeq2Seq.
type Seq2Seq struct {
	EncoderIDs, EncoderMask string // the linked graph's input_ids and attention_mask inputs
	EncoderOutput           string // last_hidden_state, read as the decoder's encoder_hidden_states
	DecoderIDs              string // labels shifted right: the decoder's input_ids
	Labels, Logits, Loss    string
	// Shared are decoder initializers replaced by the encoder's identical
	// one (same data: the shared embeddings, by name or by content).
	Shared []string
	// Tied are initializers that held the shared table transposed (the
	// exporter's folded copy of a tied LM head), now Transpose(table), so
	// training keeps them tied.
	Tied []string
	// Renamed maps decoder names that clashed with the encoder's to the
	// names they have in the linked graph.
	Renamed map[string]string
}

// LinkSeq2Seq joins Optimum's split seq2seq export into one training
// graph: encoder_model.onnx (input_ids, attention_mask → last_hidden_state)
// and decoder_model.onnx (input_ids, encoder_attention_mask,
// encoder_hidden_states → logits) become one graph with inputs input_ids,
// attention_mask and labels, whose decoder reads the encoder's output and
// mask, and whose decoder input ids are the labels shifted right; it
// outputs the LM cross-entropy over the labels (ignore -100) as loss, and
// logits. enc and dec are not modified.
func LinkSeq2Seq(enc, dec *ir.Graph, spec Seq2SeqSpec) (*ir.Graph, *Seq2Seq, error) {
	p, err := readSeq2Seq(enc, dec)
	if err != nil {
		return nil, nil, err
	}
	g := enc.Clone()
	d := dec.Clone()
	s := &Seq2Seq{Renamed: map[string]string{}}
	s.EncoderIDs, s.EncoderMask = p.encRoles.Name(RoleInputIDs), p.encRoles.Name(RoleAttentionMask)
	s.EncoderOutput = p.encOut.Name
	link := map[*ir.Value]*ir.Value{ // decoder value → linked graph value
		d.Value(p.decRoles.Name(RoleEncoderHiddenStates)):  g.Value(s.EncoderOutput),
		d.Value(p.decRoles.Name(RoleEncoderAttentionMask)): g.Value(s.EncoderMask),
	}
	decIDs := d.Value(p.decRoles.Name(RoleInputIDs))
	link[decIDs] = nil // set below to the shifted labels
	for _, in := range d.Inputs {
		if _, ok := link[in]; !ok {
			return nil, nil, rolesError(dec, p.decRoles, fmt.Sprintf("seq2seq: decoder input %q is none of input_ids, encoder_attention_mask, encoder_hidden_states", in.Name))
		}
	}
	g.Outputs = nil
	labels := g.AddInput("labels", ir.Int64, decIDs.Shape.Clone())
	ids, err := shiftRight(g, labels, spec)
	if err != nil {
		return nil, nil, err
	}
	link[decIDs] = ids
	s.DecoderIDs, s.Labels = ids.Name, labels.Name
	mergeDecoder(g, d, decIDs, link, s)
	logits := d.Outputs[slices.Index(dec.Outputs, p.decLogits)] // the clone's
	loss, err := addLMLoss(g, logits, labels)
	if err != nil {
		return nil, nil, err
	}
	g.Outputs = []*ir.Value{loss, logits}
	s.Logits, s.Loss = logits.Name, loss.Name
	g.Name = enc.Name + "+" + dec.Name
	if err := g.TopoSort(); err != nil {
		return nil, nil, err
	}
	g.RemoveDeadNodes()
	if err := g.Verify(); err != nil {
		return nil, nil, fmt.Errorf("internal error: linked seq2seq graph: %v", err)
	}
	return g, s, g.InferShapes()
}

// seq2seqParts are what LinkSeq2Seq needs of the two exports.
type seq2seqParts struct {
	encRoles, decRoles InputRoles
	encOut, decLogits  *ir.Value
}

// readSeq2Seq finds the encoder's and decoder's inputs by role, the
// encoder's output and the decoder's logits, or says which is missing.
func readSeq2Seq(enc, dec *ir.Graph) (*seq2seqParts, error) {
	if enc.Opsets[""] != dec.Opsets[""] {
		return nil, fmt.Errorf("seq2seq: the encoder is opset %d, the decoder %d", enc.Opsets[""], dec.Opsets[""])
	}
	p := &seq2seqParts{}
	var err error
	if p.encRoles, err = FindInputRoles(enc, nil); err != nil {
		return nil, fmt.Errorf("seq2seq encoder: %v", err)
	}
	if p.decRoles, err = FindInputRoles(dec, nil); err != nil {
		return nil, fmt.Errorf("seq2seq decoder: %v", err)
	}
	if p.encOut, err = encoderOutput(enc); err != nil {
		return nil, err
	}
	p.decLogits = findOutput(dec, "logits")
	if p.decLogits == nil && len(dec.Outputs) == 1 {
		p.decLogits = dec.Outputs[0]
	}
	if p.decLogits == nil || !p.decLogits.HasShape || len(p.decLogits.Shape) != 3 {
		return nil, outputsError(dec, "seq2seq decoder: no logits [batch, tgt, vocab] output")
	}
	for _, need := range []struct {
		roles InputRoles
		role  Role
		what  *ir.Graph
	}{{p.encRoles, RoleAttentionMask, enc}, {p.decRoles, RoleEncoderAttentionMask, dec}, {p.decRoles, RoleEncoderHiddenStates, dec}} {
		if _, ok := need.roles[need.role]; !ok {
			return nil, rolesError(need.what, need.roles, fmt.Sprintf("seq2seq: no %s input", need.role))
		}
	}
	return p, nil
}

// shiftRight is HF's _shift_right of the labels, the decoder's input ids:
// [start, labels[:, :-1]] with -100 replaced by the pad id.
func shiftRight(g *ir.Graph, labels *ir.Value, spec Seq2SeqSpec) (*ir.Value, error) {
	b := &gradBuilder{g: g, prefix: "shift_right"}
	i64 := func(name string, v ...int64) *ir.Value {
		return g.AddInit("shift_right/"+name, ir.FromInt64([]int{len(v)}, v))
	}
	scalar := func(name string, v int64) *ir.Value {
		return g.AddInit("shift_right/"+name, ir.FromInt64(nil, []int64{v}))
	}
	first := b.op("Slice", nil, labels, i64("zero", 0), i64("one", 1), i64("axis", 1))
	start := b.op("Add", nil, b.op("Mul", nil, first, scalar("times", 0)), scalar("start", spec.DecoderStart))
	rest := b.op("Slice", nil, labels, i64("begin", 0), i64("end", -1), i64("axes", 1))
	shifted := b.op("Concat", ir.Attrs{"axis": ir.IntAttr(1)}, start, rest)
	ignored := b.op("Equal", nil, shifted, scalar("ignore", -100))
	ids := b.op("Where", nil, ignored, scalar("pad", spec.Pad), shifted)
	return ids, b.err
}

// mergeDecoder moves the decoder's nodes and initializers into g, reading
// the linked values: the encoder's initializers where the data are the
// same (by name, or the embedding table by content), else its own
// (renamed on a clash); the exporter's transposed copies of the shared
// table are tied back to it.
func mergeDecoder(g, d *ir.Graph, decIDs *ir.Value, link map[*ir.Value]*ir.Value, s *Seq2Seq) {
	encTable := embeddingTable(g, g.Value(s.EncoderIDs))
	decTable := embeddingTable(d, decIDs)
	for _, v := range d.Inits {
		if ev := g.Value(v.Name); ev != nil && ev.Init != nil && sameData(ev.Init, v.Init) {
			link[v] = ev
			s.Shared = append(s.Shared, v.Name)
			continue
		}
		if v == decTable && encTable != nil && sameData(encTable.Init, v.Init) {
			link[v] = encTable
			s.Shared = append(s.Shared, v.Name)
			continue
		}
		rename(g, v, s.Renamed)
		g.Inits = append(g.Inits, v)
	}
	for _, n := range d.Nodes {
		if name := g.UniqueName(n.Name); name != n.Name {
			n.Name = name
		}
		for i, in := range n.Inputs {
			if to, ok := link[in]; ok {
				n.Inputs[i] = to
			}
		}
		for _, o := range n.Outputs {
			if o != nil {
				rename(g, o, s.Renamed)
			}
		}
		g.Nodes = append(g.Nodes, n)
	}
	if encTable != nil {
		s.Tied = tieTransposed(g, encTable)
	}
}

// addLMLoss is the LM cross-entropy over the labels (-100 ignored), as
// the graph's loss: SoftmaxCrossEntropyLoss wants the classes on axis 1.
func addLMLoss(g *ir.Graph, logits, labels *ir.Value) (*ir.Value, error) {
	lb := &gradBuilder{g: g, prefix: "loss"}
	scores := lb.op("Transpose", ir.Attrs{"perm": ir.IntsAttr(0, 2, 1)}, logits)
	loss := lb.node("SoftmaxCrossEntropyLoss", "", ir.Attrs{"reduction": ir.StringAttr("mean"), "ignore_index": ir.IntAttr(-100)}, 1, scores, labels).Outputs[0]
	if lb.err != nil {
		return nil, lb.err
	}
	loss.Name = g.UniqueName(LossName)
	return loss, nil
}

// encoderOutput is the encoder's last_hidden_state (or its only 3-D float
// output).
func encoderOutput(enc *ir.Graph) (*ir.Value, error) {
	if o := findOutput(enc, "last_hidden_state"); o != nil {
		return o, nil
	}
	var states []*ir.Value
	for _, o := range enc.Outputs {
		if o.DType.IsFloat() && o.HasShape && len(o.Shape) == 3 {
			states = append(states, o)
		}
	}
	if len(states) != 1 {
		return nil, outputsError(enc, "seq2seq encoder: want one last_hidden_state [batch, seq, hidden] output")
	}
	return states[0], nil
}

// TieEmbeddings ties the copies an exporter folded of a graph's word
// embedding table, transposed (a tied LM head: T5's lm_head shares
// shared.weight), back to the table: they become Transpose(table), so that
// training keeps them tied as the model has them. A copy whose data differ
// (an untied head) is left alone. It returns the tied initializers and the
// table's name.
func TieEmbeddings(g *ir.Graph) (tied []string, table string) {
	roles, err := FindInputRoles(g, nil)
	if err != nil {
		return nil, ""
	}
	ids, ok := roles[RoleInputIDs]
	if !ok {
		return nil, ""
	}
	t := embeddingTable(g, ids.Input)
	if t == nil {
		return nil, ""
	}
	return tieTransposed(g, t), t.Name
}

// embeddingTable is the 2-D float initializer a Gather indexes with ids.
func embeddingTable(g *ir.Graph, ids *ir.Value) *ir.Value {
	for _, n := range g.Nodes {
		if n.Op == "Gather" && n.In(1) == ids && n.In(0) != nil && n.In(0).Init != nil && len(n.In(0).Init.Shape) == 2 && n.In(0).DType.IsFloat() {
			return n.In(0)
		}
	}
	return nil
}

// tieTransposed replaces every initializer holding table transposed by a
// Transpose of table.
func tieTransposed(g *ir.Graph, table *ir.Value) []string {
	want := transpose2(table.Init)
	var tied []string
	var t *ir.Value
	g.Inits = slices.DeleteFunc(g.Inits, func(v *ir.Value) bool {
		if v == table || v.Init == nil || !sameData(v.Init, want) {
			return false
		}
		if t == nil {
			n := &ir.Node{Name: g.UniqueName(table.Name + "/Transpose"), Op: "Transpose", Inputs: []*ir.Value{table}, Attrs: ir.Attrs{"perm": ir.IntsAttr(1, 0)}}
			t = &ir.Value{Name: g.UniqueName(table.Name + "_transposed"), Producer: n}
			t.SetType(table.DType, ir.StaticShape(want.Shape...))
			n.Outputs = []*ir.Value{t}
			g.Nodes = append([]*ir.Node{n}, g.Nodes...)
		}
		replaceUses(g, v, t)
		tied = append(tied, v.Name)
		return true
	})
	return tied
}

func rename(g *ir.Graph, v *ir.Value, renamed map[string]string) {
	if name := g.UniqueName(v.Name); name != v.Name {
		renamed[v.Name] = name
		v.Name = name
	}
}

// sameData reports whether two host tensors hold the same dtype, shape and
// elements.
func sameData(a, b *ir.Tensor) bool {
	if a.DType != b.DType || !slices.Equal(a.Shape, b.Shape) || a.Abstract || b.Abstract {
		return false
	}
	return slices.Equal(a.F32, b.F32) && slices.Equal(a.F64, b.F64) && slices.Equal(a.I64, b.I64) && slices.Equal(a.I32, b.I32) && slices.Equal(a.Bool, b.Bool)
}

// SplitSeq2Seq is LinkSeq2Seq's reverse, for export: from the linked (and
// trained) graph it cuts Optimum's encoder_model (input_ids,
// attention_mask → last_hidden_state) and decoder_model (input_ids,
// encoder_attention_mask, encoder_hidden_states → logits). Both share g's
// weight tensors.
func SplitSeq2Seq(g *ir.Graph, s *Seq2Seq) (enc, dec *ir.Graph, err error) {
	enc = g.Clone()
	out := enc.Value(s.EncoderOutput)
	if out == nil {
		return nil, nil, fmt.Errorf("seq2seq split: the graph has no %q", s.EncoderOutput)
	}
	enc.Outputs = []*ir.Value{out}
	out.Name = "last_hidden_state"
	keepUsedInputs(enc)

	dec = g.Clone()
	logits := dec.Value(s.Logits)
	if logits == nil {
		return nil, nil, fmt.Errorf("seq2seq split: the graph has no %q", s.Logits)
	}
	cut := []struct {
		value, input string
	}{{s.DecoderIDs, "input_ids"}, {s.EncoderMask, "encoder_attention_mask"}, {s.EncoderOutput, "encoder_hidden_states"}}
	var inputs []*ir.Value
	for _, c := range cut {
		v := dec.Value(c.value)
		if v == nil {
			return nil, nil, fmt.Errorf("seq2seq split: the graph has no %q", c.value)
		}
		in := &ir.Value{Name: c.value + "/as_input"}
		in.SetType(v.DType, v.Shape.Clone())
		replaceUses(dec, v, in)
		inputs = append(inputs, in)
	}
	dec.Inputs = inputs
	dec.Outputs = []*ir.Value{logits}
	logits.Name = "logits"
	dec.RemoveDeadNodes()
	for i, c := range cut {
		inputs[i].Name = c.input
	}
	for _, part := range []*ir.Graph{enc, dec} {
		if err := part.Verify(); err != nil {
			return nil, nil, fmt.Errorf("internal error: seq2seq split: %v", err)
		}
	}
	return enc, dec, nil
}

// keepUsedInputs drops dead nodes and the inputs nothing reads any more.
func keepUsedInputs(g *ir.Graph) {
	g.RemoveDeadNodes()
	used := g.Consumers()
	g.Inputs = slices.DeleteFunc(g.Inputs, func(v *ir.Value) bool { return len(used[v]) == 0 })
}

// replaceUses makes every reader of old (nodes and graph outputs) read new.
func replaceUses(g *ir.Graph, old, new *ir.Value) {
	for _, n := range g.Nodes {
		for i, in := range n.Inputs {
			if in == old {
				n.Inputs[i] = new
			}
		}
	}
	for i, o := range g.Outputs {
		if o == old {
			g.Outputs[i] = new
		}
	}
}
