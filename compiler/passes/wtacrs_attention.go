package passes

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"crsc/compiler/ir"
)

// AttentionDecision says what SampleAttention did with one side of one
// attention product.
type AttentionDecision struct {
	Node    string // the forward MatMul
	Side    string // "dA" (samples the contraction over R's columns) or "dB" (over R's rows)
	Sampled bool
	// Recomputed: the operand is not kept at all but rebuilt in backward
	// from a tensor backward keeps anyway (exact, and no memory).
	Recomputed bool
	Why        string
	// PaddingMask names the graph input whose zeros mark the sampled
	// operand's padding rows (query positions for dB, key positions for dA
	// of QKᵀ), excluded from sampling; "" when none applies.
	PaddingMask string
}

// AttentionGNormNote says what --gnorm means for attention products: their
// rows are drawn with p ∝ ‖row‖ only (ĝ = 1), since no ĝ input or ‖dR‖
// feedback exists for them (the ema/cache estimates are kept per linear
// layer). The estimate stays unbiased; only its variance is that of `none`.
const AttentionGNormNote = "attention products ignore --gnorm: p ∝ ‖row‖ only (ĝ = 1)"

// SampleAttention applies WTA-CRS to products of two activations, R = A·B
// per batch and head (QKᵀ and P·V):
//
//	dA = dR·Bᵀ contracts over R's columns: keep k sampled rows of Bᵀ;
//	dB = Aᵀ·dR contracts over R's rows:    keep k sampled rows of A;
//
// and gathers the matching rows of dRᵀ or dR in backward. Each side is
// sampled only when the operand it replaces is read by nothing else in
// backward (the softmax output P is kept for softmax's own gradient, so
// sampling it would add memory, not save it). When the operand is a Dropout
// of such a kept tensor (P' = Dropout(P) in P·V), it is neither kept nor
// sampled: backward rebuilds it from P with the regenerated mask, which is
// exact and costs no memory.
func SampleAttention(g *ir.Graph, spec SamplingSpec, products []ProductGrad) ([]AttentionDecision, error) {
	if spec.MinRows == 0 {
		spec.MinRows = 10
	}
	readers := g.Consumers()
	backward := backwardNodes(g)
	masks := newPaddingMasks(g)
	pos := nodePositions(g)
	products = slices.Clone(products)
	sort.SliceStable(products, func(i, j int) bool { return pos[products[i].Grad] < pos[products[j].Grad] })
	var out []AttentionDecision
	for _, pg := range products {
		grad, fwd, side, name := pg.Grad, pg.Forward, pg.Side, pg.Forward.Name
		if _, ok := pos[grad]; !ok {
			return nil, fmt.Errorf("internal error: the attention gradient of %q is no longer in the graph", name)
		}
		d := AttentionDecision{Node: name, Side: "d" + strings.ToUpper(side)}
		// The operand this side would replace by sampled rows.
		operand := fwd.In(1) // dA needs B
		if side == "b" {
			operand = fwd.In(0) // dB needs A
		}
		d.Sampled, d.Why = true, "the operand is read by nothing else in backward"
		for _, r := range viewReaders(operand, readers) {
			if backward[r] && r != grad {
				d.Sampled, d.Why = false, fmt.Sprintf("the operand stays kept for %s (%s)", r.Name, r.Key())
				break
			}
		}
		if d.Sampled {
			if why, ok := recomputeDropout(g, grad, operand, readers, backward); ok {
				d.Sampled, d.Recomputed, d.Why = false, true, why
			} else if err := rewriteAttentionSide(g, spec, fwd, grad, side, masks.forProduct(fwd, readers), &d); err != nil {
				return nil, err
			} else if spec.GNorm == "ema" || spec.GNorm == "cache" {
				d.Why += "; " + AttentionGNormNote
			}
		}
		out = append(out, d)
	}
	g.RemoveDeadNodes()
	if err := g.InferShapes(); err != nil {
		return nil, err
	}
	return out, g.Verify()
}

