package planning

import (
	"fmt"
	"strings"

	"crsc/compiler/ir"
	"crsc/compiler/memplan"
	"crsc/compiler/models"
	"crsc/compiler/onnx"
	"crsc/compiler/passes"
	"crsc/runtime"
)

// Request says what to plan.
type Request struct {
	Model   string // an .onnx file, or
	Arch    string // a preset (models.PresetNames)
	Batch   int
	Seq     int     // source length
	TgtLen  int     // target length of encoder-decoder models (T5)
	Dropout float32 // presets: training-mode Dropout ratio (fine-tuning uses 0.1)
	Spec    passes.TrainingSpec
}

// Result is one planned training step. Every byte count is for the step's
// whole working set on the device: weights, optimizer state, inputs and
// the arena the plan lays all node outputs (activations, gradients) in.
type Result struct {
	ParamsBytes          int64 `json:"params_bytes"`           // every weight of the model (trained or frozen)
	GradsBytes           int64 `json:"grads_bytes"`            // gradients of the trained parameters (inside the arena)
	OptimizerBytes       int64 `json:"optimizer_bytes"`        // AdamW's two moments per trained parameter
	SavedActivationBytes int64 `json:"saved_activation_bytes"` // forward values the backward pass reads
	ArenaBytes           int64 `json:"arena_bytes"`            // planned arena: all node outputs
	InputsBytes          int64 `json:"inputs_bytes"`
	PlannedPeakBytes     int64 `json:"planned_peak_bytes"` // params + constants + optimizer + inputs + arena
	TrainedParams        int64 `json:"trained_params"`

	Plan     *memplan.MemPlan `json:"-"`
	Training *passes.Training `json:"-"`
}

// Plan compiles and plans one training step.
func Plan(req Request) (*Result, error) {
	g, err := load(req)
	if err != nil {
		return nil, err
	}
	spec := req.Spec
	if spec.Loss.Kind == "" {
		if spec.Loss, err = passes.DefaultLoss(g); err != nil {
			return nil, fmt.Errorf("%s: %v", req.Model, err)
		}
	}
	t, err := passes.Compile(g, spec)
	if err != nil {
		return nil, err
	}
	p, err := memplan.Plan(g, memplan.Options{ForwardEnd: memplan.ForwardEnd(g)})
	if err != nil {
		return nil, err
	}
	r := &Result{Plan: p, Training: t, SavedActivationBytes: p.SavedActivationBytes, ArenaBytes: p.PlannedPeak, InputsBytes: p.InputsBytes}
	for _, v := range g.Inits {
		if v.Init.DType.IsFloat() && v.Init.Len() > 1 && !v.Folded {
			r.ParamsBytes += v.Init.Bytes()
		}
	}
	for _, pg := range t.Trained {
		r.GradsBytes += pg.Param.Init.Bytes()
		r.TrainedParams += int64(pg.Param.Init.Len())
	}
	r.OptimizerBytes = 2 * 4 * r.TrainedParams // AdamW: exp_avg and exp_avg_sq in float32
	r.PlannedPeakBytes = r.ParamsBytes + p.ConstBytes + r.OptimizerBytes + r.InputsBytes + r.ArenaBytes
	return r, nil
}

// load builds the forward graph (abstract weights for presets) and binds
// every input to the request's shapes.
func load(req Request) (*ir.Graph, error) {
	if req.Batch < 1 || req.Seq < 1 {
		return nil, fmt.Errorf("--batch %d --seq %d: both must be at least 1", req.Batch, req.Seq)
	}
	var g *ir.Graph
	var err error
	switch {
	case req.Model != "" && req.Arch != "":
		return nil, fmt.Errorf("give a model file or --arch, not both")
	case req.Model != "":
		g, err = onnx.Load(req.Model)
	case req.Arch != "":
		g, err = models.Preset(req.Arch, models.BuildOptions{Abstract: true, Dropout: req.Dropout})
	default:
		return nil, fmt.Errorf("give a model file or --arch (%s)", strings.Join(models.PresetNames(), ", "))
	}
	if err != nil {
		return nil, err
	}
	tgt := req.TgtLen
	if tgt < 1 {
		tgt = req.Seq
	}
	shapes := map[string]ir.Shape{}
	for _, in := range g.Inputs {
		if !in.HasShape || len(in.Shape) != 2 {
			continue
		}
		switch in.Name {
		case "decoder_input_ids", "labels", "decoder_attention_mask":
			shapes[in.Name] = ir.StaticShape(req.Batch, tgt)
		default:
			shapes[in.Name] = ir.StaticShape(req.Batch, req.Seq)
		}
	}
	cfg := &passes.Config{Shapes: shapes, Supports: runtime.CPU(runtime.Options{}).Supports}
	if err := passes.Run(g, passes.Load, cfg); err != nil {
		return nil, err
	}
	return g, nil
}

// MaxBatch finds the largest batch whose planned peak fits budget bytes
// (0 when not even batch 1 fits), by doubling then bisecting.
func MaxBatch(req Request, budget int64) (int, *Result, error) {
	fits := func(b int) (*Result, bool, error) {
		r := req
		r.Batch = b
		res, err := Plan(r)
		if err != nil {
			return nil, false, err
		}
		return res, res.PlannedPeakBytes <= budget, nil
	}
	best, bestRes := 0, (*Result)(nil)
	lo, hi := 0, 1
	for {
		res, ok, err := fits(hi)
		if err != nil {
			return 0, nil, err
		}
		if !ok {
			break
		}
		best, bestRes, lo = hi, res, hi
		if hi >= 1<<16 {
			return best, bestRes, nil
		}
		hi *= 2
	}
	for hi-lo > 1 {
		mid := (lo + hi) / 2
		res, ok, err := fits(mid)
		if err != nil {
			return 0, nil, err
		}
		if ok {
			best, bestRes, lo = mid, res, mid
		} else {
			hi = mid
		}
	}
	return best, bestRes, nil
}

// ParseBytes reads sizes like 80GiB, 512MiB, 1.5GB or a plain byte count.
func ParseBytes(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   float64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3}, {"G", 1 << 30}, {"M", 1 << 20}, {"B", 1}}
	t := strings.TrimSpace(s)
	mult := 1.0
	for _, u := range units {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.mult
			break
		}
	}
	var v float64
	if _, err := fmt.Sscanf(t, "%g", &v); err != nil || v <= 0 {
		return 0, fmt.Errorf("size %q: want a number with an optional unit (80GiB, 512MiB)", s)
	}
	return int64(v * mult), nil
}
