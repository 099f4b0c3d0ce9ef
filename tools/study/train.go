package study

import (
	"fmt"
	"math"
	"math/rand"
	"strings"
	"time"

	"crsc/compiler/ir"
	"crsc/compiler/models"
	"crsc/compiler/passes"
	"crsc/runtime"
	"crsc/training/optim"
)

// layer is one linear layer of the encoder whose weight gradient
// dW = Xᵀ·G the study estimates.
type layer struct {
	Name  string // "L0.query", ...
	Group string // query, key, value, attention-output, ffn-in, ffn-out
	// X and G name the two inputs of the layer's weight-gradient Gemm in
	// the exact training graph: X [N, d_in] and G = dL/dY [N, d_out].
	X, G string
}

// groupOf maps a forward MatMul name of the BERT builder to its layer
// group; "" for layers outside the encoder blocks.
func groupOf(matmul string) string {
	for _, g := range []struct{ part, group string }{
		{".attention.self.query/", "query"},
		{".attention.self.key/", "key"},
		{".attention.self.value/", "value"},
		{".attention.output.dense/", "attention-output"},
		{".intermediate.dense/", "ffn-in"},
		{".output.dense/", "ffn-out"},
	} {
		if strings.Contains(matmul, g.part) {
			return g.group
		}
	}
	return ""
}

// Groups lists the layer groups in table order.
var Groups = []string{"query", "key", "value", "attention-output", "ffn-in", "ffn-out"}

// model is the exact training graph and what the study reads from it.
type model struct {
	g       *ir.Graph
	trained []passes.ParamGrad
	layers  []layer
}

// buildModel builds the BERT classifier, binds it to [batch, seq] and
// compiles the exact training graph (no sampling). Every linear layer's
// weight gradient in it is a Gemm (autodiff's Backward.Linear records it
// with the forward MatMul) whose inputs are X and G flattened to rows.
func buildModel(c Config) (*model, error) {
	g, err := models.BuildBertWith(c.Model, models.BuildOptions{Seed: c.Seed})
	if err != nil {
		return nil, err
	}
	cfg := &passes.Config{
		Shapes:   map[string]ir.Shape{"input_ids": ir.StaticShape(c.Batch, c.Seq)},
		Supports: runtime.CPU(runtime.Options{}).Supports,
	}
	if err := passes.Run(g, passes.Load, cfg); err != nil {
		return nil, err
	}
	t, err := passes.Compile(g, passes.TrainingSpec{Loss: passes.LossSpec{Kind: passes.LossCrossEntropy, Output: "logits"}})
	if err != nil {
		return nil, err
	}
	m := &model{g: g, trained: t.Trained}
	for _, lg := range t.Backward.Linear {
		n, fwd := lg.WeightGrad, lg.Forward.Name
		group := groupOf(fwd)
		if group == "" || len(n.Inputs) < 2 {
			continue
		}
		name := strings.TrimPrefix(fwd, "bert.encoder.layer.")
		name = "L" + name[:strings.IndexByte(name, '.')] + "." + group
		m.layers = append(m.layers, layer{Name: name, Group: group, X: n.Inputs[0].Name, G: n.Inputs[1].Name})
	}
	// The backward pass visits layers last to first; report them in
	// forward order.
	for i, j := 0, len(m.layers)-1; i < j; i, j = i+1, j-1 {
		m.layers[i], m.layers[j] = m.layers[j], m.layers[i]
	}
	if len(m.layers) == 0 {
		return nil, fmt.Errorf("no linear-layer weight gradients found in the training graph")
	}
	return m, nil
}

// keep lists the values to return besides the graph outputs: X and G of
// every studied layer.
func (m *model) keep() []string {
	var names []string
	for _, l := range m.layers {
		names = append(names, l.X, l.G)
	}
	return names
}

