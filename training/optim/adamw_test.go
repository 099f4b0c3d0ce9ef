package optim

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"crsc/compiler/ir"
	"crsc/compiler/onnx"
	"crsc/internal/testutil"
	"crsc/runtime"
)

// refAdamW is PyTorch's AdamW in float64, written straight from the
// formulas so that it shares no code with the graph builder.
type refAdamW struct {
	cfg     AdamWConfig
	p, m, v []float64
	decay   bool
	// pMag and mMag accumulate the magnitudes of the terms summed into p
	// and m. Where terms cancel, float32 rounding error is relative to
	// these, not to the (small) result.
	pMag, mMag []float64
}

func newRef(cfg AdamWConfig, p []float32, decay bool) *refAdamW {
	n := len(p)
	r := &refAdamW{cfg: cfg, p: widen(p), m: make([]float64, n), v: make([]float64, n), decay: decay,
		pMag: make([]float64, n), mMag: make([]float64, n)}
	for i := range r.p {
		r.pMag[i] = math.Abs(r.p[i])
	}
	return r
}

func (r *refAdamW) step(t int, lr float64, g []float64) {
	b1, b2 := float64(r.cfg.Beta1), float64(r.cfg.Beta2)
	eps, wd := float64(r.cfg.Eps), float64(r.cfg.WeightDecay)
	for i := range r.p {
		if r.decay {
			r.p[i] -= lr * wd * r.p[i]
		}
		r.m[i] = b1*r.m[i] + (1-b1)*g[i]
		r.mMag[i] = b1*r.mMag[i] + (1-b1)*math.Abs(g[i])
		r.v[i] = b2*r.v[i] + (1-b2)*g[i]*g[i]
		mHat := r.m[i] / (1 - math.Pow(b1, float64(t)))
		vHat := r.v[i] / (1 - math.Pow(b2, float64(t)))
		update := lr * mHat / (math.Sqrt(vHat) + eps)
		r.p[i] -= update
		r.pMag[i] += math.Abs(update)
	}
}

func randTensor(rng *rand.Rand, shape []int, scale float64) *ir.Tensor {
	t := ir.NewTensor(ir.Float32, shape...)
	for i := range t.F32 {
		t.F32[i] = float32(rng.NormFloat64() * scale)
	}
	return t
}

// graphFeeds are inputs for the optimizer graph g at step: learning rate
// 1e-3, and random parameters, gradients and moments (the second moments
// squared, as a real run's are non-negative).
func graphFeeds(g *ir.Graph, rng *rand.Rand, step int64) map[string]*ir.Tensor {
	inputs := map[string]*ir.Tensor{
		LearningRateInput: ir.ScalarF32(1e-3),
		StepInput:         ir.FromInt64([]int{}, []int64{step}),
	}
	for _, v := range g.Inputs[2:] {
		shape, _ := v.Shape.Ints()
		inputs[v.Name] = randTensor(rng, shape, 1)
		if strings.HasSuffix(v.Name, ".exp_avg_sq") {
			for i, x := range inputs[v.Name].F32 {
				inputs[v.Name].F32[i] = x * x
			}
		}
	}
	return inputs
}

func widen(xs []float32) []float64 {
	out := make([]float64, len(xs))
	for i, x := range xs {
		out[i] = float64(x)
	}
	return out
}

// closeTo checks got against want to 1e-6 relative. mag, when not nil,
// holds the magnitude of the terms that were summed into want: where they
// cancelled, float32 can only be that accurate relative to them.
func closeTo(t *testing.T, what string, got []float32, want, mag []float64) {
	t.Helper()
	for i := range want {
		scale := math.Abs(want[i])
		if mag != nil {
			scale = math.Max(scale, mag[i])
		}
		if d := math.Abs(float64(got[i]) - want[i]); d > 1e-6*scale {
			t.Fatalf("%s[%d] = %.9g, reference %.9g (rel err %.2g)", what, i, got[i], want[i], d/scale)
		}
	}
}

