package optim

import (
	"fmt"

	"crsc/ir"
	"crsc/runtime"
)

// AdamW runs the BuildAdamW graph once per training step. It owns the
// moment estimates and the step count; the parameters stay owned by the
// caller (typically the training graph's initializers) and are updated in
// place.
type AdamW struct {
	graph  *ir.Graph
	infos  []ParamInfo
	params map[string]*ir.Tensor
	// Moments by parameter name. Step replaces these tensors with fresh
	// ones rather than writing into them, so a tensor handed out by State
	// never changes afterwards.
	expAvg, expAvgSq map[string]*ir.Tensor
	step             int64
	// Options are passed to runtime.Run (thread count).
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
	o := &AdamW{
		graph:    g,
		infos:    append([]ParamInfo(nil), infos...),
		params:   map[string]*ir.Tensor{},
		expAvg:   map[string]*ir.Tensor{},
		expAvgSq: map[string]*ir.Tensor{},
	}
	for _, info := range infos {
		p := params[info.Name]
		if err := checkTensor(p, info, "parameter "+info.Name); err != nil {
			return nil, err
		}
		o.params[info.Name] = p
		o.expAvg[info.Name] = ir.NewTensor(ir.Float32, info.Shape...)
		o.expAvgSq[info.Name] = ir.NewTensor(ir.Float32, info.Shape...)
	}
	return o, nil
}

// Graph is the optimizer graph, to save as optimizer_model.onnx.
func (o *AdamW) Graph() *ir.Graph { return o.graph }

// StepCount is the number of steps taken so far.
func (o *AdamW) StepCount() int64 { return o.step }

// Step applies one AdamW update with learning rate lr. grads must hold a
// gradient for every parameter. On error nothing has changed: parameters,
// moments and step count are written only after the whole graph has run.
func (o *AdamW) Step(grads map[string]*ir.Tensor, lr float32) error {
	inputs := make(map[string]*ir.Tensor, 2+4*len(o.infos))
	inputs[LearningRateInput] = ir.ScalarF32(lr)
	inputs[StepInput] = ir.FromInt64([]int{}, []int64{o.step + 1})
	for _, info := range o.infos {
		g := grads[info.Name]
		if err := checkTensor(g, info, "gradient of "+info.Name); err != nil {
			return err
		}
		inputs[info.Name] = o.params[info.Name]
		inputs[GradName(info.Name)] = g
		inputs[ExpAvgName(info.Name)] = o.expAvg[info.Name]
		inputs[ExpAvgSqName(info.Name)] = o.expAvgSq[info.Name]
	}
	out, err := runtime.Run(o.graph, inputs, o.Options)
	if err != nil {
		return fmt.Errorf("adamw step %d: %v", o.step+1, err)
	}
	// Check every output before writing any, so a failure cannot leave
	// half the parameters updated.
	for _, info := range o.infos {
		for _, name := range []string{UpdatedName(info.Name), UpdatedName(ExpAvgName(info.Name)), UpdatedName(ExpAvgSqName(info.Name))} {
			if err := checkTensor(out[name], info, "optimizer output "+name); err != nil {
				return fmt.Errorf("adamw step %d: %v", o.step+1, err)
			}
		}
	}
	for _, info := range o.infos {
		// Copy into the caller's slice: the training graph's initializers
		// share it and must see the new values.
		copy(o.params[info.Name].F32, out[UpdatedName(info.Name)].F32)
		o.expAvg[info.Name] = out[UpdatedName(ExpAvgName(info.Name))]
		o.expAvgSq[info.Name] = out[UpdatedName(ExpAvgSqName(info.Name))]
	}
	o.step++
	return nil
}

// State returns the optimizer state for a checkpoint, keyed by the
// optimizer graph's input names: P.exp_avg and P.exp_avg_sq for each
// parameter P, and "step" (i64 scalar). The tensors are not copied; the
// optimizer never writes into them later, and callers must not either.
func (o *AdamW) State() map[string]*ir.Tensor {
	s := make(map[string]*ir.Tensor, 1+2*len(o.infos))
	s[StepInput] = ir.FromInt64([]int{}, []int64{o.step})
	for _, info := range o.infos {
		s[ExpAvgName(info.Name)] = o.expAvg[info.Name]
		s[ExpAvgSqName(info.Name)] = o.expAvgSq[info.Name]
	}
	return s
}

// LoadState restores what State returned (extra entries, such as the
// parameters themselves when they share a checkpoint, are ignored). It
// checks everything before changing anything, and copies the tensors.
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
	for _, info := range o.infos {
		o.expAvg[info.Name] = state[ExpAvgName(info.Name)].Clone()
		o.expAvgSq[info.Name] = state[ExpAvgSqName(info.Name)].Clone()
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
	if !sameShape(t.Shape, info.Shape) {
		return fmt.Errorf("%s has shape %v, want %v", what, t.Shape, info.Shape)
	}
	if err := t.CheckData(); err != nil {
		return fmt.Errorf("%s: %v", what, err)
	}
	return nil
}

func sameShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
