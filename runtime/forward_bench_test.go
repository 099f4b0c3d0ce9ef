package runtime_test

import (
	"math/rand"
	"testing"

	"crsc/compiler/ir"
	"crsc/compiler/models"
	"crsc/compiler/passes"
	"crsc/runtime"
)

// bertBase builds the BERT-base classifier graph in the IR, bound to
// batch×seq and folded, with random inputs (no padding).
func bertBase(b *testing.B, batch, seq int) (*ir.Graph, map[string]*ir.Tensor) {
	b.Helper()
	g, err := models.BuildBert(models.BertBase, 1)
	if err != nil {
		b.Fatal(err)
	}
	r := rand.New(rand.NewSource(1))
	ids, mask, types := make([]int64, batch*seq), make([]int64, batch*seq), make([]int64, batch*seq)
	for i := range ids {
		ids[i], mask[i] = int64(r.Intn(models.BertBase.Vocab)), 1
	}
	inputs := map[string]*ir.Tensor{
		"input_ids":      ir.FromInt64([]int{batch, seq}, ids),
		"attention_mask": ir.FromInt64([]int{batch, seq}, mask),
		"token_type_ids": ir.FromInt64([]int{batch, seq}, types),
	}
	shapes := map[string]ir.Shape{"input_ids": ir.StaticShape(batch, seq)}
	if err := passes.Run(g, passes.Load, &passes.Config{Shapes: shapes, Supports: runtime.CPU(runtime.Options{}).Supports}); err != nil {
		b.Fatal(err)
	}
	return g, inputs
}

// BenchmarkBertBaseForwardCrsc times crsc alone; the ort-tagged
// BenchmarkBertBaseForward compares with ONNX Runtime in the same run.
func BenchmarkBertBaseForwardCrsc(b *testing.B) {
	g, inputs := bertBase(b, 8, 128)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := runtime.Run(g, inputs, runtime.Options{Threads: 2}); err != nil {
			b.Fatal(err)
		}
	}
}