func testInfos() []ParamInfo {
	infos := []ParamInfo{
		{Name: "encoder.layer.0.attention.self.query.weight", Shape: []int{8, 16}},
		{Name: "encoder.layer.0.attention.self.query.bias", Shape: []int{16}},
		{Name: "encoder.layer.0.output.LayerNorm.weight", Shape: []int{16}},
		{Name: "scalar_param", Shape: []int{}},
	}
	for i := range infos {
		infos[i].DType = ir.Float32
		infos[i].Decay = DefaultDecay(infos[i].Name, infos[i].Shape)
	}
	return infos
}

func TestAdamWMatchesReference(t *testing.T) {
	for _, cfg := range []AdamWConfig{
		DefaultAdamWConfig(),
		{Beta1: 0.8, Beta2: 0.95, Eps: 1e-6, WeightDecay: 0.1},
		{Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0}, // no decay anywhere
	} {
		rng := rand.New(rand.NewPCG(1, 2))
		infos := testInfos()
		infos[0].Decay = true // make sure both paths are covered
		infos[1].Decay = false
		params := map[string]*ir.Tensor{}
		refs := map[string]*refAdamW{}
		for _, info := range infos {
			p := randTensor(rng, info.Shape, 1)
			params[info.Name] = p
			refs[info.Name] = newRef(cfg, p.F32, info.Decay)
		}
		// Keep the caller's slices to prove the update happens in place.
		slices := map[string][]float32{}
		for name, p := range params {
			slices[name] = p.F32
		}
		opt, err := NewAdamW(params, infos, cfg)
		if err != nil {
			t.Fatal(err)
		}
		for step, lr := range []float32{1e-2, 5e-3, 2e-2} {
			grads := map[string]*ir.Tensor{}
			for _, info := range infos {
				grads[info.Name] = randTensor(rng, info.Shape, 0.1)
				refs[info.Name].step(step+1, float64(lr), widen(grads[info.Name].F32))
			}
			if err := opt.Step(grads, lr); err != nil {
				t.Fatal(err)
			}
			state := opt.State()
			for _, info := range infos {
				ref := refs[info.Name]
				closeTo(t, info.Name, slices[info.Name], ref.p, ref.pMag)
				closeTo(t, ExpAvgName(info.Name), state[ExpAvgName(info.Name)].F32, ref.m, ref.mMag)
				closeTo(t, ExpAvgSqName(info.Name), state[ExpAvgSqName(info.Name)].F32, ref.v, nil)
			}
			if got := state[StepInput].I64[0]; got != int64(step+1) {
				t.Fatalf("step count %d after %d steps", got, step+1)
			}
		}
	}
}

// TestDecayMatters guards against a reference and graph that both ignore
// Decay: the same parameter must end differently with and without it.
func TestDecayMatters(t *testing.T) {
	run := func(decay bool) []float32 {
		p := ir.FromFloat32([]int{4}, []float32{1, -2, 3, -4})
		infos := []ParamInfo{{Name: "w", DType: ir.Float32, Shape: []int{4}, Decay: decay}}
		opt, err := NewAdamW(map[string]*ir.Tensor{"w": p}, infos, AdamWConfig{Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.5})
		if err != nil {
			t.Fatal(err)
		}
		g := ir.FromFloat32([]int{4}, []float32{0, 0, 0, 0})
		if err := opt.Step(map[string]*ir.Tensor{"w": g}, 0.1); err != nil {
			t.Fatal(err)
		}
		return p.F32
	}
	// With a zero gradient only decay moves the weights: ×(1 − 0.1·0.5).
	if got := run(true); got[0] != 0.95 || got[3] != -3.8 {
		t.Fatalf("decayed weights %v, want [0.95 -1.9 2.85 -3.8]", got)
	}
	if got := run(false); got[0] != 1 || got[3] != -4 {
		t.Fatalf("undecayed weights moved: %v", got)
	}
}

func TestStateRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	infos := testInfos()
	mk := func() map[string]*ir.Tensor {
		m := map[string]*ir.Tensor{}
		for _, info := range infos {
			m[info.Name] = randTensor(rng, info.Shape, 1)
		}
		return m
	}
	paramsA := mk()
	a, err := NewAdamW(paramsA, infos, DefaultAdamWConfig())
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if err := a.Step(mk(), 1e-3); err != nil {
			t.Fatal(err)
		}
	}
	// Resume: a second optimizer over copies of the parameters, given a's state.
	paramsB := map[string]*ir.Tensor{}
	for name, p := range paramsA {
		paramsB[name] = p.Clone()
	}
	b, err := NewAdamW(paramsB, infos, DefaultAdamWConfig())
	if err != nil {
		t.Fatal(err)
	}
	if err := b.LoadState(a.State()); err != nil {
		t.Fatal(err)
	}
	if b.StepCount() != 2 {
		t.Fatalf("step count %d after LoadState, want 2", b.StepCount())
	}
	grads := mk()
	if err := a.Step(grads, 1e-3); err != nil {
		t.Fatal(err)
	}
	if err := b.Step(grads, 1e-3); err != nil {
		t.Fatal(err)
	}
	for name := range paramsA {
		for i, x := range paramsA[name].F32 {
			if paramsB[name].F32[i] != x {
				t.Fatalf("%s[%d]: resumed run gives %g, uninterrupted %g", name, i, paramsB[name].F32[i], x)
			}
		}
	}

	bad := a.State()
	delete(bad, StepInput)
	if err := b.LoadState(bad); err == nil || !strings.Contains(err.Error(), "step") {
		t.Fatalf("LoadState without a step: err = %v", err)
	}
	bad = a.State()
	bad[ExpAvgName(infos[0].Name)] = ir.NewTensor(ir.Float32, 3)
	if err := b.LoadState(bad); err == nil || !strings.Contains(err.Error(), "shape") {
		t.Fatalf("LoadState with a wrong shape: err = %v", err)
	}
	if b.StepCount() != 3 {
		t.Fatalf("a failed LoadState changed the step count to %d", b.StepCount())
	}
}

func TestStepFailureChangesNothing(t *testing.T) {
	infos := testInfos()
	params := map[string]*ir.Tensor{}
	grads := map[string]*ir.Tensor{}
	for _, info := range infos {
		params[info.Name] = ir.NewTensor(ir.Float32, info.Shape...)
		grads[info.Name] = ir.NewTensor(ir.Float32, info.Shape...)
	}
	opt, err := NewAdamW(params, infos, DefaultAdamWConfig())
	if err != nil {
		t.Fatal(err)
	}
	delete(grads, infos[1].Name)
	err = opt.Step(grads, 1e-3)
	if err == nil || !strings.Contains(err.Error(), "gradient of "+infos[1].Name+" is missing") {
		t.Fatalf("Step without a gradient: err = %v", err)
	}
	if opt.StepCount() != 0 {
		t.Fatal("a failed Step advanced the step count")
	}
}

func TestBuildErrors(t *testing.T) {
	f32 := func(name string) ParamInfo { return ParamInfo{Name: name, DType: ir.Float32, Shape: []int{2}} }
	for _, c := range []struct {
		params []ParamInfo
		cfg    AdamWConfig
		want   string
	}{
		{nil, DefaultAdamWConfig(), "no parameters"},
		{[]ParamInfo{f32("a"), f32("a")}, DefaultAdamWConfig(), `name "a"`},
		{[]ParamInfo{f32("step")}, DefaultAdamWConfig(), "step input"},
		{[]ParamInfo{f32("a"), f32("a.exp_avg")}, DefaultAdamWConfig(), `"a.exp_avg"`},
		{[]ParamInfo{{Name: "h", DType: ir.Float16, Shape: []int{2}}}, DefaultAdamWConfig(), "only f32"},
		{[]ParamInfo{f32("a")}, AdamWConfig{Beta1: 1, Beta2: 0.999}, "beta1"},
		{[]ParamInfo{f32("a")}, AdamWConfig{Beta1: 0.9, Beta2: 0.999, WeightDecay: -1}, "weight decay"},
	} {
		_, err := BuildAdamW(c.params, c.cfg)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("BuildAdamW(%v): err = %v, want it to mention %s", c.params, err, c.want)
		}
	}
}

