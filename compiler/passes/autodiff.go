package passes

import (
	"fmt"
	"regexp"

	"crsc/compiler/ir"
)

// CrscDomain is the domain of crsc's own ops (gradient helpers, sampling).
const CrscDomain = "ai.crsc"

// GradSuffix names a parameter's gradient output: W → W_grad (ONNX Runtime's
// convention).
const GradSuffix = "_grad"

// TrainSelection narrows the trained set. Empty patterns mean: every float
// initializer with more than one element that the loss depends on.
type TrainSelection struct {
	Train  string `json:"train"`  // regexp: only parameters whose name (or Hugging Face name) matches
	Freeze string `json:"freeze"` // regexp: parameters whose name (or Hugging Face name) matches stay frozen
}

// Params returns the candidate parameters of g: the model's float
// initializers with more than one element (scalars are constants of the
// graph: scales, epsilons, mask fill values; folded values are computed
// constants), filtered by sel.
func Params(g *ir.Graph, sel TrainSelection) ([]*ir.Value, error) {
	var train, freeze *regexp.Regexp
	var err error
	if sel.Train != "" {
		if train, err = regexp.Compile(sel.Train); err != nil {
			return nil, fmt.Errorf("--train %q: %v", sel.Train, err)
		}
	}
	if sel.Freeze != "" {
		if freeze, err = regexp.Compile(sel.Freeze); err != nil {
			return nil, fmt.Errorf("--freeze %q: %v", sel.Freeze, err)
		}
	}
	// A pattern may name a parameter by its Hugging Face name too
	// (distilbert.transformer.layer.0.attention.q_lin.weight), which an
	// exporter that wrote onnx::MatMul_302 left only in its node scopes.
	var hf map[string]string
	if train != nil || freeze != nil {
		hf = HFModuleNames(g).Params
	}
	matches := func(re *regexp.Regexp, v *ir.Value) bool {
		return re.MatchString(v.Name) || hf[v.Name] != "" && re.MatchString(hf[v.Name])
	}
	var params []*ir.Value
	for _, v := range g.Inits {
		if !isWeight(v) {
			continue
		}
		if train != nil && !matches(train, v) || freeze != nil && matches(freeze, v) {
			continue
		}
		params = append(params, v)
	}
	return params, nil
}

// Backward is what autodiff tells the passes after it about the backward
// graph it built (instead of marks on nodes): every linear layer's weight
// gradient, and both backward products of every product of two
// activations (attention's QKᵀ and P·V).
type Backward struct {
	Linear   []LinearGrad
	Products []ProductGrad
}

// LinearGrad is a linear layer x·W and the Gemm computing its weight
// gradient xᵀ·dy, its inputs x and dy flattened to rows (Reshapes).
type LinearGrad struct {
	Forward, WeightGrad *ir.Node
}

// ProductGrad is one backward product of a MatMul of two activations:
// side "a" computes dA = dR·Bᵀ, side "b" dB = Aᵀ·dR.
type ProductGrad struct {
	Forward, Grad *ir.Node
	Side          string
}

// Gradients extends g with the backward pass: for every parameter the seeds
// depend on, an output named <param>_grad holding Σ_s ⟨seed_s, ∂s/∂param⟩.
// seeds maps forward values to their incoming gradient (1 for a scalar loss,
// the cotangent for a vector-Jacobian product).
//
// Like tinygrad's compute_gradient: walk the nodes on a path from a
// parameter to a seed in reverse order, apply each op's rule to the summed
// gradients of its outputs, and accumulate what the rule returns for its
// inputs. Every op on the path without a rule is reported at once.
// It returns the parameters that received a gradient, in graph order.
func Gradients(g *ir.Graph, params []*ir.Value, seeds map[*ir.Value]*ir.Value) ([]ParamGrad, *Backward, error) {
	bw := &Backward{}
	grads, err := gradientValues(g, params, seeds, bw)
	if err != nil {
		return nil, nil, err
	}
	b := &gradBuilder{g: g}
	var trained []ParamGrad
	for _, p := range params {
		d, ok := grads[p]
		if !ok {
			continue
		}
		b.prefix = ir.BackwardPrefix + p.Name
		out := b.op("Identity", nil, d)
		out.Name = g.UniqueName(p.Name + GradSuffix)
		g.Outputs = append(g.Outputs, out)
		trained = append(trained, ParamGrad{Param: p, Grad: out})
	}
	if len(trained) == 0 {
		return nil, nil, fmt.Errorf("the loss depends on none of the %d selected parameters", len(params))
	}
	return trained, bw, g.InferShapes()
}

