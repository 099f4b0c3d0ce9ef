package selftest

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"time"

	"crsc/cuda"
	"crsc/ir"
	"crsc/memplan"
	"crsc/models"
	"crsc/passes"
	"crsc/runtime"
	"crsc/runtime/gpu"
)

// Result is one check.
type Result struct {
	Name   string
	Err    error
	Detail string // what passed, e.g. the device description or a max error
	Took   time.Duration
}

// Run runs every check on dev and reports each as it finishes. It returns
// the number that passed and failed.
func Run(dev cuda.Device, report func(Result)) (passed, failed int) {
	do := func(name string, check func() (string, error)) {
		start := time.Now()
		detail, err := check()
		r := Result{Name: name, Err: err, Detail: detail, Took: time.Since(start)}
		if err != nil {
			failed++
		} else {
			passed++
		}
		report(r)
	}
	do("device", func() (string, error) {
		free, total, err := dev.MemInfo()
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("%s; %.1f of %.1f GiB free; %v", dev.Info(), gib(free), gib(total), dev.Info().Libraries), nil
	})
	for _, src := range gpu.Sources() {
		do("compile "+src.Name, func() (string, error) {
			_, err := dev.Compile(src.Name, src.Code)
			return "", err
		})
	}
	for _, c := range append(gpu.Cases(), gemmCases()...) {
		do("kernel "+c.Name, func() (string, error) { return "", gpu.Check(dev, c) })
	}
	for _, m := range []string{"bert", "t5"} {
		do("training step, tiny "+m, func() (string, error) { return trainingStep(dev, m) })
	}
	return passed, failed
}

func gib(b int64) float64 { return float64(b) / (1 << 30) }

// gemmCases are MatMuls at BERT-base shapes (8×128 tokens, hidden 768,
// FFN 3072, 12 heads) checked through the backend, i.e. through cuBLAS.
func gemmCases() []gpu.Case {
	r := rand.New(rand.NewPCG(1, 2))
	rnd := func(shape ...int) *ir.Tensor {
		t := ir.NewTensor(ir.Float32, shape...)
		for i := range t.F32 {
			t.F32[i] = float32(r.NormFloat64())
		}
		return t
	}
	mm := func(name string, attrs ir.Attrs, domain string, a, b *ir.Tensor) gpu.Case {
		n := &ir.Node{Name: "gemm_" + name, Op: "MatMul", Domain: domain, Attrs: attrs}
		n.Inputs = []*ir.Value{{Name: "a"}, {Name: "b"}}
		n.Outputs = []*ir.Value{{Name: "c", Producer: n}}
		// Sums of 768–3072 products of unit normals: a float32 rounding
		// difference of order 1e-5 relative is expected between libraries.
		return gpu.Case{Name: "GEMM " + name, Node: n, Inputs: []*ir.Tensor{a, b}, Tol: 2e-3}
	}
	return []gpu.Case{
		mm("1024×768×768 (Q/K/V/O)", nil, "", rnd(1024, 768), rnd(768, 768)),
		mm("1024×768×3072 (FFN in)", nil, "", rnd(1024, 768), rnd(768, 3072)),
		mm("1024×3072×768 (FFN out)", nil, "", rnd(1024, 3072), rnd(3072, 768)),
		mm("768×1024ᵀ·1024×768 (dW)", ir.Attrs{"transA": ir.IntAttr(1)}, passes.CrscDomain, rnd(1024, 768), rnd(1024, 768)),
		mm("96×128×64·64×128 (QKᵀ, batched)", nil, "", rnd(8, 12, 128, 64), rnd(8, 12, 64, 128)),
	}
}

// tinyBert and tinyT5 are small enough to check in seconds on the
// emulator, large enough to sample (k < N) in every sampled layer.
var (
	tinyBert = models.BertConfig{Vocab: 120, MaxPositions: 64, TypeVocab: 2, Hidden: 32, Layers: 2, Heads: 2, FFN: 64, Labels: 2}
	tinyT5   = models.T5Config{Vocab: 96, DModel: 32, DKV: 8, DFF: 64, Layers: 2, DecoderLayers: 2, Heads: 4, Buckets: 8, MaxDistance: 16, FFN: "relu"}
)