// optimizer returns AdamW over every trained parameter; it updates the
// graph's initializers in place.
func (m *model) optimizer() (*optim.AdamW, error) {
	params := map[string]*ir.Tensor{}
	var infos []optim.ParamInfo
	for _, p := range m.trained {
		t := p.Param.Init
		params[p.Param.Name] = t
		infos = append(infos, optim.ParamInfo{Name: p.Param.Name, DType: t.DType, Shape: t.Shape, Decay: optim.DefaultDecay(p.Param.Name, t.Shape)})
	}
	return optim.NewAdamW(params, infos, optim.DefaultAdamWConfig())
}

// feeds builds one batch's graph inputs.
func feeds(batch []example, seq int) map[string]*ir.Tensor {
	b := len(batch)
	ids, mask, types := ir.NewTensor(ir.Int64, b, seq), ir.NewTensor(ir.Int64, b, seq), ir.NewTensor(ir.Int64, b, seq)
	labels := ir.NewTensor(ir.Int64, b)
	for r, ex := range batch {
		copy(ids.I64[r*seq:], ex.IDs)
		for p := 0; p < ex.Len; p++ {
			mask.I64[r*seq+p] = 1
		}
		labels.I64[r] = ex.Label
	}
	return map[string]*ir.Tensor{"input_ids": ids, "attention_mask": mask, "token_type_ids": types, "labels": labels}
}

// normTracker builds the ĝ sources of WTACRS.md §3 from the row norms
// ‖G_i‖ seen at earlier steps. Rows are (batch row, position) pairs,
// N = batch·seq, row r·seq + p.
type normTracker struct {
	beta  float64
	seq   int
	ema   [][]float64         // layer → [seq]; nil before the first step
	cache []map[int][]float64 // layer → example row → [seq], from its last visit
}

func newNormTracker(layers, seq int, beta float64) *normTracker {
	t := &normTracker{beta: beta, seq: seq, ema: make([][]float64, layers), cache: make([]map[int][]float64, layers)}
	for l := range t.cache {
		t.cache[l] = map[int][]float64{}
	}
	return t
}

// estimate returns ĝ [N] of layer l for a batch holding the given
// examples: ema expands the per-position mean to rows; cache takes each
// row's norm from its example's previous visit. Either falls back to
// ĝ = 1 (the none source) where it has no value yet.
func (t *normTracker) estimate(source string, l int, batch []example) []float64 {
	g := make([]float64, len(batch)*t.seq)
	for r, ex := range batch {
		var from []float64
		switch source {
		case "ema":
			from = t.ema[l]
		case "cache":
			from = t.cache[l][ex.Row]
		}
		for p := 0; p < t.seq; p++ {
			g[r*t.seq+p] = 1
			if from != nil {
				g[r*t.seq+p] = from[p]
			}
		}
	}
	return g
}

// observe folds the step's true norms [N] of layer l into the ema and the
// cache.
func (t *normTracker) observe(l int, batch []example, norms []float64) {
	mean := make([]float64, t.seq)
	for r, ex := range batch {
		row := append([]float64(nil), norms[r*t.seq:(r+1)*t.seq]...)
		t.cache[l][ex.Row] = row
		for p, v := range row {
			mean[p] += v / float64(len(batch))
		}
	}
	if t.ema[l] == nil {
		t.ema[l] = mean
		return
	}
	for p, v := range mean {
		t.ema[l][p] = t.beta*t.ema[l][p] + (1-t.beta)*v
	}
}

// cacheValues is how many norms the cache source holds for the whole
// subset: examples × positions × layers.
func (t *normTracker) cacheValues(examples int) int64 {
	return int64(examples) * int64(t.seq) * int64(len(t.cache))
}

// capture is what the study keeps of one snapshot step: X and G of every
// layer and the ĝ each source offered at that step.
type capture struct {
	Step        int
	PadFraction float64 // share of the batch's rows that are padding
	Layers      []layerCapture
}

type layerCapture struct {
	X, G *ir.Tensor           // float32 [N, d_in], [N, d_out]
	GHat map[string][]float64 // source → ĝ [N]; none → nil
}

