package passes

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"crsc/compiler/ir"
)

// Estimators of WTACRS.md §4: the SampleRows op's, one list.
var Estimators = ir.SampleEstimators

// SamplingSpec is the user's WTA-CRS configuration.
type SamplingSpec struct {
	Estimator string  `json:"estimator"` // exact, crs, topk (biased baseline) or wta
	Keep      float64 `json:"keep"`      // fraction of rows kept for each sampled weight gradient
	MinRows   int     `json:"min_rows"`  // k is at least this (default 10)
	GNorm     string  `json:"gnorm"`     // none, ema or cache: where ĝ ≈ ‖G_i‖ comes from
	Layers    string  `json:"layers"`    // auto, all, or a regexp over forward node and weight names
	Attention bool    `json:"attention"` // also sample the products of two activations (QKᵀ, P·V)
}

// sampleRowsAttrs are the SampleRows attributes of the spec (keep as the
// float32 the kernels read).
func (s SamplingSpec) sampleRowsAttrs() ir.Attrs {
	return ir.SampleRowsAttrs{Keep: float32(s.Keep), MinRows: int64(s.MinRows), Estimator: s.Estimator}.Attrs()
}

// Enabled reports whether the spec changes anything.
func (s SamplingSpec) Enabled() bool {
	return s.Estimator != "" && s.Estimator != "exact"
}

func (s SamplingSpec) validate() error {
	known := false
	for _, e := range Estimators {
		known = known || s.Estimator == e
	}
	switch {
	case !known:
		return fmt.Errorf("--estimator %q: want %s", s.Estimator, strings.Join(Estimators, ", "))
	case !(s.Keep > 0 && s.Keep <= 1):
		return fmt.Errorf("--keep %g: want a ratio in (0, 1]", s.Keep)
	case s.GNorm != "" && s.GNorm != "none" && s.GNorm != "ema" && s.GNorm != "cache":
		return fmt.Errorf("--gnorm %q: want none, ema or cache", s.GNorm)
	}
	return nil
}

// LayerDecision says what the pass did with one linear layer, and why.
type LayerDecision struct {
	Node, Weight string
	Sampled      bool
	Why          string
	Rows, Kept   int   // N and k (0 when N is symbolic)
	RowBytes     int64 // bytes of one row of the activation
	// GNormInput and GNormOutput name the graph input that carries ĝ for
	// the layer and the output that returns the rows' ‖G_i‖ (ema/cache).
	GNormInput, GNormOutput string
	// PaddingMask names the graph input (attention_mask) whose zeros mark
	// the layer's padding rows, excluded from sampling; "" when none applies.
	PaddingMask string
}

// GNormInputPrefix and GNormOutputPrefix name the per-layer ĝ input and
// the ‖G‖ feedback output of a sampled layer.
const (
	GNormInputPrefix  = "gnorm/"
	GNormOutputPrefix = "gnorm_out/"
)

// SampleLinearGrads rewrites the weight gradient dW = Xᵀ·G of each chosen
// linear layer into its WTA-CRS estimate: the forward pass keeps only k
// sampled (and rescaled) rows of X with their indices, and backward gathers
// the same rows of G: dW ≈ Xsᵀ·G[idx]. dX and db stay exact. Where the
// layer's activation is no longer read by anything else in backward, it now
// dies in the forward pass.
func SampleLinearGrads(g *ir.Graph, spec SamplingSpec, linear []LinearGrad) ([]LayerDecision, error) {
	if spec.MinRows == 0 {
		spec.MinRows = 10
	}
	if spec.Layers == "" {
		spec.Layers = "auto"
	}
	if err := spec.validate(); err != nil {
		return nil, err
	}
	l := &layerChooser{spec: spec, readers: g.Consumers(), backward: backwardNodes(g)}
	if spec.Layers != "auto" && spec.Layers != "all" {
		var err error
		if l.pick, err = regexp.Compile(spec.Layers); err != nil {
			return nil, fmt.Errorf("--layers %q: %v", spec.Layers, err)
		}
	}
	dws, err := l.findLinearGrads(g, linear)
	if err != nil {
		return nil, err
	}
	// Layers that read one activation share one sample of its rows when ĝ
	// is the same for all of them (none): every layer's estimate is still
	// unbiased, and the activation is kept at k/N once instead of once per
	// layer (T5's 24 cross-attention k/v projections read one encoder output).
	shared := map[*ir.Value]*ir.Node{}
	isLinear := map[*ir.Node]bool{}
	for _, dw := range dws {
		isLinear[l.forward[dw]] = true
	}
	l.heads = modelHeads(g, isLinear)
	masks := newPaddingMasks(g)
	var decisions []LayerDecision
	for _, dw := range dws {
		fwd := l.forward[dw]
		d := l.decide(fwd)
		if d.Sampled {
			if err := rewriteLayer(g, spec, fwd, dw, &d, shared, masks.of(fwd.In(0))); err != nil {
				return nil, err
			}
		}
		decisions = append(decisions, d)
	}
	sortForward(g, decisions)
	g.RemoveDeadNodes()
	if err := g.InferShapes(); err != nil {
		return nil, err
	}
	return decisions, g.Verify()
}