func TestDefaultDecay(t *testing.T) {
	for _, c := range []struct {
		name  string
		shape []int
		want  bool
	}{
		{"encoder.layer.0.attention.self.query.weight", []int{768, 768}, true},
		{"embeddings.word_embeddings.weight", []int{30522, 768}, true},
		{"encoder.layer.0.attention.self.query.bias", []int{768}, false},
		{"embeddings.LayerNorm.weight", []int{768}, false},
		{"encoder.block.0.layer.0.layer_norm.weight", []int{512}, false},
		{"decoder.final_norm.weight", []int{4, 4}, false}, // by name, even if 2-D
		{"some.bias_matrix", []int{4, 4}, false},
		{"odd.vector", []int{7}, false}, // 1-D, whatever the name
		{"scalar", nil, false},
	} {
		if got := DefaultDecay(c.name, c.shape); got != c.want {
			t.Errorf("DefaultDecay(%q, %v) = %v, want %v", c.name, c.shape, got, c.want)
		}
	}
}

// TestONNXRoundTrip checks that the optimizer graph survives export and
// import unchanged, and that the re-imported graph computes the same bits.
func TestONNXRoundTrip(t *testing.T) {
	infos := testInfos()
	g1, err := BuildAdamW(infos, DefaultAdamWConfig())
	if err != nil {
		t.Fatal(err)
	}
	data, err := onnx.Encode(g1)
	if err != nil {
		t.Fatal(err)
	}
	g2, err := onnx.Decode(data, "")
	if err != nil {
		t.Fatal(err)
	}
	// Export writes types only for graph inputs and outputs; infer the rest
	// as BuildAdamW did.
	if err := g2.InferShapes(); err != nil {
		t.Fatal(err)
	}
	if err := g2.Verify(); err != nil {
		t.Fatal(err)
	}
	if a, b := g1.String(), g2.String(); a != b {
		t.Fatalf("graph changed in the ONNX round trip:\n--- built\n%s\n--- re-imported\n%s", a, b)
	}

	inputs := graphFeeds(g1, rand.New(rand.NewPCG(5, 6)), 7)
	out1 := testutil.Run(t, g1, inputs, runtime.Options{})
	out2 := testutil.Run(t, g2, inputs, runtime.Options{})
	if len(out1) != 3*len(infos) {
		t.Fatalf("%d outputs, want %d", len(out1), 3*len(infos))
	}
	for name, a := range out1 {
		b := out2[name]
		for i := range a.F32 {
			if math.Float32bits(a.F32[i]) != math.Float32bits(b.F32[i]) {
				t.Fatalf("output %s[%d]: %g before export, %g after", name, i, a.F32[i], b.F32[i])
			}
		}
	}
}

// TestGraphInterface pins the input and output names other tools feed.
func TestGraphInterface(t *testing.T) {
	g, err := BuildAdamW([]ParamInfo{{Name: "w", DType: ir.Float32, Shape: []int{2, 3}, Decay: true}}, DefaultAdamWConfig())
	if err != nil {
		t.Fatal(err)
	}
	var ins, outs []string
	for _, v := range g.Inputs {
		ins = append(ins, v.Name+":"+ir.TypeString(v))
	}
	for _, v := range g.Outputs {
		outs = append(outs, v.Name+":"+ir.TypeString(v))
	}
	wantIns := "learning_rate:f32[] step:i64[] w:f32[2,3] w_grad:f32[2,3] w.exp_avg:f32[2,3] w.exp_avg_sq:f32[2,3]"
	wantOuts := "w.updated:f32[2,3] w.exp_avg.updated:f32[2,3] w.exp_avg_sq.updated:f32[2,3]"
	if got := strings.Join(ins, " "); got != wantIns {
		t.Errorf("inputs %s\nwant   %s", got, wantIns)
	}
	if got := strings.Join(outs, " "); got != wantOuts {
		t.Errorf("outputs %s\nwant    %s", got, wantOuts)
	}
	for _, n := range g.Nodes {
		if n.Domain != "" {
			t.Errorf("node %s uses domain %q; the optimizer must be plain ONNX", n.Name, n.Domain)
		}
	}
	if g.Opsets[""] != 17 {
		t.Errorf("opset %d, want 17", g.Opsets[""])
	}
}