// rowNorms returns ‖row‖₂ of every row of a float32 [N, d] tensor.
func rowNorms(t *ir.Tensor) []float64 {
	d := t.Shape[len(t.Shape)-1]
	out := make([]float64, t.Len()/d)
	for i := range out {
		s := 0.0
		for _, v := range t.F32[i*d : (i+1)*d] {
			s += float64(v) * float64(v)
		}
		out[i] = math.Sqrt(s)
	}
	return out
}

// learningRate is linear warmup to LR over Warmup steps, then constant:
// the snapshot should catch training in the middle, not annealed.
func (c Config) learningRate(step int) float32 {
	if step < c.Warmup {
		return float32(c.LR * float64(step+1) / float64(c.Warmup))
	}
	return float32(c.LR)
}

// training is what train returns.
type training struct {
	model      *model
	examples   []example // the subset, in file order
	loss       []float64 // per step
	captures   []capture
	cacheNorms int64
}

// train fine-tunes the model exactly for c.Steps steps over the subset
// (seeded shuffle per epoch), recording ‖G_i‖ of every layer at every step,
// and captures X, G and the ĝ sources at the last c.Snapshot steps.
func train(c Config, all []example) (*training, error) {
	m, err := buildModel(c)
	if err != nil {
		return nil, err
	}
	data, err := subset(all, c.Examples, c.Seed)
	if err != nil {
		return nil, err
	}
	opt, err := m.optimizer()
	if err != nil {
		return nil, err
	}
	perEpoch := c.Examples / c.Batch
	tracker := newNormTracker(len(m.layers), c.Seq, c.EMABeta)
	tr := &training{model: m, examples: data}
	var order []int
	start := time.Now()
	for step := 0; step < c.Steps; step++ {
		epoch, b := step/perEpoch, step%perEpoch
		if b == 0 {
			order = rand.New(rand.NewSource(c.Seed + int64(epoch))).Perm(len(data))
		}
		batch := make([]example, c.Batch)
		for r := range batch {
			batch[r] = data[order[b*c.Batch+r]]
		}
		out, err := runtime.Run(m.g, feeds(batch, c.Seq), runtime.Options{Seed: uint64(c.Seed), Step: uint64(step), Keep: m.keep()})
		if err != nil {
			return nil, fmt.Errorf("step %d: %v", step+1, err)
		}
		loss := float64(out["loss"].F32[0])
		tr.loss = append(tr.loss, loss)

		snap := step >= c.Steps-c.Snapshot
		var cp capture
		if snap {
			cp.Step = step + 1
			for _, ex := range batch {
				cp.PadFraction += float64(c.Seq-ex.Len) / float64(c.Seq*len(batch))
			}
		}
		for l, ly := range m.layers {
			norms := rowNorms(out[ly.G])
			if snap {
				cp.Layers = append(cp.Layers, layerCapture{X: out[ly.X], G: out[ly.G], GHat: map[string][]float64{
					"none":   nil,
					"ema":    tracker.estimate("ema", l, batch),
					"cache":  tracker.estimate("cache", l, batch),
					"oracle": norms,
				}})
			}
			tracker.observe(l, batch, norms)
		}
		if snap {
			tr.captures = append(tr.captures, cp)
		}

		grads := map[string]*ir.Tensor{}
		for _, p := range m.trained {
			grads[p.Param.Name] = out[p.Grad.Name]
		}
		lr := c.learningRate(step)
		if err := opt.Step(grads, lr); err != nil {
			return nil, err
		}
		if c.Progress != nil {
			mark := ""
			if snap {
				mark = "  (snapshot)"
			}
			fmt.Fprintf(c.Progress, "step %3d/%d  epoch %d  loss %.4f  lr %.2e  %5.1fs%s\n",
				step+1, c.Steps, epoch+1, loss, lr, time.Since(start).Seconds(), mark)
		}
	}
	tr.cacheNorms = tracker.cacheValues(len(data))
	return tr, nil
}