// layerChooser decides, layer by layer, which weight gradients to sample.
type layerChooser struct {
	spec     SamplingSpec
	pick     *regexp.Regexp // --layers as a regexp (nil: auto or all)
	readers  map[*ir.Value][]*ir.Node
	backward map[*ir.Node]bool
	// forward maps each weight-gradient Gemm to its forward linear node;
	// ownReaders are, per activation, its weight-gradient nodes (and what
	// feeds them): it leaves backward's keep set only if all its readers
	// there are these.
	forward    map[*ir.Node]*ir.Node
	ownReaders map[*ir.Value]map[*ir.Node]bool
	heads      map[*ir.Node]bool
}

// findLinearGrads lists the weight-gradient nodes autodiff recorded, in
// graph order, with their forward nodes and activations' readers.
func (l *layerChooser) findLinearGrads(g *ir.Graph, linear []LinearGrad) ([]*ir.Node, error) {
	pos := nodePositions(g)
	l.forward, l.ownReaders = map[*ir.Node]*ir.Node{}, map[*ir.Value]map[*ir.Node]bool{}
	var dws []*ir.Node
	for _, lg := range linear {
		dw, fwd := lg.WeightGrad, lg.Forward
		if _, ok := pos[dw]; !ok {
			return nil, fmt.Errorf("internal error: the weight gradient of %q is no longer in the graph", fwd.Name)
		}
		if _, ok := pos[fwd]; !ok {
			return nil, fmt.Errorf("internal error: linear layer %q is no longer in the graph", fwd.Name)
		}
		dws = append(dws, dw)
		l.forward[dw] = fwd
		x := fwd.In(0)
		if l.ownReaders[x] == nil {
			l.ownReaders[x] = map[*ir.Node]bool{}
		}
		l.ownReaders[x][dw] = true
		if r := dw.In(0).Producer; r != nil {
			l.ownReaders[x][r] = true
		}
	}
	sort.SliceStable(dws, func(i, j int) bool { return pos[dws[i]] < pos[dws[j]] })
	return dws, nil
}

// decide is one layer's decision and its sizes (k from the kernels' own
// budget function, so the report cannot disagree with them).
func (l *layerChooser) decide(fwd *ir.Node) LayerDecision {
	spec := l.spec
	x, w := fwd.In(0), weightName(fwd.In(1))
	d := LayerDecision{Node: fwd.Name, Weight: w}
	d.Sampled, d.Why = chooseLayer(spec, l.pick, fwd, x, w, l.ownReaders[x], l.readers, l.backward)
	if d.Sampled && spec.Layers == "auto" && l.heads[fwd] {
		d.Sampled, d.Why = false, "a model head (LM head or classifier): kept exact (WTACRS.md §5); name it in --layers to sample it"
	}
	if sites := len(l.ownReaders[x]) / 2; d.Sampled && spec.Layers == "auto" && !shareSamples(spec) && float64(sites)*spec.Keep >= 1 {
		d.Sampled, d.Why = false, fmt.Sprintf("%d layers read it: %d separate samples would keep more than the activation", sites, sites)
	}
	width := x.Shape[len(x.Shape)-1]
	if rows, ok := x.Shape.NumElements().Div(width); ok && rows.IsFixed() {
		d.Rows = int(rows.Size)
		d.Kept = int(ir.SampleBudget(float32(spec.Keep), int64(spec.MinRows), spec.Estimator, rows.Size))
	}
	d.RowBytes = width.Size * int64(x.DType.Size())
	return d
}

