package selftest

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"sync"
	"time"

	"crsc/compiler/ir"
	"crsc/compiler/memplan"
	"crsc/compiler/models"
	"crsc/compiler/passes"
	"crsc/runtime"
	"crsc/runtime/cuda"
	"crsc/runtime/gpu"
)

// Result is one check.
type Result struct {
	Name   string
	Err    error
	Detail string // what passed, e.g. the device description or a max error
	Took   time.Duration
}

// Check is one line of the self-test: it runs on dev and returns what
// passed (a detail, may be empty) or why not.
type Check struct {
	Name string
	Run  func(dev cuda.Device) (detail string, err error)
}

// Checks lists every check of the self-test, in order: the device, the
// compilation of every kernel file, every kernel case and the BERT-base
// GEMMs, and a training step of a tiny BERT and a tiny T5.
func Checks() []Check {
	checks := []Check{{"device", func(dev cuda.Device) (string, error) {
		free, total, err := dev.MemInfo()
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("%s; %.1f of %.1f GiB free; %v", dev.Info(), gib(free), gib(total), dev.Info().Libraries), nil
	}}}
	for _, src := range gpu.Sources() {
		checks = append(checks, Check{"compile " + src.Name, func(dev cuda.Device) (string, error) {
			_, err := dev.Compile(src.Name, src.Code)
			return "", err
		}})
	}
	for _, c := range append(gpu.Cases(), gemmCases()...) {
		checks = append(checks, Check{"kernel " + c.Name, func(dev cuda.Device) (string, error) { return "", gpu.Check(dev, c) }})
	}
	for _, m := range []string{"bert", "t5"} {
		checks = append(checks, Check{"training step, tiny " + m, func(dev cuda.Device) (string, error) { return trainingStep(dev, m) }})
	}
	return checks
}

// Run runs every check on dev and reports each as it finishes. It returns
// the number that passed and failed.
//
// Kernels run asynchronously on a GPU, so a fault shows at whatever call
// comes next, and a fault like an illegal address poisons the context:
// every later call fails with it. So Run waits for the device after every
// launch, GEMM and check, names the kernel that faulted, and stops at the
// first such error with one more failed line saying how many checks did
// not run.
func Run(dev cuda.Device, report func(Result)) (passed, failed int) {
	return run(dev, Checks(), report)
}

func run(dev cuda.Device, checks []Check, report func(Result)) (passed, failed int) {
	w := &watched{Device: dev}
	for i, c := range checks {
		start := time.Now()
		detail, err := c.Run(w)
		// Work the check queued but did not wait for fails here, at its check.
		if serr := w.Synchronize(); serr != nil {
			if err == nil {
				err = fmt.Errorf("synchronize after the check: %w", serr)
			} else if cuda.IsSticky(serr) && !cuda.IsSticky(err) {
				err = fmt.Errorf("%w; then %v", err, serr)
			}
		}
		if err != nil {
			failed++
		} else {
			passed++
		}
		report(Result{Name: c.Name, Err: err, Detail: detail, Took: time.Since(start)})
		if cuda.IsSticky(err) {
			failed++
			report(Result{Name: "stopped", Err: fmt.Errorf("%s poisoned the CUDA context, so every later call fails; %d later checks not run",
				w.culprit(c.Name), len(checks)-i-1)})
			return passed, failed
		}
	}
	return passed, failed
}

// watched is dev waiting after every launch and GEMM, so that a fault is
// reported by the call that caused it, naming the kernel, instead of by
// the next copy. It remembers the first kernel that faulted.
type watched struct {
	cuda.Device
	mu      sync.Mutex
	faulted string
}

func (w *watched) Launch(m cuda.Module, kernel string, grid, block cuda.Dim3, sharedBytes uint32, args ...any) error {
	if err := w.Device.Launch(m, kernel, grid, block, sharedBytes, args...); err != nil {
		return err
	}
	return w.wait(fmt.Sprintf("kernel %s.%s", m.Name(), kernel), fmt.Sprintf("grid %v, block %v, %d B shared", grid, block, sharedBytes))
}

func (w *watched) Gemm(g cuda.GemmArgs) error {
	if err := w.Device.Gemm(g); err != nil {
		return err
	}
	return w.wait(fmt.Sprintf("cuBLAS GEMM %d×%d×%d", g.M, g.N, g.K), fmt.Sprintf("batch %d", max(g.Batch, 1)))
}

// wait synchronizes after what and names it in the error.
func (w *watched) wait(what, shape string) error {
	err := w.Device.Synchronize()
	if err == nil {
		return nil
	}
	w.mu.Lock()
	if w.faulted == "" && cuda.IsSticky(err) {
		w.faulted = what
	}
	w.mu.Unlock()
	return fmt.Errorf("%s (%s) faulted: %w", what, shape, err)
}

// culprit names what poisoned the context: the kernel if one was caught
// faulting, else the check.
func (w *watched) culprit(check string) string {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.faulted != "" {
		return w.faulted + " (in " + check + ")"
	}
	return check
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
