package passes_test

import (
	"fmt"
	"math"
	"math/rand"
	"slices"
	"strings"
	"testing"

	"crsc/compiler/ir"
	"crsc/compiler/models"
	"crsc/compiler/passes"
	"crsc/internal/testutil"
	"crsc/runtime"
	"crsc/runtime/rowsample/rowsampletest"
)

// sampleNodes maps each sampled layer's forward node to its SampleRows node
// (named wtacrs/<forward node>/SampleRows).
func sampleNodes(g *ir.Graph) map[string]*ir.Node {
	out := map[string]*ir.Node{}
	for _, n := range g.Nodes {
		if n.Op == "SampleRows" {
			fwd := strings.TrimSuffix(strings.TrimPrefix(n.Name, "wtacrs/"), "/SampleRows")
			out[fwd] = n
		}
	}
	return out
}

// TestReportedBudgetIsTheKernels: the compile report's kept-row count is
// the k the SampleRows kernels use (ir.SampleBudget on the float32 keep
// attribute): keep 0.29 of N = 100 rows keeps 29, where ⌊0.29·100⌋ in
// float64 is 28.
func TestReportedBudgetIsTheKernels(t *testing.T) {
	g := testutil.LoadFile(t, "../../testdata/onnx/bert_tiny_cls.op13.eval.onnx", map[string]ir.Shape{"input_ids": ir.StaticShape(4, 25)})
	tr, err := passes.Compile(g, passes.TrainingSpec{Loss: passes.LossSpec{Kind: passes.LossVJP, Output: "logits"},
		Sampling: passes.SamplingSpec{Estimator: "wta", Keep: 0.29, Layers: "all"}})
	if err != nil {
		t.Fatal(err)
	}
	samples := sampleNodes(g)
	checked := 0
	for _, d := range tr.Layers {
		n := samples[d.Node]
		if !d.Sampled || n == nil {
			continue
		}
		xs := n.Outputs[0].Shape
		if k := xs[len(xs)-2]; !k.IsFixed() || int(k.Size) != d.Kept {
			t.Errorf("%s: report keeps %d of %d rows, the kernel's output has %v", d.Node, d.Kept, d.Rows, k)
		}
		if d.Rows == 100 && d.Kept != 29 {
			t.Errorf("%s: keeps %d of 100 rows at keep 0.29, want 29", d.Node, d.Kept)
		}
		checked++
	}
	if checked < 6 {
		t.Fatalf("only %d sampled layers checked", checked)
	}
}