// sortForward orders decisions as their layers run forward (the
// gradients were found in backward order).
func sortForward(g *ir.Graph, decisions []LayerDecision) {
	pos := map[string]int{}
	for i, n := range g.Nodes {
		pos[n.Name] = i
	}
	sort.SliceStable(decisions, func(i, j int) bool { return pos[decisions[i].Node] < pos[decisions[j].Node] })
}

// weightName sees through a Transpose to the parameter.
func weightName(w *ir.Value) string {
	if w.Producer != nil && w.Producer.Op == "Transpose" {
		return w.Producer.In(0).Name
	}
	return w.Name
}

// backwardNodes is the set of nodes the autodiff appended (named grad/…).
func backwardNodes(g *ir.Graph) map[*ir.Node]bool {
	set := map[*ir.Node]bool{}
	for _, n := range g.Nodes {
		if n.IsBackward() {
			set[n] = true
		}
	}
	return set
}

// chooseLayer applies --layers. auto samples a layer only where that takes
// its full activation out of what backward keeps: when nothing else in
// backward reads X (a norm's output that the norm's own backward needs, say,
// stays in memory whatever we do, so sampling it saves nothing).
func chooseLayer(spec SamplingSpec, pick *regexp.Regexp, fwd *ir.Node, x *ir.Value, w string, own map[*ir.Node]bool,
	readers map[*ir.Value][]*ir.Node, backward map[*ir.Node]bool) (bool, string) {
	switch {
	case !x.HasShape || len(x.Shape) < 2 || !x.Shape[len(x.Shape)-1].IsFixed():
		return false, "activation width unknown"
	case spec.Layers == "all":
		return true, "--layers all"
	case pick != nil:
		if pick.MatchString(fwd.Name) || pick.MatchString(w) {
			return true, "matches --layers"
		}
		return false, "does not match --layers"
	}
	if p := x.Producer; p != nil && p.Op == "MatMul" && strings.HasSuffix(weightName(p.In(1)), ".lora_A") {
		return false, "its input is a LoRA adapter's rank-r activation: small, kept whole"
	}
	for _, r := range viewReaders(x, readers) {
		if backward[r] && !own[r] {
			return false, fmt.Sprintf("its input stays kept for %s (%s)", r.Name, r.Key())
		}
	}
	if len(own) > 2 {
		return true, "with the layers sharing its input, removes the activation from what backward keeps"
	}
	return true, "removes the activation from what backward keeps"
}

// viewReaders lists the readers of v and of every view (Reshape, Identity…)
// of it: reading a view keeps the same buffer alive.
func viewReaders(v *ir.Value, readers map[*ir.Value][]*ir.Node) []*ir.Node {
	var out []*ir.Node
	for _, r := range readers[v] {
		out = append(out, r)
		if isView(r) && r.Outputs[0] != nil {
			out = append(out, viewReaders(r.Outputs[0], readers)...)
		}
	}
	return out
}

func isView(n *ir.Node) bool {
	if n.Domain != "" {
		return false
	}
	switch n.Op {
	case "Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity":
		return true
	}
	return false
}

// rewriteLayer inserts the sampling after the forward MatMul and feeds the
// weight gradient from the sampled rows.
// shareSamples reports whether layers reading one activation can share its
// sample: only when ĝ does not depend on the layer.
func shareSamples(spec SamplingSpec) bool { return spec.GNorm == "" || spec.GNorm == "none" }

