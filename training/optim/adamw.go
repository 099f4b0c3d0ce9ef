package optim

import (
	"fmt"
	"strings"

	"crsc/compiler/ir"
)

// Opset is the ai.onnx opset of the optimizer graph.
const Opset = 17

// Names of the graph inputs shared by every parameter.
const (
	LearningRateInput = "learning_rate" // f32 scalar
	StepInput         = "step"          // i64 scalar, 1 for the first step
)

// ParamInfo describes one trained parameter.
type ParamInfo struct {
	Name  string
	DType ir.DType
	Shape []int
	// Decay applies weight decay to the parameter; see DefaultDecay.
	Decay bool
}

// AdamWConfig holds the AdamW hyperparameters other than the learning rate,
// which changes from step to step and so is a graph input.
type AdamWConfig struct {
	Beta1, Beta2, Eps, WeightDecay float32
}

// DefaultAdamWConfig returns PyTorch's AdamW defaults except for weight
// decay, which is the usual fine-tuning value 0.01.
func DefaultAdamWConfig() AdamWConfig {
	return AdamWConfig{Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.01}
}

// DefaultDecay is the usual BERT/T5 fine-tuning rule: biases and
// normalization weights are not decayed (shrinking them toward zero only
// hurts), nor is any 1-D tensor, since those are biases or scales too.
func DefaultDecay(name string, shape []int) bool {
	if len(shape) <= 1 {
		return false
	}
	for _, s := range []string{"bias", "LayerNorm", "layer_norm", "norm"} {
		if strings.Contains(name, s) {
			return false
		}
	}
	return true
}

// GradName is the optimizer-graph input holding parameter p's gradient.
func GradName(p string) string { return p + "_grad" }

// ExpAvgName is the input holding p's first moment (running mean of g).
func ExpAvgName(p string) string { return p + ".exp_avg" }

// ExpAvgSqName is the input holding p's second moment (running mean of g²).
func ExpAvgSqName(p string) string { return p + ".exp_avg_sq" }

// UpdatedName is the graph output carrying the new value of input name
// (a parameter or one of its moments).
func UpdatedName(name string) string { return name + ".updated" }

func (c AdamWConfig) validate() error {
	switch {
	case !(c.Beta1 >= 0 && c.Beta1 < 1):
		return fmt.Errorf("adamw: beta1 %g is outside [0, 1)", c.Beta1)
	case !(c.Beta2 >= 0 && c.Beta2 < 1):
		return fmt.Errorf("adamw: beta2 %g is outside [0, 1)", c.Beta2)
	case !(c.Eps >= 0):
		return fmt.Errorf("adamw: eps %g is negative", c.Eps)
	case !(c.WeightDecay >= 0):
		return fmt.Errorf("adamw: weight decay %g is negative", c.WeightDecay)
	}
	return nil
}

func validateParams(params []ParamInfo) error {
	if len(params) == 0 {
		return fmt.Errorf("adamw: no parameters to optimize")
	}
	// Every graph input and output name must be free, or the graph would
	// silently rename one and the caller would feed the wrong tensor.
	names := map[string]string{LearningRateInput: "the learning rate input", StepInput: "the step input"}
	for _, p := range params {
		if p.Name == "" {
			return fmt.Errorf("adamw: a parameter has an empty name")
		}
		if p.DType != ir.Float32 {
			return fmt.Errorf("adamw: parameter %q is %v; only f32 parameters are supported", p.Name, p.DType)
		}
		for _, d := range p.Shape {
			if d < 0 {
				return fmt.Errorf("adamw: parameter %q has negative dim in shape %v", p.Name, p.Shape)
			}
		}
		for _, n := range []string{p.Name, GradName(p.Name), ExpAvgName(p.Name), ExpAvgSqName(p.Name),
			UpdatedName(p.Name), UpdatedName(ExpAvgName(p.Name)), UpdatedName(ExpAvgSqName(p.Name))} {
			if prev, dup := names[n]; dup {
				return fmt.Errorf("adamw: name %q of parameter %q is already taken by %s", n, p.Name, prev)
			}
			names[n] = "parameter " + p.Name
		}
	}
	return nil
}

