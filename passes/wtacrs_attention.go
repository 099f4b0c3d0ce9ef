package passes

import (
	"fmt"
	"strings"

	"crsc/ir"
)

// attentionAttr marks the two backward products of a MatMul between two
// activations ("a:<forward node>" computes dA, "b:<forward node>" dB).
const attentionAttr = "_attention"

// AttentionDecision says what SampleAttention did with one side of one
// attention product.
type AttentionDecision struct {
	Node    string // the forward MatMul
	Side    string // "dA" (samples the contraction over R's columns) or "dB" (over R's rows)
	Sampled bool
	Why     string
}

// SampleAttention applies WTA-CRS to products of two activations, R = A·B
// per batch and head (QKᵀ and P·V):
//
//	dA = dR·Bᵀ contracts over R's columns: keep k sampled rows of Bᵀ;
//	dB = Aᵀ·dR contracts over R's rows:    keep k sampled rows of A;
//
// and gathers the matching rows of dRᵀ or dR in backward. Each side is
// sampled only when the operand it replaces is read by nothing else in
// backward (the softmax output P is kept for softmax's own gradient, so
// sampling it would add memory, not save it).
func SampleAttention(g *ir.Graph, spec SamplingSpec) ([]AttentionDecision, error) {
	if spec.MinRows == 0 {
		spec.MinRows = 10
	}
	byName := map[string]*ir.Node{}
	for _, n := range g.Nodes {
		byName[n.Name] = n
	}
	readers := g.Consumers()
	backward := backwardNodes(g)
	var out []AttentionDecision
	for _, grad := range append([]*ir.Node{}, g.Nodes...) {
		mark := grad.Attrs.String(attentionAttr, "")
		if mark == "" {
			continue
		}
		side, name, _ := strings.Cut(mark, ":")
		fwd := byName[name]
		if fwd == nil {
			return nil, fmt.Errorf("internal error: attention gradient %q names no forward node", grad.Name)
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
				d.Sampled, d.Why = false, fmt.Sprintf("the operand stays kept for %s (%s)", r.Name, opKey(r))
				break
			}
		}
		if d.Sampled {
			if err := rewriteAttentionSide(g, spec, fwd, grad, side); err != nil {
				return nil, err
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

func rewriteAttentionSide(g *ir.Graph, spec SamplingSpec, fwd, grad *ir.Node, side string) error {
	b := &gradBuilder{g: g, prefix: "wtacrs/" + fwd.Name + "/" + side}
	attrs := ir.Attrs{
		"keep":      ir.FloatAttr(float32(spec.Keep)),
		"min_rows":  ir.IntAttr(int64(spec.MinRows)),
		"estimator": ir.StringAttr(spec.Estimator),
	}
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
		if p := bT.Producer; p != nil && p.Op == "Transpose" && isLastTwoSwap(p, rank) {
			bT = p.In(0)
		} else {
			anchor = insertAfter(g, fwd, b.node("Transpose", "", swap, 1, bT))
			bT = anchor.Outputs[0]
		}
		sample := insertAfter(g, anchor, b.node("SampleRows", CrscDomain, attrs, 2, bT))
		b.prefix = "grad/wtacrs/" + fwd.Name + "/a"
		dRT := insertBefore(g, grad, b.node("Transpose", "", swap, 1, dR))
		rows := insertBefore(g, grad, b.node("GatherRows", CrscDomain, nil, 1, dRT.Outputs[0], sample.Outputs[1]))
		// dA = Σ_j dR[:, j] ⊗ Bᵀ[j, :] = (dRᵀ[idx])ᵀ · Bᵀs
		grad.Inputs = []*ir.Value{rows.Outputs[0], sample.Outputs[0]}
		grad.Attrs = ir.Attrs{"transA": ir.IntAttr(1)}
		return b.err
	}
	sample := insertAfter(g, fwd, b.node("SampleRows", CrscDomain, attrs, 2, fwd.In(0)))
	b.prefix = "grad/wtacrs/" + fwd.Name + "/b"
	rows := insertBefore(g, grad, b.node("GatherRows", CrscDomain, nil, 1, dR, sample.Outputs[1]))
	// dB = Σ_i A[i, :] ⊗ dR[i, :] = As ᵀ · dR[idx]
	grad.Inputs = []*ir.Value{sample.Outputs[0], rows.Outputs[0]}
	grad.Attrs = ir.Attrs{"transA": ir.IntAttr(1)}
	return b.err
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
