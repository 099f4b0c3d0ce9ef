package artifacts

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"crsc/compiler/ir"
	"crsc/compiler/onnx"
	"crsc/compiler/passes"
	"crsc/training/checkpoint"
	"crsc/training/optim"
)

// File names inside an artifacts folder.
const (
	TrainingFile   = "training_model.onnx"
	EvalFile       = "eval_model.onnx"
	OptimizerFile  = "optimizer_model.onnx"
	CheckpointFile = "checkpoint.safetensors"
	stepKey        = "optimizer.step"
	formatKey      = "format"
	formatValue    = "crsc-training-artifacts-1"
)

// Set is one model's training artifacts.
type Set struct {
	Training  *ir.Graph
	Eval      *ir.Graph
	Optimizer *ir.Graph
	Trained   []passes.ParamGrad // parameters and their gradient outputs in Training
	Compiled  *passes.Training   // what the compiler decided (nil when read back)
	// State is the checkpoint: every trained parameter, its AdamW moments
	// and optimizer.step.
	State map[string]*ir.Tensor
}

// Build derives the artifacts from a loaded forward graph (which it
// consumes): the training graph is g itself, extended in place.
func Build(g *ir.Graph, spec passes.TrainingSpec, opt optim.AdamWConfig) (*Set, error) {
	// Adapters belong to the model, so the eval graph gets them too.
	added, spec, err := passes.ApplyLoRA(g, spec)
	if err != nil {
		return nil, err
	}
	eval := g.Clone()
	compiled, err := passes.Compile(g, spec)
	if err != nil {
		return nil, err
	}
	for _, a := range added {
		compiled.Adapters = append(compiled.Adapters, a.A, a.B)
	}
	trained := compiled.Trained
	if _, err := passes.AttachLoss(eval, spec.Loss); err != nil {
		return nil, err
	}
	disableDropout(eval)
	if err := eval.Verify(); err != nil {
		return nil, fmt.Errorf("eval graph: %v", err)
	}
	var infos []optim.ParamInfo
	for _, pg := range trained {
		p := pg.Param.Init
		infos = append(infos, optim.ParamInfo{Name: pg.Param.Name, DType: p.DType, Shape: p.Shape, Decay: optim.DefaultDecay(pg.Param.Name, p.Shape)})
	}
	optGraph, err := optim.BuildAdamW(infos, opt)
	if err != nil {
		return nil, err
	}
	state := map[string]*ir.Tensor{stepKey: ir.FromInt64(nil, []int64{0})}
	for _, info := range infos {
		state[info.Name] = paramTensor(g, info.Name)
		state[optim.ExpAvgName(info.Name)] = ir.NewTensor(ir.Float32, info.Shape...)
		state[optim.ExpAvgSqName(info.Name)] = ir.NewTensor(ir.Float32, info.Shape...)
	}
	return &Set{Training: g, Eval: eval, Optimizer: optGraph, Trained: trained, Compiled: compiled, State: state}, nil
}

func paramTensor(g *ir.Graph, name string) *ir.Tensor {
	for _, v := range g.Inits {
		if v.Name == name {
			return v.Init
		}
	}
	return nil
}

// disableDropout switches every Dropout to eval mode, as an eval model runs.
func disableDropout(g *ir.Graph) {
	var off *ir.Value
	for _, n := range g.Nodes {
		if n.Op != "Dropout" || n.Domain != "" {
			continue
		}
		if off == nil {
			off = g.AddInit("crsc.training_mode_off", &ir.Tensor{DType: ir.Bool, Bool: []bool{false}})
		}
		for len(n.Inputs) < 3 {
			n.Inputs = append(n.Inputs, nil)
		}
		n.Inputs[2] = off
	}
	g.RemoveDeadNodes()
}

// Write saves the set into dir (created if needed). The checkpoint is
// written atomically.
func (s *Set) Write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for file, g := range map[string]*ir.Graph{TrainingFile: s.Training, EvalFile: s.Eval, OptimizerFile: s.Optimizer} {
		if err := onnx.Save(g, filepath.Join(dir, file)); err != nil {
			return err
		}
	}
	return checkpoint.Save(filepath.Join(dir, CheckpointFile), s.State, map[string]string{formatKey: formatValue})
}

// Read loads a set written by Write and puts the checkpoint's parameter
// values into the training and eval graphs.
func Read(dir string) (*Set, error) {
	s := &Set{}
	for file, dst := range map[string]**ir.Graph{TrainingFile: &s.Training, EvalFile: &s.Eval, OptimizerFile: &s.Optimizer} {
		g, err := onnx.Load(filepath.Join(dir, file))
		if err != nil {
			return nil, err
		}
		*dst = g
	}
	state, meta, err := checkpoint.Load(filepath.Join(dir, CheckpointFile))
	if err != nil {
		return nil, err
	}
	if meta[formatKey] != formatValue {
		return nil, fmt.Errorf("%s: not a crsc training checkpoint (format %q)", filepath.Join(dir, CheckpointFile), meta[formatKey])
	}
	s.State = state
	// Trained parameters are the ones the training graph has gradients for.
	for _, out := range s.Training.Outputs {
		name, ok := cutSuffix(out.Name, passes.GradSuffix)
		if !ok {
			continue
		}
		p := s.Training.Value(name)
		if p == nil || p.Init == nil {
			return nil, fmt.Errorf("%s: gradient output %q has no parameter %q", TrainingFile, out.Name, name)
		}
		s.Trained = append(s.Trained, passes.ParamGrad{Param: p, Grad: out})
	}
	var names []string
	for _, pg := range s.Trained {
		names = append(names, pg.Param.Name)
	}
	sort.Strings(names)
	for _, name := range names {
		t, ok := state[name]
		if !ok {
			return nil, fmt.Errorf("%s: no value for parameter %q", CheckpointFile, name)
		}
		for _, g := range []*ir.Graph{s.Training, s.Eval} {
			if v := g.Value(name); v != nil && v.Init != nil {
				if fmt.Sprint(v.Init.Shape) != fmt.Sprint(t.Shape) || v.Init.DType != t.DType {
					return nil, fmt.Errorf("%s: parameter %q is %v%v, the model wants %v%v", CheckpointFile, name, t.DType, t.Shape, v.Init.DType, v.Init.Shape)
				}
				v.Init = t
			}
		}
	}
	return s, nil
}

func cutSuffix(s, suffix string) (string, bool) {
	if len(s) > len(suffix) && s[len(s)-len(suffix):] == suffix {
		return s[:len(s)-len(suffix)], true
	}
	return s, false
}
