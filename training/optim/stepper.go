package optim

import (
	"fmt"
	"math"
	"slices"

	"crsc/compiler/ir"
	"crsc/runtime"
)

// AdamW is the training loop's optimizer: it owns the moment estimates and
// the step count and updates the caller's parameters (typically the
// training graph's initializers) in place with one fused pass per step —
// no per-step allocation, the same bits as the BuildAdamW graph (which
// stays the exported optimizer_model.onnx and the tests' reference).
type AdamW struct {
	graph  *ir.Graph
	cfg    AdamWConfig
	infos  []ParamInfo
	params []*ir.Tensor // in infos order
	// Moments in infos order, updated in place.
	expAvg, expAvgSq []*ir.Tensor
	step             int64
	// Options.Threads is the number of goroutines of the fused update.
	Options runtime.Options
}

// NewAdamW builds the optimizer graph for infos and starts with zero
// moments at step 0. params must hold an f32 tensor of the declared shape
// for every entry of infos; other entries (frozen weights) are ignored.
func NewAdamW(params map[string]*ir.Tensor, infos []ParamInfo, cfg AdamWConfig) (*AdamW, error) {
	g, err := BuildAdamW(infos, cfg)
	if err != nil {
		return nil, err
	}
	o := &AdamW{graph: g, cfg: cfg, infos: append([]ParamInfo(nil), infos...)}
	for _, info := range infos {
		p := params[info.Name]
		if err := checkTensor(p, info, "parameter "+info.Name); err != nil {
			return nil, err
		}
		o.params = append(o.params, p)
		o.expAvg = append(o.expAvg, ir.NewTensor(ir.Float32, info.Shape...))
		o.expAvgSq = append(o.expAvgSq, ir.NewTensor(ir.Float32, info.Shape...))
	}
	return o, nil
}

// Graph is the optimizer graph, to save as optimizer_model.onnx.
func (o *AdamW) Graph() *ir.Graph { return o.graph }

// Config is the optimizer's hyperparameters.
func (o *AdamW) Config() AdamWConfig { return o.cfg }

// Infos lists the optimized parameters, in the order Update takes them.
func (o *AdamW) Infos() []ParamInfo { return o.infos }

// StepCount is the number of steps taken so far.
func (o *AdamW) StepCount() int64 { return o.step }

// Step applies one AdamW update with learning rate lr. grads must hold a
// gradient for every parameter. On error nothing has changed.
func (o *AdamW) Step(grads map[string]*ir.Tensor, lr float32) error {
	ordered := make([]*ir.Tensor, len(o.infos))
	for i, info := range o.infos {
		ordered[i] = grads[info.Name]
	}
	_, err := o.Update(ordered, lr, UpdateOptions{})
	return err
}

// UpdateOptions say what happens to the gradients before the update.
type UpdateOptions struct {
	// AverageOver divides every gradient by the number of micro-batches
	// summed into it (0 or 1: as they are).
	AverageOver int
	// ClipNorm scales the gradients down to this global L2 norm when
	// their norm (after averaging) exceeds it (0: no clipping).
	ClipNorm float64
}

// Update applies one AdamW step with learning rate lr to every parameter
// from grads (in Infos order), in place, and returns the gradients' global
// norm before clipping. The gradients themselves are not written. On error
// nothing has changed.
func (o *AdamW) Update(grads []*ir.Tensor, lr float32, opt UpdateOptions) (norm float64, err error) {
	if len(grads) != len(o.infos) {
		return 0, fmt.Errorf("adamw step %d: %d gradients for %d parameters", o.step+1, len(grads), len(o.infos))
	}
	for i, info := range o.infos {
		if err := checkTensor(grads[i], info, "gradient of "+info.Name); err != nil {
			return 0, err
		}
	}
	x, norm := o.Transform(grads, opt)
	o.Apply(grads, lr, x)
	return norm, nil
}

// Transform measures the gradients' global norm (after averaging) and
// returns how Apply must scale them.
func (o *AdamW) Transform(grads []*ir.Tensor, opt UpdateOptions) (GradTransform, float64) {
	return ClipTransform(SumSquares(grads, float32(max(opt.AverageOver, 1)), o.Options.Threads), opt)
}

