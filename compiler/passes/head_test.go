package passes_test

import (
	"fmt"
	"math"
	"math/rand"
	"path/filepath"
	"strings"
	"testing"

	"crsc/compiler/ir"
	"crsc/compiler/onnx"
	"crsc/compiler/passes"
	"crsc/internal/testutil"
	"crsc/runtime"
	"crsc/training/optim"
)

const (
	tribuoModel     = "../../../shared/models/hf_bert_tiny_tribuo.onnx"
	distilbertModel = "../../../shared/models/hf_distilbert_tiny_seqcls.onnx"
)

func loadExport(t *testing.T, path string) *ir.Graph {
	t.Helper()
	g, err := onnx.Load(path)
	if err != nil {
		t.Skipf("third-party export not available: %v", err)
	}
	return g
}

// encoderFeeds are random [batch, seq] inputs for an encoder export: ids
// below vocab, the last rows padded, token types 0.
func encoderFeeds(g *ir.Graph, batch, seq, vocab int, seed int64) map[string]*ir.Tensor {
	r := rand.New(rand.NewSource(seed))
	ids, mask := make([]int64, batch*seq), make([]int64, batch*seq)
	for b := 0; b < batch; b++ {
		n := seq - b*seq/(2*batch) // rows shorten: padded masks
		for s := 0; s < seq; s++ {
			if s < n {
				ids[b*seq+s], mask[b*seq+s] = int64(1+r.Intn(vocab-1)), 1
			}
		}
	}
	f := map[string]*ir.Tensor{}
	for _, in := range g.Inputs {
		switch in.Name {
		case "input_ids":
			f[in.Name] = ir.FromInt64([]int{batch, seq}, ids)
		case "attention_mask":
			f[in.Name] = ir.FromInt64([]int{batch, seq}, mask)
		case "token_type_ids":
			f[in.Name] = ir.FromInt64([]int{batch, seq}, make([]int64, batch*seq))
		}
	}
	return f
}

// TestHeadChoosesOutput: which output the head starts from, per layout.
func TestHeadChoosesOutput(t *testing.T) {
	tests := []struct {
		name    string
		spec    passes.HeadSpec
		added   bool
		from    string
		pooling passes.Pooling
		err     string
	}{
		{"pooler by default", passes.HeadSpec{NumLabels: 3, Dropout: 0.1}, true, "output_1", "", ""},
		{"first token on request", passes.HeadSpec{NumLabels: 3, Pooling: passes.PoolFirst}, true, "output_0", passes.PoolFirst, ""},
		{"mean over the mask", passes.HeadSpec{NumLabels: 2, Pooling: passes.PoolMean}, true, "output_0", passes.PoolMean, ""},
		{"named hidden states, family pooling", passes.HeadSpec{NumLabels: 2, Output: "output_0"}, true, "output_0", passes.PoolFirst, ""},
		{"family from config.json: T5 pools by the mean", passes.HeadSpec{NumLabels: 2, Output: "output_0", Family: passes.FamilyT5}, true, "output_0", passes.PoolMean, ""},
		{"no such output", passes.HeadSpec{NumLabels: 2, Output: "logits"}, false, "", "", `no output "logits" (outputs: output_0 f32[batch,sequence,50], output_1 f32[batch,50])`},
		{"pooling of a pooled output", passes.HeadSpec{NumLabels: 2, Output: "output_1", Pooling: passes.PoolMean}, false, "", "", "wants hidden states"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := loadExport(t, tribuoModel)
			h, err := passes.AddClassificationHead(g, tt.spec)
			if testutil.WantErr(t, err, tt.err) {
				return
			}
			if err := g.Verify(); err != nil {
				t.Fatal(err)
			}
			if h.Added != tt.added || h.From != tt.from || h.Pooling != tt.pooling {
				t.Errorf("head %+v, want added %v from %s pooling %q", h, tt.added, tt.from, tt.pooling)
			}
			out := g.Outputs[0]
			if len(g.Outputs) != 1 || out.Name != "logits" || out.Shape.String() != fmt.Sprintf("[batch,%d]", tt.spec.NumLabels) {
				t.Errorf("outputs %v %s, want logits [batch,%d]", g.Outputs, ir.TypeString(out), tt.spec.NumLabels)
			}
			t.Log(h)
		})
	}
}

// TestHeadKeepsLogits: an export with logits gets no head; its class count
// is checked.
func TestHeadKeepsLogits(t *testing.T) {
	g := loadExport(t, distilbertModel)
	h, err := passes.AddClassificationHead(g, passes.HeadSpec{NumLabels: 2})
	if err != nil || h.Added || h.Logits != "logits" {
		t.Fatalf("head %+v, err %v: want none added", h, err)
	}
	if _, err := passes.AddClassificationHead(g, passes.HeadSpec{NumLabels: 3}); err == nil || !strings.Contains(err.Error(), "3 classes") {
		t.Errorf("err = %v, want the class-count mismatch", err)
	}
}

