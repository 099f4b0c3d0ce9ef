//go:build ort

package train

import (
	"path/filepath"
	"testing"

	"crsc/compiler/ir"
	"crsc/compiler/passes"
	"crsc/training/data"
)

// TestExportMatchesORT: the fine-tuned model.onnx (LoRA merged) gives the
// same logits in ONNX Runtime as in crsc. Run with
// CGO_ENABLED=1 go test -tags ort ./train
func TestExportMatchesORT(t *testing.T) {
	for _, lora := range []int{0, 2} {
		c := tinyConfig(t, "wta", "none")
		c.MaxSteps = 6
		c.Spec.LoRA.Rank = lora
		c.Spec.LoRA.BitFit = true
		if _, err := Run(c); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(c.Out, ModelFile)
		enc := encode(c.Tokenizer, data.Synthetic(8, 9), c.MaxLen)
		b := enc.makeBatch([]int{0, 1, 2, 3, 4, 5, 6, 7}, false)
		feeds := map[string]*ir.Tensor{"input_ids": b.ids, "attention_mask": b.mask, "token_type_ids": b.types}
		compareORT(t, path, feeds, "logits")
	}
}

// TestExportT5MatchesORT: the same for a text-to-text T5 (exact and with
// LoRA merged): logits and loss of the exported model.onnx agree.
func TestExportT5MatchesORT(t *testing.T) {
	for _, lora := range []int{0, 2} {
		c := t5Config(t, "wta")
		c.MaxSteps = 6
		c.Spec.LoRA = passes.LoRASpec{Rank: lora, BitFit: true}
		if _, err := Run(c); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(c.Out, ModelFile)
		targets, _, err := labelTargets(c.Unigram, data.Tasks["sst2"], c.TgtLen)
		if err != nil {
			t.Fatal(err)
		}
		enc := encodeT5(c.Unigram, data.Tasks["sst2"], data.Synthetic(8, 9), c.MaxLen, targets)
		b := enc.makeBatch([]int{0, 1, 2, 3, 4, 5, 6, 7}, false)
		feeds := map[string]*ir.Tensor{"input_ids": b.ids, "attention_mask": b.mask, "decoder_input_ids": b.decIDs, "labels": b.labels}
		for _, out := range []string{"logits", "loss"} {
			compareORT(t, path, feeds, out)
		}
	}
}