// TestAutoKeepsHeadsExact: --layers auto leaves the model's head exact (the
// T5 LM head, the BERT classifier: WTACRS.md §5) and samples it only when
// --layers names it. Its source and target lengths are equal, and the
// decoder's layers must not take the encoder's attention_mask as theirs.
func TestAutoKeepsHeadsExact(t *testing.T) {
	build := func(layers string) *passes.Training {
		// v1.0 ("relu"): the LM head is tied to the shared embedding and
		// reads the final norm's output scaled by d^-0.5, an activation
		// nothing else keeps, so auto would sample it but for the rule.
		cfg := models.T5Config{Vocab: 64, DModel: 16, DKV: 8, DFF: 32, Layers: 1, DecoderLayers: 1, Heads: 2, Buckets: 8, MaxDistance: 16, FFN: "relu"}
		g, err := models.BuildT5(cfg, models.BuildOptions{Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		shapes := map[string]ir.Shape{}
		for _, in := range []string{"input_ids", "attention_mask", "decoder_input_ids", "labels"} {
			shapes[in] = ir.StaticShape(4, 8)
		}
		testutil.LoadShapes(t, g, shapes)
		tr, err := passes.Compile(g, passes.TrainingSpec{Sampling: passes.SamplingSpec{Estimator: "wta", Keep: 0.3, Layers: layers}})
		if err != nil {
			t.Fatal(err)
		}
		return tr
	}
	head := func(tr *passes.Training) *passes.LayerDecision {
		for i, d := range tr.Layers {
			if d.Weight == "shared.weight" {
				return &tr.Layers[i]
			}
		}
		t.Fatalf("no lm_head.weight layer in %+v", tr.Layers)
		return nil
	}
	tr := build("auto")
	if d := head(tr); d.Sampled || !strings.Contains(d.Why, "model head") {
		t.Errorf("auto: LM head sampled=%v (%s), want exact as a model head", d.Sampled, d.Why)
	}
	sampled := 0
	for _, d := range tr.Layers {
		if !d.Sampled {
			continue
		}
		sampled++
		encoder := strings.HasPrefix(d.Weight, "encoder.")
		if encoder != (d.PaddingMask == "attention_mask") {
			t.Errorf("%s (%s): padding mask %q; want attention_mask exactly on the encoder side", d.Node, d.Weight, d.PaddingMask)
		}
	}
	if sampled == 0 {
		t.Fatal("auto sampled no layer")
	}
	if d := head(build("shared")); !d.Sampled {
		t.Errorf("--layers shared: LM head not sampled (%s)", d.Why)
	}

	// The tiny BERT's classifier under auto.
	g := loadTinyBert(t)
	trb, err := passes.Compile(g, passes.TrainingSpec{Loss: passes.LossSpec{Kind: passes.LossVJP, Output: "logits"},
		Sampling: passes.SamplingSpec{Estimator: "wta", Keep: 0.3, Layers: "auto"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range trb.Layers {
		if strings.Contains(d.Weight, "classifier") && (d.Sampled || !strings.Contains(d.Why, "model head")) {
			t.Errorf("BERT classifier %s: sampled=%v (%s), want exact as a model head", d.Weight, d.Sampled, d.Why)
		}
	}
}

// TestPaddingRowsTakeNoBudget: a batch with half its tokens padding has 32
// real rows per linear layer; at keep 0.5 (k = 32) every sampled layer
// spends its k slots on exactly those rows, so the "sampled" gradients
// equal the exact ones — whatever ĝ says about the padding positions
// (ema-like values, zeros, tiny ones). That also checks the premise of
// excluding them: the padding rows' G is 0 in the real graph.
func TestPaddingRowsTakeNoBudget(t *testing.T) {
	feeds := tinyBertFeeds(4)
	mask := feeds["attention_mask"]
	for b := 0; b < 4; b++ {
		for s := 8; s < 16; s++ {
			mask.I64[b*16+s] = 0
		}
	}
	g0 := loadTinyBert(t)
	tr0, err := passes.Compile(g0, passes.TrainingSpec{Loss: passes.LossSpec{Kind: passes.LossVJP, Output: "logits"}})
	if err != nil {
		t.Fatal(err)
	}
	exact := testutil.Run(t, g0, feeds, runtime.Options{})
	for _, gnorm := range []string{"none", "ema"} {
		g := loadTinyBert(t)
		tr, err := passes.Compile(g, passes.TrainingSpec{Loss: passes.LossSpec{Kind: passes.LossVJP, Output: "logits"},
			Sampling: passes.SamplingSpec{Estimator: "wta", Keep: 0.5, Layers: "all", GNorm: gnorm}})
		if err != nil {
			t.Fatal(err)
		}
		r := rand.New(rand.NewSource(2))
		masked := 0
		for _, d := range tr.Layers {
			if d.Sampled && d.Rows == 64 {
				if d.PaddingMask != "attention_mask" {
					t.Errorf("%s/%s: padding mask %q, want attention_mask", gnorm, d.Node, d.PaddingMask)
				}
				masked++
			}
			if d.GNormInput != "" {
				gn := ir.NewTensor(ir.Float32, d.Rows)
				for i := range gn.F32 {
					gn.F32[i] = float32(r.ExpFloat64()) * []float32{0, 1e-7, 1, 10}[r.Intn(4)]
				}
				feeds[d.GNormInput] = gn
			}
		}
		if masked < 10 {
			t.Fatalf("%s: %d layers with 64 rows sampled, want the encoder's 10", gnorm, masked)
		}
		for seed := uint64(1); seed <= 3; seed++ {
			got := testutil.Run(t, g, feeds, runtime.Options{Seed: seed})
			for i, pg := range tr0.Trained {
				want, have := exact[pg.Grad.Name], got[tr.Trained[i].Grad.Name]
				if e := relDiff(have, want); e > 1e-5 {
					t.Errorf("%s seed %d: %s differs from the exact gradient by %.2g relative", gnorm, seed, pg.Param.Name, e)
				}
			}
		}
	}
}

func relDiff(a, b *ir.Tensor) float64 {
	num, den := 0.0, 0.0
	for i := 0; i < b.Len(); i++ {
		d := a.Float64At(i) - b.Float64At(i)
		num += d * d
		den += b.Float64At(i) * b.Float64At(i)
	}
	return math.Sqrt(num / math.Max(den, 1e-300))
}

// edgeGraph is one linear layer Y = X·W over [8, 256] token rows (N = 2048)
// with an attention_mask, compiled for WTA-CRS with ĝ from the ema source.
func edgeGraph(t *testing.T) (*ir.Graph, *passes.Training) {
	t.Helper()
	const B, S, d, m = 8, 256, 6, 4
	g := ir.NewGraph("edge", 17)
	x := g.AddInput("x", ir.Float32, ir.StaticShape(B, S, d))
	g.AddInput("attention_mask", ir.Int64, ir.StaticShape(B, S))
	w := g.AddInit("w", ir.NewTensor(ir.Float32, d, m))
	y := g.AddNode("MatMul", "fc", []*ir.Value{x, w}, 1, nil).Outputs[0]
	y.Name = "y"
	g.Outputs = append(g.Outputs, y)
	if err := g.InferShapes(); err != nil {
		t.Fatal(err)
	}
	tr, err := passes.Compile(g, passes.TrainingSpec{Loss: passes.LossSpec{Kind: passes.LossVJP, Output: "y"},
		Sampling: passes.SamplingSpec{Estimator: "wta", Keep: 0.1, Layers: "all", GNorm: "ema"}})
	if err != nil {
		t.Fatal(err)
	}
	return g, tr
}

// TestCompiledLayerUnbiased runs a compiled training graph (the WTA-CRS
// pass, SampleRows, GatherRows, the weight-gradient Gemm) over 600 seeds
// where WTA takes winners: heavy-tailed row norms, a ĝ with zeros and
// tiny values, an eighth of the rows padding. Its weight gradient must pass
// rowsampletest.Check against the exact Xᵀ·G, and the same graph with the
// unbiasing scale dropped (Xs replaced by the unscaled gathered rows) must
// fail it.
func TestCompiledLayerUnbiased(t *testing.T) {
	const B, S, d, m, seeds = 8, 256, 6, 4, 600
	r := rand.New(rand.NewSource(6))
	feeds := map[string]*ir.Tensor{}
	x := ir.NewTensor(ir.Float32, B, S, d)
	cot := ir.NewTensor(ir.Float32, B, S, m)
	mask := ir.FromInt64([]int{B, S}, make([]int64, B*S))
	gn := ir.NewTensor(ir.Float32, B*S)
	for i := 0; i < B*S; i++ {
		real := i%S < S-32*(i/S%2) // odd examples end in 32 padding tokens
		sx, sg := math.Exp(1.5*r.NormFloat64()), math.Exp(0.5*r.NormFloat64())
		// ĝ: the row's gradient norm scale with a lognormal error, exactly
		// 0 where the gradient vanished, tiny where it is tiny. (A ĝ of 0
		// on a row with an ordinary gradient is unbiased too, but that
		// row's draw probability ~1e-6/N makes its term invisible to any
		// test of a few thousand seeds, and its variance huge.)
		ghat := sg * math.Exp(0.7*r.NormFloat64())
		switch r.Intn(10) {
		case 0:
			sg, ghat = 0, 0
		case 1:
			sg *= 1e-4
			ghat = []float64{0, 1e-7}[r.Intn(2)]
		}
		for j := 0; j < d; j++ {
			x.F32[i*d+j] = float32(sx * (1 + r.NormFloat64()))
		}
		if real {
			mask.I64[i] = 1
			for j := 0; j < m; j++ {
				cot.F32[i*m+j] = float32(sg * (1 + r.NormFloat64()))
			}
		}
		gn.F32[i] = float32(ghat)
	}
	feeds["x"], feeds["y_cotangent"], feeds["attention_mask"] = x, cot, mask

	// Exact: dW = Xᵀ·G with G the cotangent.
	exact := make([]float64, d*m)
	for i := 0; i < B*S; i++ {
		for a := 0; a < d; a++ {
			for b := 0; b < m; b++ {
				exact[a*m+b] += float64(x.F32[i*d+a]) * float64(cot.F32[i*m+b])
			}
		}
	}
	for _, broken := range []bool{false, true} {
		g, tr := edgeGraph(t)
		if len(tr.Layers) != 1 || !tr.Layers[0].Sampled || tr.Layers[0].PaddingMask != "attention_mask" || tr.Layers[0].GNormInput == "" {
			t.Fatalf("decisions %+v, want fc sampled with attention_mask and a ĝ input", tr.Layers)
		}
		feeds[tr.Layers[0].GNormInput] = gn
		if broken {
			dropScale(t, g)
		} else if winners := countWinners(t, g, feeds, x); winners == 0 || winners >= 204 {
			t.Fatalf("%d of k = 204 slots are winners: want 0 < c* < k, so that this tests WTA, not CRS", winners)
		} else {
			t.Logf("c* = %d winners of k = 204", winners)
		}
		grad := tr.Trained[0].Grad.Name
		res := rowsampletest.Check(exact, seeds, func(seed int) []float64 {
			out := testutil.Run(t, g, feeds, runtime.Options{Seed: uint64(seed), Step: 1})
			v := make([]float64, d*m)
			for i := range v {
				v[i] = out[grad].Float64At(i)
			}
			return v
		})
		t.Logf("scale dropped %v: Ratio %.2f (max %d), bias of the mean %.4f, single estimate %.3f", broken, res.Ratio, rowsampletest.MaxRatio, res.RelBias, res.RelSpread)
		if res.Unbiased() == broken {
			t.Errorf("scale dropped %v: Ratio %.2f", broken, res.Ratio)
		}
	}
}

// countWinners runs g once with its SampleRows outputs exposed and counts
// the slots holding a row of x unscaled (weight 1: WTA's winners).
func countWinners(t *testing.T, g *ir.Graph, feeds map[string]*ir.Tensor, x *ir.Tensor) int {
	t.Helper()
	var sample *ir.Node
	for _, n := range g.Nodes {
		if n.Op == "SampleRows" {
			sample = n
		}
	}
	saved := g.Outputs
	g.Outputs = append(append([]*ir.Value{}, saved...), sample.Outputs...)
	defer func() { g.Outputs = saved }()
	out := testutil.Run(t, g, feeds, runtime.Options{Seed: 1, Step: 1})
	xs, idx := out[sample.Outputs[0].Name], out[sample.Outputs[1].Name]
	d := x.Shape[len(x.Shape)-1]
	winners := 0
	for slot, row := range idx.I64 {
		if slices.Equal(xs.F32[slot*d:(slot+1)*d], x.F32[int(row)*d:(int(row)+1)*d]) {
			winners++
		}
	}
	return winners
}

// TestAttentionReportsGNorm: attention products draw with p ∝ ‖row‖ even
// under --gnorm ema, and their decisions say so.
func TestAttentionReportsGNorm(t *testing.T) {
	_, tr := dropoutBert(t, 2, passes.SamplingSpec{Estimator: "wta", Keep: 0.3, Layers: "auto", Attention: true, GNorm: "ema"})
	sampled := 0
	for _, d := range tr.Attention {
		if d.Sampled {
			sampled++
			if !strings.Contains(d.Why, passes.AttentionGNormNote) {
				t.Errorf("%s %s: %q does not say that --gnorm is ignored", d.Node, d.Side, d.Why)
			}
		}
	}
	if sampled == 0 {
		t.Fatal("no attention product sampled")
	}
}

// dropScale feeds the weight gradient the sampled rows unscaled (the
// reference's biased first-epoch branch): GatherRows(X, idx) instead of Xs.
func dropScale(t *testing.T, g *ir.Graph) {
	t.Helper()
	for _, n := range g.Nodes {
		if n.Op != "SampleRows" {
			continue
		}
		for _, reader := range g.Consumers()[n.Outputs[0]] {
			raw := g.AddNode("GatherRows", "broken/GatherRows", []*ir.Value{n.In(0), n.Outputs[1]}, 1, nil)
			raw.Domain = passes.CrscDomain
			for i, in := range reader.Inputs {
				if in == n.Outputs[0] {
					reader.Inputs[i] = raw.Outputs[0]
				}
			}
		}
	}
	if err := g.TopoSort(); err != nil {
		t.Fatal(err)
	}
	if err := g.InferShapes(); err != nil {
		t.Fatal(err)
	}
}

// TestAttentionPaddingTakesNoBudget: with --attention, the attention
// products' sampled rows that are token positions (Q's and P's rows for
// dKᵀ and dV, K's rows for dQ) carry the padding mask too; P·V's dP, which
// contracts over the head dim, does not. With 8 of 16 tokens padding and
// k = 10 rows per (batch, head) block (and a head dim of 8, so dP is exact),
// every sampled block holds all its real rows: every gradient equals the
// exact graph's, including through the regenerated Dropout masks.
func TestAttentionPaddingTakesNoBudget(t *testing.T) {
	exact, ex := dropoutBert(t, 4, passes.SamplingSpec{})
	g, tr := dropoutBert(t, 4, passes.SamplingSpec{Estimator: "wta", Keep: 0.5, Layers: "all", Attention: true})
	masked := map[string]int{}
	for _, d := range tr.Attention {
		if !d.Sampled {
			continue
		}
		product := "P·V"
		if strings.HasSuffix(d.Node, "/MatMul") {
			product = "QKᵀ"
		}
		masked[product+" "+d.Side+" "+d.PaddingMask]++
	}
	// Per layer: QKᵀ's two sides and P·V's dP are sampled (P·V's dV reads
	// P' rebuilt from P); only dP has no mask.
	wantSides := map[string]int{"QKᵀ dA attention_mask": 2, "QKᵀ dB attention_mask": 2, "P·V dA ": 2}
	if fmt.Sprint(masked) != fmt.Sprint(wantSides) {
		t.Fatalf("sampled attention sides by mask %v, want %v", masked, wantSides)
	}
	feeds := tinyBertFeeds(5)
	for b := 0; b < 4; b++ {
		for s := 8; s < 16; s++ {
			feeds["attention_mask"].I64[b*16+s] = 0
		}
	}
	want, got := runPair(t, exact, g, feeds)
	for i, pg := range ex.Trained {
		if e := relDiff(got[tr.Trained[i].Grad.Name], want[pg.Grad.Name]); e > 1e-5 {
			t.Errorf("%s differs from the exact gradient by %.2g relative", pg.Param.Name, e)
		}
	}
}

// TestCheckSampledSome: a sampled compile that samples nothing is refused
// unless exact training was asked for or --layers auto kept the layers
// exact for a reason it reports.
func TestCheckSampledSome(t *testing.T) {
	exact := []passes.LayerDecision{{Node: "fc", Why: "does not match --layers"}}
	sampled := []passes.LayerDecision{{Node: "fc", Sampled: true}}
	wta := passes.SamplingSpec{Estimator: "wta", Keep: 0.3, Layers: "all"}
	auto := passes.SamplingSpec{Estimator: "wta", Keep: 0.3, Layers: "auto"}
	for _, c := range []struct {
		name   string
		spec   passes.SamplingSpec
		layers []passes.LayerDecision
		want   string // "" accepted
	}{
		{"some layer sampled", wta, sampled, ""},
		{"exact asked", passes.SamplingSpec{Estimator: "exact", Keep: 0.3}, nil, ""},
		{"keep 1", passes.SamplingSpec{Estimator: "wta", Keep: 1, Layers: "all"}, exact, ""},
		{"auto kept them exact", auto, exact, ""},
		{"no linear layer", auto, nil, "no linear layer with a trained weight"},
		{"--layers names only exact ones", wta, exact, "none of the 1 linear layers is sampled (fc: does not match --layers)"},
	} {
		err := passes.CheckSampledSome(&passes.Training{Layers: c.layers}, c.spec)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: got %v, want %q", c.name, err, c.want)
		}
	}
}