// TestHeadTrainsAndExports: the Tribuo BertModel gets a head; the training
// graph compiles with cross-entropy on logits and AdamW lowers the loss on
// fixed random labels; the graph exported with onnx.Save gives the same
// logits when crsc loads it again.
func TestHeadTrainsAndExports(t *testing.T) {
	g := loadExport(t, tribuoModel)
	h, err := passes.AddClassificationHead(g, passes.HeadSpec{NumLabels: 3, Dropout: 0.1, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if h.Opset != [2]int64{11, 12} || h.Hidden != 50 {
		t.Errorf("head %+v: want hidden 50, opset 11 → 12", h)
	}
	const batch, seq = 4, 12
	feeds := encoderFeeds(g, batch, seq, 1656, 3)

	// Export round trip, Dropout on (same seed: same masks) and off.
	path := filepath.Join(t.TempDir(), "model.onnx")
	if err := onnx.Save(g, path); err != nil {
		t.Fatal(err)
	}
	back, err := onnx.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, training := range []bool{true, false} {
		for _, m := range []*ir.Graph{g, back} {
			m.Value(h.TrainingMode).Init.Bool[0] = training
		}
		want := testutil.Run(t, g, feeds, runtime.Options{Seed: 9})
		got := testutil.Run(t, back, feeds, runtime.Options{Seed: 9})
		if d := maxAbsDiff(want["logits"].F32, got["logits"].F32); d != 0 {
			t.Errorf("training_mode %v: exported logits differ by %g", training, d)
		}
	}
	g.Value(h.TrainingMode).Init.Bool[0] = true

	tg := g.Clone()
	testutil.LoadShapes(t, tg, map[string]ir.Shape{"input_ids": ir.StaticShape(batch, seq)})
	tr, err := passes.Compile(tg, passes.TrainingSpec{Loss: passes.LossSpec{Kind: passes.LossCrossEntropy, Output: "logits"}, Memory: true})
	if err != nil {
		t.Fatal(err)
	}
	labels := ir.FromInt64([]int{batch}, []int64{0, 2, 1, 2})
	feeds["labels"] = labels
	losses := adamSteps(t, tg, tr, feeds, 8)
	t.Logf("losses %v", losses)
	if !(losses[len(losses)-1] < 0.5*losses[0]) || math.IsNaN(float64(losses[0])) {
		t.Errorf("loss did not fall by half over 8 AdamW steps: %v", losses)
	}
	if losses[0] < 0.9 || losses[0] > 1.3 {
		t.Errorf("initial loss %g, want about ln 3 = 1.10 (a freshly initialized head)", losses[0])
	}
}

func maxAbsDiff(a, b []float32) float64 {
	if len(a) != len(b) {
		return math.Inf(1)
	}
	var d float64
	for i := range a {
		d = math.Max(d, math.Abs(float64(a[i]-b[i])))
	}
	return d
}

// TestHeadPoolingValues: the head's logits are the pooled hidden states
// through the classifier, computed here from the export's own output:
// first token, and the mean over the real (unpadded) tokens.
func TestHeadPoolingValues(t *testing.T) {
	const batch, seq, labels = 3, 10, 2
	base := loadExport(t, tribuoModel)
	feeds := encoderFeeds(base, batch, seq, 1656, 8)
	states := testutil.Run(t, base, feeds, runtime.Options{})
	h := states["output_0"].F32 // [batch, seq, 50]
	mask := feeds["attention_mask"].I64
	for _, pooling := range []passes.Pooling{passes.PoolFirst, passes.PoolMean} {
		t.Run(string(pooling), func(t *testing.T) {
			g := loadExport(t, tribuoModel)
			head, err := passes.AddClassificationHead(g, passes.HeadSpec{NumLabels: labels, Pooling: pooling, Seed: 4})
			if err != nil {
				t.Fatal(err)
			}
			w, bias := g.Value(head.Weight).Init, g.Value(head.Bias).Init
			for i := range bias.F32 {
				bias.F32[i] = 0.5 * float32(i+1) // the bias must be added too
			}
			got := testutil.Run(t, g, feeds, runtime.Options{})
			var worst float64
			for b := 0; b < batch; b++ {
				pooled := make([]float64, 50)
				var count float64
				for s := 0; s < seq; s++ {
					if pooling == passes.PoolFirst && s > 0 || mask[b*seq+s] == 0 {
						continue
					}
					count++
					for k := range pooled {
						pooled[k] += float64(h[(b*seq+s)*50+k])
					}
				}
				for c := 0; c < labels; c++ {
					want := float64(bias.F32[c])
					for k := range pooled {
						want += pooled[k] / count * float64(w.F32[c*50+k])
					}
					worst = math.Max(worst, math.Abs(want-float64(got["logits"].F32[b*labels+c])))
				}
			}
			if worst > 1e-5 {
				t.Errorf("%s pooling: logits differ from the reference by %g", pooling, worst)
			}
		})
	}
}

// adamSteps trains the compiled graph g for n AdamW steps (lr 1e-2) on
// one batch and returns each step's loss.
func adamSteps(t *testing.T, g *ir.Graph, tr *passes.Training, feeds map[string]*ir.Tensor, n int) []float32 {
	t.Helper()
	params := map[string]*ir.Tensor{}
	var infos []optim.ParamInfo
	for _, pg := range tr.Trained {
		params[pg.Param.Name] = pg.Param.Init
		infos = append(infos, optim.ParamInfo{Name: pg.Param.Name, DType: ir.Float32, Shape: pg.Param.Init.Shape, Decay: optim.DefaultDecay(pg.Param.Name, pg.Param.Init.Shape)})
	}
	opt, err := optim.NewAdamW(params, infos, optim.DefaultAdamWConfig())
	if err != nil {
		t.Fatal(err)
	}
	var losses []float32
	for step := 0; step < n; step++ {
		out := testutil.Run(t, g, feeds, runtime.Options{Seed: uint64(step + 1)})
		losses = append(losses, out[passes.LossName].F32[0])
		grads := map[string]*ir.Tensor{}
		for _, pg := range tr.Trained {
			grads[pg.Param.Name] = out[pg.Grad.Name]
		}
		if err := opt.Step(grads, 1e-2); err != nil {
			t.Fatal(err)
		}
	}
	return losses
}