// BuildAdamW builds one AdamW step (PyTorch semantics, decoupled weight
// decay) as an opset-17 graph.
//
// Inputs: learning_rate (f32 scalar), step (i64 scalar, 1-based), then for
// each parameter P in order: P, P_grad, P.exp_avg, P.exp_avg_sq.
// Outputs, for each P in order: P.updated, P.exp_avg.updated,
// P.exp_avg_sq.updated.
func BuildAdamW(params []ParamInfo, cfg AdamWConfig) (*ir.Graph, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if err := validateParams(params); err != nil {
		return nil, err
	}
	b := &builder{g: ir.NewGraph("adamw_optimizer", Opset)}
	g := b.g
	g.Meta["doc"] = fmt.Sprintf("AdamW step: beta1=%g beta2=%g eps=%g weight_decay=%g", cfg.Beta1, cfg.Beta2, cfg.Eps, cfg.WeightDecay)

	// Inputs first, then the output names are reserved, so that no
	// generated node or value name can take one of them.
	lr := g.AddInput(LearningRateInput, ir.Float32, ir.Shape{})
	step := g.AddInput(StepInput, ir.Int64, ir.Shape{})
	pvs := b.paramInputs(params)
	if err := b.reserveOutputs(pvs); err != nil {
		return nil, err
	}
	sc := b.stepScalars(cfg, lr, step, anyDecayed(params, cfg))
	for _, pv := range pvs {
		b.update(pv, sc)
	}
	if err := g.InferShapes(); err != nil {
		return nil, fmt.Errorf("adamw: %v", err)
	}
	if err := g.Verify(); err != nil {
		return nil, fmt.Errorf("adamw: built an invalid graph: %v", err)
	}
	return g, nil
}

// paramValues holds one parameter's graph inputs and the names reserved
// for its outputs.
type paramValues struct {
	info             ParamInfo
	p, grad, m, v    *ir.Value
	pOut, mOut, vOut string
}

// paramInputs adds the four inputs of each parameter, in the documented order.
func (b *builder) paramInputs(params []ParamInfo) []paramValues {
	g := b.g
	pvs := make([]paramValues, len(params))
	for i, info := range params {
		s := ir.StaticShape(info.Shape...)
		pvs[i] = paramValues{
			info: info,
			p:    g.AddInput(info.Name, ir.Float32, s),
			grad: g.AddInput(GradName(info.Name), ir.Float32, s.Clone()),
			m:    g.AddInput(ExpAvgName(info.Name), ir.Float32, s.Clone()),
			v:    g.AddInput(ExpAvgSqName(info.Name), ir.Float32, s.Clone()),
		}
	}
	return pvs
}

// reserveOutputs claims the three output names of each parameter before any
// node exists, so the caller finds its tensors under exactly these names.
func (b *builder) reserveOutputs(pvs []paramValues) error {
	for i := range pvs {
		name := pvs[i].info.Name
		var err error
		if pvs[i].pOut, err = b.reserve(UpdatedName(name)); err != nil {
			return err
		}
		if pvs[i].mOut, err = b.reserve(UpdatedName(ExpAvgName(name))); err != nil {
			return err
		}
		if pvs[i].vOut, err = b.reserve(UpdatedName(ExpAvgSqName(name))); err != nil {
			return err
		}
	}
	return nil
}

// anyDecayed reports whether some parameter gets weight decay, so the
// decay factor is built only when something reads it.
func anyDecayed(params []ParamInfo, cfg AdamWConfig) bool {
	for _, p := range params {
		if p.Decay && cfg.WeightDecay != 0 {
			return true
		}
	}
	return false
}

// adamScalars are the scalars every parameter's update reads.
type adamScalars struct {
	stepSize, bc2Sqrt                               *ir.Value
	decayFactor                                     *ir.Value // nil when no parameter is decayed
	beta1, oneMinusBeta1, beta2, oneMinusBeta2, eps *ir.Value
}