// recomputeDropout rebuilds operand = Dropout(x) right before grad when x
// is kept for backward anyway: DropoutMaskGrad redraws the forward's mask
// from the seed, so applying it to x reproduces the forward output exactly.
func recomputeDropout(g *ir.Graph, grad *ir.Node, operand *ir.Value, readers map[*ir.Value][]*ir.Node, backward map[*ir.Node]bool) (string, bool) {
	drop := operand.Producer
	if drop == nil || drop.Op != "Dropout" || drop.Domain != "" || drop.In(0) == nil {
		return "", false
	}
	x := drop.In(0)
	var keeper *ir.Node
	for _, r := range viewReaders(x, readers) {
		if backward[r] {
			keeper = r
			break
		}
	}
	if keeper == nil || !slices.Contains(grad.Inputs, operand) {
		return "", false
	}
	b := &gradBuilder{g: g, prefix: ir.BackwardPrefix + "recompute/" + drop.Name}
	inputs := []*ir.Value{x, drop.In(1), drop.In(2)}
	for len(inputs) > 1 && inputs[len(inputs)-1] == nil {
		inputs = inputs[:len(inputs)-1]
	}
	re := b.node("DropoutMaskGrad", CrscDomain, ir.Attrs{"forward_node": ir.StringAttr(drop.Name)}, 1, inputs...)
	if b.err != nil {
		return "", false
	}
	insertBefore(g, grad, re)
	for i, in := range grad.Inputs {
		if in == operand {
			grad.Inputs[i] = re.Outputs[0]
		}
	}
	return fmt.Sprintf("recomputed from %s (kept for %s) with the regenerated Dropout mask: exact, no memory", x.Name, keeper.Name), true
}

// rewriteAttentionSide samples one side of R = A·B. Where the rows it
// samples are token positions they get the padding mask of their side:
// A's rows (query positions, for dB) always; Bᵀ's rows (R's columns, for
// dA) only when R is a score matrix, softmaxed over its last axis (QKᵀ:
// key positions) — in P·V they are V's columns, which no mask describes.
// The attention mask hides padding keys from every query and padding
// queries' outputs reach no loss, so those rows' dR columns or rows are 0.
func rewriteAttentionSide(g *ir.Graph, spec SamplingSpec, fwd, grad *ir.Node, side string, masks productMasks, d *AttentionDecision) error {
	b := &gradBuilder{g: g, prefix: "wtacrs/" + fwd.Name + "/" + side}
	attrs := spec.sampleRowsAttrs()
	dR := grad.In(0)
	if side == "b" {
		dR = grad.In(1)
	}
	rank := len(fwd.Outputs[0].Shape)
	swap := ir.Attrs{"perm": ir.IntsAttr(lastTwoSwapped(rank)...)}
	if side == "a" {
		// Rows of Bᵀ: when B is itself a transpose (Kᵀ in QKᵀ), its input is Bᵀ.
		bT := fwd.In(1)
		anchor := fwd
		var mask *ir.Value
		if p := bT.Producer; p != nil && p.Op == "Transpose" && isLastTwoSwap(p, rank) {
			bT = p.In(0)
		} else {
			anchor = insertAfter(g, fwd, b.node("Transpose", "", swap, 1, bT))
			bT = anchor.Outputs[0]
		}
		if masks.scores {
			mask = masks.ofBlocks(bT)
		}
		ins := []*ir.Value{bT}
		if mask != nil {
			anchor = insertBlockMask(g, b, anchor, mask, bT, d)
			ins = append(ins, nil, anchor.Outputs[0])
		}
		sample := insertAfter(g, anchor, b.node("SampleRows", CrscDomain, attrs, 2, ins...))
		b.prefix = ir.BackwardPrefix + "wtacrs/" + fwd.Name + "/a"
		dRT := insertBefore(g, grad, b.node("Transpose", "", swap, 1, dR))
		rows := insertBefore(g, grad, b.node("GatherRows", CrscDomain, nil, 1, dRT.Outputs[0], sample.Outputs[1]))
		// dA = Σ_j dR[:, j] ⊗ Bᵀ[j, :] = (dRᵀ[idx])ᵀ · Bᵀs
		grad.Inputs = []*ir.Value{rows.Outputs[0], sample.Outputs[0]}
		grad.Attrs = ir.Attrs{"transA": ir.IntAttr(1)}
		return b.err
	}
	anchor, ins := fwd, []*ir.Value{fwd.In(0)}
	if mask := masks.ofBlocks(fwd.In(0)); mask != nil {
		anchor = insertBlockMask(g, b, anchor, mask, fwd.In(0), d)
		ins = append(ins, nil, anchor.Outputs[0])
	}
	sample := insertAfter(g, anchor, b.node("SampleRows", CrscDomain, attrs, 2, ins...))
	b.prefix = ir.BackwardPrefix + "wtacrs/" + fwd.Name + "/b"
	rows := insertBefore(g, grad, b.node("GatherRows", CrscDomain, nil, 1, dR, sample.Outputs[1]))
	// dB = Σ_i A[i, :] ⊗ dR[i, :] = As ᵀ · dR[idx]
	grad.Inputs = []*ir.Value{sample.Outputs[0], rows.Outputs[0]}
	grad.Attrs = ir.Attrs{"transA": ir.IntAttr(1)}
	return b.err
}

