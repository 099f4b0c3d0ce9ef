//go:build ort

package train

import (
	"math"
	"path/filepath"
	"testing"

	"crsc/compiler/ir"
	"crsc/compiler/onnx"
	"crsc/internal/ortoracle"
	"crsc/runtime"
	"crsc/training/data"
)

// TestExportsMatchORT: every third-party layout, fine-tuned exact and
// WTA@0.3 (with LoRA merged for one of them), exports a model.onnx that
// ONNX Runtime runs to crsc's outputs within 1e-4. Run with
// CGO_ENABLED=1 go test -tags ort ./train
func TestExportsMatchORT(t *testing.T) {
	for _, tc := range exportCases {
		for _, est := range []string{"exact", "wta"} {
			t.Run(tc.name+"/"+est, func(t *testing.T) {
				c := tc.config(t, est)
				c.MaxSteps = 10
				if est == "wta" {
					c.Spec.LoRA.Rank, c.Spec.LoRA.BitFit = 2, true
				}
				if _, err := Run(c); err != nil {
					t.Fatal(err)
				}
				path := filepath.Join(c.Out, ModelFile)
				feeds := exportFeeds(t, c, path)
				compareORT(t, path, feeds, "logits")
			})
		}
	}
}

// TestSplitT5ExportMatchesORT: the fine-tuned encoder_model.onnx and
// decoder_model.onnx run in ONNX Runtime, encoder then decoder, to the
// logits crsc computes with them.
func TestSplitT5ExportMatchesORT(t *testing.T) {
	c := exportConfig(t, "../../testdata/onnx/optimum_t5_tiny", "wta")
	c.MaxSteps, c.Unigram = 10, smallUnigram(t, 100)
	if _, err := Run(c); err != nil {
		t.Fatal(err)
	}
	targets, _, err := labelTargets(c.Unigram, data.Tasks["sst2"], c.TgtLen)
	if err != nil {
		t.Fatal(err)
	}
	b := encodeT5(c.Unigram, data.Tasks["sst2"], data.Synthetic(8, 9), c.MaxLen, targets).makeBatch([]int{0, 1, 2, 3, 4, 5, 6, 7}, false)
	encFeeds := map[string]*ir.Tensor{"input_ids": b.ids, "attention_mask": b.mask}
	hidden := compareORT(t, filepath.Join(c.Out, EncoderModelFile), encFeeds, "last_hidden_state")
	decFeeds := map[string]*ir.Tensor{"input_ids": b.decIDs, "encoder_attention_mask": b.mask, "encoder_hidden_states": hidden}
	compareORT(t, filepath.Join(c.Out, DecoderModelFile), decFeeds, "logits")
}

// exportFeeds is a batch of the synthetic task for an exported model,
// each input under the name and type the export gives its role.
func exportFeeds(t *testing.T, c Config, path string) map[string]*ir.Tensor {
	t.Helper()
	cc := c
	cc.Model, cc.Export = path, ExportOptions{Head: "none"}
	task, err := cc.lookupTask()
	if err != nil {
		t.Fatal(err)
	}
	m, err := loadModel(&cc, task)
	if err != nil {
		t.Fatal(err)
	}
	b := encode(c.Tokenizer, data.Synthetic(8, 9), c.MaxLen).makeBatch([]int{0, 1, 2, 3, 4, 5, 6, 7}, false)
	return m.feeds(b)
}

// compareORT runs a model file in ONNX Runtime and in crsc (Dropout off)
// and checks output out agrees within 1e-4; it returns crsc's.
func compareORT(t *testing.T, path string, feeds map[string]*ir.Tensor, out string) *ir.Tensor {
	t.Helper()
	want, err := ortoracle.Run(path, feeds)
	if err != nil {
		t.Fatal(err)
	}
	g, err := onnx.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	got, err := runtime.Run(g, feeds, runtime.Options{ForceEval: true})
	if err != nil {
		t.Fatal(err)
	}
	if want[out] == nil || got[out] == nil || len(want[out].F32) != len(got[out].F32) {
		t.Fatalf("%s: output %q missing or of another size (ORT %v, crsc %v)", path, out, want[out], got[out])
	}
	var worst float64
	for i, v := range want[out].F32 {
		worst = math.Max(worst, math.Abs(float64(v-got[out].F32[i])))
	}
	t.Logf("%s %s: max |ORT - crsc| = %.3g", filepath.Base(path), out, worst)
	if worst > 1e-4 {
		t.Errorf("%s: %s differ by %g", path, out, worst)
	}
	return got[out]
}