// gradientValues appends the backward nodes and returns, for each of xs
// that the seeds depend on, the value holding its summed gradient; rec
// (when not nil) receives what later passes need to know of them.
func gradientValues(g *ir.Graph, xs []*ir.Value, seeds map[*ir.Value]*ir.Value, rec *Backward) (map[*ir.Value]*ir.Value, error) {
	if err := g.InferShapes(); err != nil {
		return nil, err
	}
	onPath := nodesOnPath(g, xs, seeds)
	if err := checkRules(g, onPath); err != nil {
		return nil, err
	}
	forward := append([]*ir.Node{}, g.Nodes...)
	grads := map[*ir.Value][]*ir.Value{}
	for v, s := range seeds {
		grads[v] = append(grads[v], s)
	}
	b := &gradBuilder{g: g, rec: rec}
	for i := len(forward) - 1; i >= 0; i-- {
		n := forward[i]
		if !onPath.nodes[n] {
			continue
		}
		dy := make([]*ir.Value, len(n.Outputs))
		any := false
		for j, o := range n.Outputs {
			if o != nil && len(grads[o]) > 0 {
				dy[j] = b.sum(n.Name, grads[o])
				any = true
			}
		}
		if !any {
			continue
		}
		need := make([]bool, len(n.Inputs))
		for j, in := range n.Inputs {
			need[j] = in != nil && onPath.values[in] && gradRules[n.Key()].differentiable(j)
		}
		b.prefix = ir.BackwardPrefix + n.Name
		dx, err := gradRules[n.Key()].fn(b, n, dy, need)
		if err == nil {
			err = b.err
		}
		if err != nil {
			return nil, fmt.Errorf("gradient of node %q (%s): %v", n.Name, n.Op, err)
		}
		for j, d := range dx {
			if d != nil && j < len(need) && need[j] {
				// Add each contribution as soon as it exists: summing them
				// all at the producer would keep every one alive until then
				// (T5's encoder output, read by 24 decoder projections,
				// would hold 24 gradients at once). The order of the adds
				// is the same either way.
				x := n.Inputs[j]
				if prev := grads[x]; len(prev) > 0 {
					d = b.sum(x.Name, append(prev, d))
				}
				grads[x] = []*ir.Value{d}
			}
		}
	}
	result := map[*ir.Value]*ir.Value{}
	for _, x := range xs {
		if len(grads[x]) > 0 {
			b.prefix = ir.BackwardPrefix + x.Name
			result[x] = b.sum(x.Name, grads[x])
		}
	}
	return result, b.err
}

// ParamGrad pairs a trained parameter with its gradient output.
type ParamGrad struct {
	Param, Grad *ir.Value
}

type pathSets struct {
	nodes  map[*ir.Node]bool
	values map[*ir.Value]bool // values that depend on a parameter
}

// nodesOnPath finds the nodes through which a parameter reaches a seed along
// differentiable edges: forward from the parameters, backward from the seeds.
func nodesOnPath(g *ir.Graph, params []*ir.Value, seeds map[*ir.Value]*ir.Value) pathSets {
	depends := map[*ir.Value]bool{}
	for _, p := range params {
		depends[p] = true
	}
	for _, n := range g.Nodes {
		rule := gradRules[n.Key()]
		hit := false
		for j, in := range n.Inputs {
			if in != nil && depends[in] && (rule.fn == nil || rule.differentiable(j)) {
				hit = true
			}
		}
		if !hit {
			continue
		}
		for _, o := range n.Outputs {
			if o != nil && o.DType.IsFloat() {
				depends[o] = true
			}
		}
	}
	reaches := map[*ir.Value]bool{}
	for v := range seeds {
		reaches[v] = true
	}
	nodes := map[*ir.Node]bool{}
	for i := len(g.Nodes) - 1; i >= 0; i-- {
		n := g.Nodes[i]
		useful := false
		for _, o := range n.Outputs {
			if o != nil && reaches[o] && depends[o] {
				useful = true
			}
		}
		if !useful {
			continue
		}
		nodes[n] = true
		for _, in := range n.Inputs {
			if in != nil && depends[in] {
				reaches[in] = true
			}
		}
	}
	values := map[*ir.Value]bool{}
	for v := range depends {
		if reaches[v] {
			values[v] = true
		}
	}
	return pathSets{nodes: nodes, values: values}
}

// checkRules lists every op on the path that has no gradient rule.
func checkRules(g *ir.Graph, path pathSets) error {
	missing := map[string][]string{}
	for _, n := range g.Nodes {
		if path.nodes[n] && gradRules[n.Key()].fn == nil {
			missing[n.Key()] = append(missing[n.Key()], n.Name)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return fmt.Errorf("no gradient rule for: %s", listByOp(missing))
}