// productMasks is what rewriteAttentionSide needs to find padding masks
// for one product: the masks, and whether R's columns are key positions.
type productMasks struct {
	*paddingMasks
	scores bool
}

// forProduct reports, with the masks, whether fwd's output R is an
// attention score matrix: it reaches a Softmax over its last axis through
// elementwise ops only (scaling, the additive mask, a cast), so R's
// columns are key positions.
func (m *paddingMasks) forProduct(fwd *ir.Node, readers map[*ir.Value][]*ir.Node) productMasks {
	rank := len(fwd.Outputs[0].Shape)
	var softmaxed func(v *ir.Value, depth int) bool
	softmaxed = func(v *ir.Value, depth int) bool {
		for _, r := range readers[v] {
			if r.Domain != "" || len(r.Outputs) == 0 {
				continue
			}
			switch r.Op {
			case "Softmax":
				if axis := r.Attrs.Int("axis", -1); axis == -1 || axis == int64(rank-1) {
					return true
				}
			case "Div", "Mul", "Add", "Sub", "Where", "Cast":
				if depth < 4 && softmaxed(r.Outputs[0], depth+1) {
					return true
				}
			}
		}
		return false
	}
	return productMasks{m, softmaxed(fwd.Outputs[0], 0)}
}

// insertBlockMask adds, after anchor, mask [batch, seq] broadcast to the
// row shape [batch, heads, seq] of x [batch, heads, seq, d] (SampleRows'
// mask input), and returns the node producing it.
func insertBlockMask(g *ir.Graph, b *gradBuilder, anchor *ir.Node, mask, x *ir.Value, d *AttentionDecision) *ir.Node {
	d.PaddingMask = mask.Name
	d.Why += "; padding rows (" + mask.Name + " = 0) excluded"
	r := len(x.Shape)
	batch, seq := x.Shape[0].Size, x.Shape[r-2].Size
	rowShape := make([]int64, r-1)
	for i, dim := range x.Shape[:r-1] {
		rowShape[i] = dim.Size
	}
	keep := make([]int64, r-1) // [batch, 1, …, 1, seq]
	for i := range keep {
		keep[i] = 1
	}
	keep[0], keep[r-2] = batch, seq
	shaped := insertAfter(g, anchor, b.node("Reshape", "", nil, 1, mask, b.ints(keep...)))
	return insertAfter(g, shaped, b.node("Expand", "", nil, 1, shaped.Outputs[0], b.ints(rowShape...)))
}

func isLastTwoSwap(n *ir.Node, rank int) bool {
	perm := n.Attrs.Ints("perm")
	if len(perm) != rank {
		return false
	}
	want := lastTwoSwapped(rank)
	for i := range perm {
		if perm[i] != want[i] {
			return false
		}
	}
	return true
}

// AttentionSummary is one line on the attention products' decisions
// (empty without --attention): how many gradients are sampled, how many
// exact from a recomputed operand, why the rest stay exact, and what
// --gnorm means for them.
func (t *Training) AttentionSummary() string {
	if len(t.Attention) == 0 {
		return ""
	}
	sampled, recomputed, note, rest := 0, 0, "", "none"
	for _, d := range t.Attention {
		switch {
		case d.Sampled:
			sampled++
			if strings.Contains(d.Why, AttentionGNormNote) {
				note = "; " + AttentionGNormNote
			}
		case d.Recomputed:
			recomputed++
		case rest == "none":
			rest = d.Side + " of " + d.Node + ": " + d.Why
		}
	}
	s := fmt.Sprintf("%d of %d attention-product gradients sampled", sampled, len(t.Attention))
	if recomputed > 0 {
		s += fmt.Sprintf(", %d exact from a recomputed operand", recomputed)
	}
	return s + fmt.Sprintf(" (the rest: %s)%s", rest, note)
}