// ClipTransform is the transform for gradients whose (averaged) squares
// sum to sumSquares, and their global norm: wherever the sum was taken
// (the CPU, a device), the same rule.
func ClipTransform(sumSquares float64, opt UpdateOptions) (GradTransform, float64) {
	x := GradTransform{AverageOver: float32(max(opt.AverageOver, 1))}
	norm := math.Sqrt(sumSquares)
	if opt.ClipNorm > 0 && norm > opt.ClipNorm {
		x.Clip, x.ClipScale = true, float32(opt.ClipNorm/(norm+1e-6))
	}
	return x, norm
}

// Apply is the fused in-place update of every parameter and its moments.
func (o *AdamW) Apply(grads []*ir.Tensor, lr float32, x GradTransform) {
	s := o.cfg.StepScalars(lr, o.step+1)
	forChunks(chunks(o.params), o.Options.Threads, func(_ int, c chunk) {
		i := c.tensor
		AdamWInPlace(o.params[i].F32[c.lo:c.hi], grads[i].F32[c.lo:c.hi], o.expAvg[i].F32[c.lo:c.hi], o.expAvgSq[i].F32[c.lo:c.hi],
			s, o.infos[i].Decay && o.cfg.WeightDecay != 0, x)
	})
	o.step++
}

// Advance counts a step taken elsewhere (on a device that holds the
// moments): the step number keys the bias corrections.
func (o *AdamW) Advance() { o.step++ }

// Moments returns the moment tensors in Infos order (the optimizer updates
// them in place; a device backend mirrors them).
func (o *AdamW) Moments() (expAvg, expAvgSq []*ir.Tensor) { return o.expAvg, o.expAvgSq }

// State returns the optimizer state for a checkpoint, keyed by the
// optimizer graph's input names: P.exp_avg and P.exp_avg_sq for each
// parameter P, and "step" (i64 scalar). The tensors are the optimizer's
// own, updated in place by the next step: write them out before it.
func (o *AdamW) State() map[string]*ir.Tensor {
	s := make(map[string]*ir.Tensor, 1+2*len(o.infos))
	s[StepInput] = ir.FromInt64([]int{}, []int64{o.step})
	for i, info := range o.infos {
		s[ExpAvgName(info.Name)] = o.expAvg[i]
		s[ExpAvgSqName(info.Name)] = o.expAvgSq[i]
	}
	return s
}

// LoadState restores what State returned (extra entries, such as the
// parameters themselves when they share a checkpoint, are ignored). It
// checks everything before changing anything, and copies the values into
// the optimizer's own tensors.
func (o *AdamW) LoadState(state map[string]*ir.Tensor) error {
	st := state[StepInput]
	if st == nil {
		return fmt.Errorf("adamw state: no %q entry", StepInput)
	}
	if st.DType != ir.Int64 || st.Len() != 1 || len(st.I64) != 1 {
		return fmt.Errorf("adamw state: %q must be an i64 scalar, got %v%v", StepInput, st.DType, st.Shape)
	}
	if st.I64[0] < 0 {
		return fmt.Errorf("adamw state: negative step count %d", st.I64[0])
	}
	for _, info := range o.infos {
		for _, name := range []string{ExpAvgName(info.Name), ExpAvgSqName(info.Name)} {
			if err := checkTensor(state[name], info, "state "+name); err != nil {
				return fmt.Errorf("adamw state: %v", err)
			}
		}
	}
	for i, info := range o.infos {
		copy(o.expAvg[i].F32, state[ExpAvgName(info.Name)].F32)
		copy(o.expAvgSq[i].F32, state[ExpAvgSqName(info.Name)].F32)
	}
	o.step = st.I64[0]
	return nil
}

// checkTensor verifies that t can stand for parameter info.
func checkTensor(t *ir.Tensor, info ParamInfo, what string) error {
	if t == nil {
		return fmt.Errorf("%s is missing", what)
	}
	if t.DType != ir.Float32 {
		return fmt.Errorf("%s is %v, want f32", what, t.DType)
	}
	if !slices.Equal(t.Shape, info.Shape) {
		return fmt.Errorf("%s has shape %v, want %v", what, t.Shape, info.Shape)
	}
	if err := t.CheckData(); err != nil {
		return fmt.Errorf("%s: %v", what, err)
	}
	return nil
}
