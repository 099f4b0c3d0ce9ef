package cpu

import (
	"testing"

	"crsc/ir"
)

// BERT-base shapes: batch 8, sequence 128, hidden 768, 12 heads.
func benchKernel(b *testing.B, op string, a attrs, in ...*ir.Tensor) {
	k, _ := Lookup("", op)
	node := &ir.Node{Name: "b", Op: op, Attrs: a}
	ctx := &Ctx{}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := k(ctx, node, in); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAddBias(b *testing.B) {
	benchKernel(b, "Add", nil, ir.NewTensor(ir.Float32, 8, 128, 768), ir.NewTensor(ir.Float32, 768))
}

func BenchmarkSoftmaxScores(b *testing.B) {
	benchKernel(b, "Softmax", nil, ir.NewTensor(ir.Float32, 8, 12, 128, 128))
}

func BenchmarkLayerNorm(b *testing.B) {
	benchKernel(b, "LayerNormalization", nil, ir.NewTensor(ir.Float32, 8, 128, 768), ir.NewTensor(ir.Float32, 768), ir.NewTensor(ir.Float32, 768))
}

func BenchmarkTransposeHeads(b *testing.B) {
	benchKernel(b, "Transpose", attrs{"perm": ir.IntsAttr(0, 2, 1, 3)}, ir.NewTensor(ir.Float32, 8, 128, 12, 64))
}

func BenchmarkMatMulQK(b *testing.B) {
	benchKernel(b, "MatMul", nil, ir.NewTensor(ir.Float32, 8, 12, 128, 64), ir.NewTensor(ir.Float32, 8, 12, 64, 128))
}