func rewriteLayer(g *ir.Graph, spec SamplingSpec, fwd, dw *ir.Node, d *LayerDecision, shared map[*ir.Value]*ir.Node, mask *ir.Value) error {
	x := fwd.In(0)
	width := x.Shape[len(x.Shape)-1].Size
	b := &gradBuilder{g: g, prefix: "wtacrs/" + fwd.Name}
	if mask != nil {
		d.PaddingMask = mask.Name
		d.Why += "; padding rows (" + mask.Name + " = 0) excluded"
	}
	if sample, ok := shared[x]; ok && shareSamples(spec) {
		b.prefix = ir.BackwardPrefix + "wtacrs/" + fwd.Name
		gather := insertBefore(g, dw, b.node("GatherRows", CrscDomain, nil, 1, dw.In(1), sample.Outputs[1]))
		dw.Inputs[0], dw.Inputs[1] = sample.Outputs[0], gather.Outputs[0]
		d.Why += " (shares the sample of its input)"
		return b.err
	}
	rows := insertAfter(g, fwd, b.node("Reshape", "", nil, 1, x, b.ints(-1, width)))
	ins := []*ir.Value{rows.Outputs[0], nil}
	if spec.GNorm == "ema" || spec.GNorm == "cache" {
		n := ir.UnknownDim
		if d.Rows > 0 {
			n = ir.Fixed(int64(d.Rows))
		}
		gn := g.AddInput(GNormInputPrefix+fwd.Name, ir.Float32, ir.Shape{n})
		d.GNormInput = gn.Name
		ins[1] = gn
	}
	anchor := rows
	if mask != nil {
		// The mask's [batch, seq] flattened like X's rows.
		anchor = insertAfter(g, rows, b.node("Reshape", "", nil, 1, mask, b.ints(-1)))
		ins = append(ins, anchor.Outputs[0])
	}
	for ins[len(ins)-1] == nil {
		ins = ins[:len(ins)-1]
	}
	attrs := spec.sampleRowsAttrs()
	sample := insertAfter(g, anchor, b.node("SampleRows", CrscDomain, attrs, 2, ins...))
	shared[x] = sample
	// Backward: the same rows of G.
	b.prefix = ir.BackwardPrefix + "wtacrs/" + fwd.Name
	gRows := dw.In(1)
	gather := insertBefore(g, dw, b.node("GatherRows", CrscDomain, nil, 1, gRows, sample.Outputs[1]))
	dw.Inputs[0], dw.Inputs[1] = sample.Outputs[0], gather.Outputs[0]
	if d.GNormInput != "" {
		norms := insertBefore(g, dw, b.node("RowNorms", CrscDomain, nil, 1, gRows))
		norms.Outputs[0].Name = g.UniqueName(GNormOutputPrefix + fwd.Name)
		g.Outputs = append(g.Outputs, norms.Outputs[0])
		d.GNormOutput = norms.Outputs[0].Name
	}
	return b.err
}

// insertAfter moves the (just appended) node n to right after anchor.
func insertAfter(g *ir.Graph, anchor, n *ir.Node) *ir.Node {
	return moveNode(g, n, anchor, 1)
}

// insertBefore moves the (just appended) node n to right before anchor.
func insertBefore(g *ir.Graph, anchor, n *ir.Node) *ir.Node {
	return moveNode(g, n, anchor, 0)
}

func moveNode(g *ir.Graph, n, anchor *ir.Node, offset int) *ir.Node {
	var nodes []*ir.Node
	for _, m := range g.Nodes {
		if m != n {
			nodes = append(nodes, m)
		}
	}
	for i, m := range nodes {
		if m == anchor {
			at := i + offset
			nodes = append(nodes[:at], append([]*ir.Node{n}, nodes[at:]...)...)
			break
		}
	}
	g.Nodes = nodes
	return n
}

// modelHeads returns the linear layers that produce the model's output: a
// forward node from which the loss is reached without passing through
// another linear layer (the LM head, a classifier). The paper's setting
// (WTACRS.md §5) keeps them exact, so --layers auto does too. linear holds
// the trained linear layers; any MatMul/Gemm with a weight operand also
// counts as one, so a frozen projection ends the walk as well.
func modelHeads(g *ir.Graph, linear map[*ir.Node]bool) map[*ir.Node]bool {
	heads := map[*ir.Node]bool{}
	seen := map[*ir.Value]bool{}
	var walk func(v *ir.Value)
	walk = func(v *ir.Value) {
		if v == nil || seen[v] || v.Producer == nil {
			return
		}
		seen[v] = true
		p := v.Producer
		if linear[p] || isLinearNode(p) {
			heads[p] = true
			return
		}
		for _, in := range p.Inputs {
			walk(in)
		}
	}
	for _, v := range g.Outputs {
		if v.Name == LossName {
			walk(v)
		}
	}
	return heads
}

// isLinearNode reports whether n is a MatMul/Gemm with a weight (an
// initializer, possibly through a Transpose) as an operand.
func isLinearNode(n *ir.Node) bool {
	if n.Domain != "" || (n.Op != "MatMul" && n.Op != "Gemm") {
		return false
	}
	for _, in := range n.Inputs[:min(2, len(n.Inputs))] {
		if in.IsConst() || (in != nil && in.Producer != nil && in.Producer.Op == "Transpose" && in.Producer.In(0).IsConst()) {
			return true
		}
	}
	return false
}