// trainingStep compiles one training step of a tiny model with Dropout
// 0.1, WTA-CRS at keep 0.3 on linear layers and attention, and the memory
// rewrites; runs it on the CPU and on dev (with the memory plan's arena)
// at the same seed and step; and compares the loss and every gradient.
func trainingStep(dev cuda.Device, model string) (string, error) {
	const batch, seq, tgt = 4, 16, 4
	opts := models.BuildOptions{Seed: 5, Dropout: 0.1}
	var g *ir.Graph
	var err error
	shapes := map[string]ir.Shape{"input_ids": ir.StaticShape(batch, seq), "attention_mask": ir.StaticShape(batch, seq)}
	spec := passes.TrainingSpec{Memory: true, Sampling: passes.SamplingSpec{Estimator: "wta", Keep: 0.3, MinRows: 4, GNorm: "none", Layers: "all", Attention: true}}
	r := rand.New(rand.NewPCG(3, 4))
	ids := func(rows, cols, vocab int) *ir.Tensor {
		t := ir.NewTensor(ir.Int64, rows, cols)
		for i := range t.I64 {
			t.I64[i] = 1 + r.Int64N(int64(vocab-1))
		}
		return t
	}
	ones := ir.NewTensor(ir.Int64, batch, seq)
	for i := range ones.I64 {
		ones.I64[i] = 1
	}
	feeds := map[string]*ir.Tensor{"input_ids": ids(batch, seq, 90), "attention_mask": ones}
	switch model {
	case "bert":
		g, err = models.BuildBertWith(tinyBert, opts)
		shapes["token_type_ids"] = ir.StaticShape(batch, seq)
		feeds["token_type_ids"] = ir.NewTensor(ir.Int64, batch, seq)
		feeds["labels"] = ir.FromInt64([]int{batch}, []int64{0, 1, 1, 0})
		spec.Loss = passes.LossSpec{Kind: passes.LossCrossEntropy, Output: "logits"}
	default:
		g, err = models.BuildT5(tinyT5, opts)
		shapes["decoder_input_ids"], shapes["labels"] = ir.StaticShape(batch, tgt), ir.StaticShape(batch, tgt)
		feeds["decoder_input_ids"], feeds["labels"] = ids(batch, tgt, 90), ids(batch, tgt, 90)
	}
	if err != nil {
		return "", err
	}
	if err := passes.Run(g, passes.Load, &passes.Config{Shapes: shapes, Supports: runtime.CPU(runtime.Options{}).Supports}); err != nil {
		return "", err
	}
	if _, err := passes.Compile(g, spec); err != nil {
		return "", err
	}
	plan, err := memplan.Plan(g, memplan.Options{ForwardEnd: memplan.ForwardEnd(g)})
	if err != nil {
		return "", err
	}
	opt := runtime.Options{Seed: 11, Step: 2}
	want, err := runtime.Run(g, feeds, opt)
	if err != nil {
		return "", fmt.Errorf("cpu: %w", err)
	}
	b, err := gpu.New(dev, gpu.Options{Seed: opt.Seed, Step: opt.Step, Plan: plan})
	if err != nil {
		return "", err
	}
	defer b.Close()
	got, err := runtime.Execute(g, b, feeds, opt)
	if err != nil {
		return "", fmt.Errorf("device: %w", err)
	}
	worst, at := compareOutputs(got, want)
	st := b.Stats()
	detail := fmt.Sprintf("%d nodes, %d outputs, max relative error %.2g (%s); arena %.1f MiB; CPU fallbacks %v",
		len(g.Nodes), len(want), worst, at, float64(st.ArenaBytes)/(1<<20), st.Fallbacks)
	// Every gradient passes through a dozen GEMMs and reductions whose
	// summation order differs between backends; 1e-3 of the value's scale
	// is far below what a wrong kernel or a differently sampled row gives.
	if worst > 1e-3 || math.IsNaN(worst) {
		return detail, fmt.Errorf("%s differs from the CPU: relative error %.3g", at, worst)
	}
	return detail, nil
}

// compareOutputs returns the largest error of got against want over all
// outputs, each element's error relative to the output's largest value.
func compareOutputs(got, want map[string]*ir.Tensor) (float64, string) {
	names := make([]string, 0, len(want))
	for n := range want {
		names = append(names, n)
	}
	sort.Strings(names)
	worst, at := 0.0, ""
	for _, n := range names {
		w, g := want[n], got[n]
		if g == nil || len(g.F32) != len(w.F32) {
			return math.Inf(1), n + " (missing or wrong size)"
		}
		scale := 1e-6
		for _, v := range w.F32 {
			scale = max(scale, math.Abs(float64(v)))
		}
		for i := range w.F32 {
			e := math.Abs(float64(g.F32[i])-float64(w.F32[i])) / scale
			if e > worst || math.IsNaN(e) {
				worst, at = e, fmt.Sprintf("%s[%d]", n, i)
			}
		}
	}
	return worst, at
}