// stepScalars builds the step-dependent scalars, shared by all parameters.
// They are computed in float64, as PyTorch does on the host: 1 − β2^t for
// t = 1 is about 0.001, and forming it in float32 would cost four
// significant digits of the bias correction to cancellation.
func (b *builder) stepScalars(cfg AdamWConfig, lr, step *ir.Value, decay bool) adamScalars {
	toF64 := ir.Attrs{"to": ir.IntAttr(ir.DTypeToONNX(ir.Float64))}
	toF32 := ir.Attrs{"to": ir.IntAttr(ir.DTypeToONNX(ir.Float32))}
	one64 := b.g.AddInit("adamw.one_f64", &ir.Tensor{DType: ir.Float64, Shape: []int{}, F64: []float64{1}})
	t64 := b.op("Cast", "adamw.step_f64", toF64, step)
	lr64 := b.op("Cast", "adamw.lr_f64", toF64, lr)
	bc1 := b.op("Sub", "adamw.bias_correction1", nil, one64,
		b.op("Pow", "adamw.beta1_pow", nil, b.const64("adamw.beta1_f64", cfg.Beta1), t64))
	bc2 := b.op("Sub", "adamw.bias_correction2", nil, one64,
		b.op("Pow", "adamw.beta2_pow", nil, b.const64("adamw.beta2_f64", cfg.Beta2), t64))
	var sc adamScalars
	// lr/(1−β1^t) folds the first-moment correction into the step size;
	// √(1−β2^t) corrects the second moment after its square root. This is
	// m̂/(√v̂ + eps) rearranged the way PyTorch's AdamW computes it.
	sc.stepSize = b.op("Cast", "adamw.step_size", toF32, b.op("Div", "adamw.step_size_f64", nil, lr64, bc1))
	sc.bc2Sqrt = b.op("Cast", "adamw.bias_correction2_sqrt", toF32, b.op("Sqrt", "adamw.bias_correction2_sqrt_f64", nil, bc2))
	if decay {
		// p·(1 − lr·wd) rather than p − lr·wd·p: one multiply per
		// element, and the same rounding as PyTorch.
		sc.decayFactor = b.op("Cast", "adamw.decay_factor", toF32,
			b.op("Sub", "adamw.decay_factor_f64", nil, one64,
				b.op("Mul", "adamw.lr_wd", nil, lr64, b.const64("adamw.weight_decay_f64", cfg.WeightDecay))))
	}
	sc.beta1 = b.const32("adamw.beta1", cfg.Beta1)
	sc.oneMinusBeta1 = b.const32("adamw.one_minus_beta1", 1-cfg.Beta1)
	sc.beta2 = b.const32("adamw.beta2", cfg.Beta2)
	sc.oneMinusBeta2 = b.const32("adamw.one_minus_beta2", 1-cfg.Beta2)
	sc.eps = b.const32("adamw.eps", cfg.Eps)
	return sc
}

// update builds one parameter's step and names its three results as the
// reserved outputs: m ← β1·m + (1−β1)·g, v ← β2·v + (1−β2)·g²,
// p ← p·decay − stepSize · m / (√v / √(1−β2^t) + eps).
func (b *builder) update(pv paramValues, sc adamScalars) {
	n := pv.info.Name + "/"
	p := pv.p
	if pv.info.Decay && sc.decayFactor != nil {
		p = b.op("Mul", n+"decayed", nil, p, sc.decayFactor)
	}
	m := b.op("Add", n+"exp_avg_new", nil,
		b.op("Mul", n+"exp_avg_scaled", nil, pv.m, sc.beta1),
		b.op("Mul", n+"grad_scaled", nil, pv.grad, sc.oneMinusBeta1))
	v := b.op("Add", n+"exp_avg_sq_new", nil,
		b.op("Mul", n+"exp_avg_sq_scaled", nil, pv.v, sc.beta2),
		b.op("Mul", n+"grad_sq_scaled", nil, b.op("Mul", n+"grad_sq", nil, pv.grad, pv.grad), sc.oneMinusBeta2))
	denom := b.op("Add", n+"denom", nil,
		b.op("Div", n+"sqrt_v_hat", nil, b.op("Sqrt", n+"sqrt_v", nil, v), sc.bc2Sqrt), sc.eps)
	update := b.op("Mul", n+"update", nil, b.op("Div", n+"m_over_denom", nil, m, denom), sc.stepSize)
	newP := b.op("Sub", n+"param_new", nil, p, update)
	for _, o := range []struct {
		v    *ir.Value
		name string
	}{{newP, pv.pOut}, {m, pv.mOut}, {v, pv.vOut}} {
		o.v.Name = o.name
		b.g.Outputs = append(b.g.Outputs, o.v)
	}
}

// builder keeps the graph-construction calls short.
type builder struct{ g *ir.Graph }

// reserve claims an exact value name, failing if the graph already uses it.
func (b *builder) reserve(name string) (string, error) {
	if got := b.g.UniqueName(name); got != name {
		return "", fmt.Errorf("adamw: output name %q is already used in the graph", name)
	}
	return name, nil
}

// op adds a single-output node and returns its output.
func (b *builder) op(op, name string, attrs ir.Attrs, inputs ...*ir.Value) *ir.Value {
	return b.g.AddNode(op, name, inputs, 1, attrs).Outputs[0]
}

func (b *builder) const32(name string, v float32) *ir.Value {
	return b.g.AddInit(name, ir.ScalarF32(v))
}

// const64 widens a float32 hyperparameter exactly, so the float64 scalar
// path and a float32 reading of the same config agree.
func (b *builder) const64(name string, v float32) *ir.Value {
	return b.g.AddInit(name, &ir.Tensor{DType: ir.Float64, Shape: []int{}, F64: []float64{float64(v)}})
}