// paddingMasks finds, per activation, the graph input whose zeros mark its
// padding rows. A mask [batch, seq] applies to an activation [batch, seq,
// d] computed from the same token positions: attention_mask to the
// encoder side (activations that do not depend on any decoder_* input),
// decoder_attention_mask to the decoder side. Padding rows have G_i = 0
// exactly — the mask hides them from every query (their attention
// probabilities underflow to 0) and the loss does not read them — so their
// terms X_iᵀG_i of dW are 0 and SampleRows may leave them out of the draw
// without bias. A T5 decoder has no mask input here, so its layers get none.
type paddingMasks struct {
	encoder, decoder *ir.Value
	decoderSide      map[*ir.Value]bool // memo: depends on a decoder_* input
}

func newPaddingMasks(g *ir.Graph) *paddingMasks {
	m := &paddingMasks{decoderSide: map[*ir.Value]bool{}}
	for _, in := range g.Inputs {
		switch in.Name {
		case "attention_mask":
			m.encoder = in
		case "decoder_attention_mask":
			m.decoder = in
		}
	}
	return m
}

// of returns the mask for activation x, or nil.
func (m *paddingMasks) of(x *ir.Value) *ir.Value {
	mask := m.encoder
	if m.dependsOnDecoder(x) {
		mask = m.decoder
	}
	if mask == nil || !mask.HasShape || !x.HasShape || len(x.Shape) != len(mask.Shape)+1 {
		return nil
	}
	for i, d := range mask.Shape {
		if !d.IsFixed() || d != x.Shape[i] {
			return nil
		}
	}
	return mask
}

// ofBlocks returns the mask for x [batch, …, seq, d] (attention's [batch,
// heads, seq, d] operands: row blocks per batch and head), or nil. All of
// x's dims but the last must be fixed, to broadcast the mask to them.
func (m *paddingMasks) ofBlocks(x *ir.Value) *ir.Value {
	mask := m.encoder
	if m.dependsOnDecoder(x) {
		mask = m.decoder
	}
	if mask == nil || !mask.HasShape || len(mask.Shape) != 2 || !x.HasShape || len(x.Shape) < 4 {
		return nil
	}
	r := len(x.Shape)
	for _, d := range x.Shape[:r-1] {
		if !d.IsFixed() {
			return nil
		}
	}
	if mask.Shape[0] != x.Shape[0] || mask.Shape[1] != x.Shape[r-2] {
		return nil
	}
	return mask
}

func (m *paddingMasks) dependsOnDecoder(v *ir.Value) bool {
	if v == nil {
		return false
	}
	if dep, ok := m.decoderSide[v]; ok {
		return dep
	}
	m.decoderSide[v] = false // cut cycles (there are none in a DAG)
	dep := false
	if v.Producer == nil {
		dep = !v.IsConst() && strings.HasPrefix(v.Name, "decoder_")
	} else {
		for _, in := range v.Producer.Inputs {
			if m.dependsOnDecoder(in) {
				dep = true
				break
			}
		}
	}
	m.decoderSide[v] = dep
	return dep
}

// CheckSampledSome refuses a sampled compile in which no layer (and no
// attention product) is sampled although sampling was asked for: a model
// without a trained linear weight, or --layers naming layers that all
// stay exact. The user would silently get exact training. The error names
// what kept the layers exact and how to ask for exact training. With
// --layers auto, layers kept exact because sampling them would save
// nothing (their input is kept for another reader) are the planner's
// choice, which the run's sampling summary reports.
func CheckSampledSome(t *Training, s SamplingSpec) error {
	if !s.Enabled() || s.Keep >= 1 || len(t.Layers) > 0 && (s.Layers == "auto" || s.Layers == "") {
		return nil
	}
	for _, d := range t.Layers {
		if d.Sampled {
			return nil
		}
	}
	for _, d := range t.Attention {
		if d.Sampled {
			return nil
		}
	}
	if len(t.Layers) == 0 {
		return fmt.Errorf("--keep %g: the model has no linear layer with a trained weight, so nothing would be sampled; use --keep 1 (or --estimator exact) for exact training", s.Keep)
	}
	return fmt.Errorf("--keep %g --layers %s: none of the %d linear layers is sampled (%s: %s), so training would be exact; use --keep 1 (or --estimator exact), or --layers to choose layers",
		s.Keep, s.Layers, len(t.Layers), t.Layers[0].Node, t.Layers[0].Why)
}
