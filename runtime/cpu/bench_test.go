package cpu

import (
	"math/rand"
	"testing"

	"crsc/compiler/ir"
)

// BERT-base shapes: batch 8, sequence 128, hidden 768, 12 heads.
func benchKernel(b *testing.B, op string, a attrs, in ...*ir.Tensor) {
	benchDomainKernel(b, "", op, a, in...)
}

// benchDomainKernel runs op of domain on 2 threads (the CPU runtime's
// default on the target machine) over inputs filled with N(0, 1) values.
func benchDomainKernel(b *testing.B, domain, op string, a attrs, in ...*ir.Tensor) {
	k, ok := Lookup(domain, op)
	if !ok {
		b.Fatalf("no kernel %s:%s", domain, op)
	}
	r := rand.New(rand.NewSource(1))
	for _, t := range in {
		for i := range t.F32 {
			t.F32[i] = float32(r.NormFloat64())
		}
	}
	node := &ir.Node{Name: "b", Op: op, Attrs: a}
	ctx := &Ctx{Threads: 2, Seed: 7, Step: 3}
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

// The non-GEMM ops of a BERT-base training step, at their shapes there.

func BenchmarkGeluFFN(b *testing.B) {
	benchDomainKernel(b, msDomain, "Gelu", nil, ir.NewTensor(ir.Float32, 8, 128, 3072))
}

func BenchmarkGeluTanhFFN(b *testing.B) {
	benchKernel(b, "Gelu", attrs{"approximate": ir.StringAttr("tanh")}, ir.NewTensor(ir.Float32, 8, 128, 3072))
}

func BenchmarkGeluGradFFN(b *testing.B) {
	benchDomainKernel(b, crscDomain, "GeluGrad", nil, ir.NewTensor(ir.Float32, 8, 128, 3072), ir.NewTensor(ir.Float32, 8, 128, 3072))
}

func benchTrainingMode() (*ir.Tensor, *ir.Tensor) {
	return ir.FromFloat32([]int{}, []float32{0.1}), &ir.Tensor{DType: ir.Bool, Shape: []int{}, Bool: []bool{true}}
}

func BenchmarkDropoutScores(b *testing.B) {
	ratio, train := benchTrainingMode()
	benchKernel(b, "Dropout", nil, ir.NewTensor(ir.Float32, 8, 12, 128, 128), ratio, train)
}

func BenchmarkDropoutMaskGradScores(b *testing.B) {
	ratio, train := benchTrainingMode()
	benchDomainKernel(b, crscDomain, "DropoutMaskGrad", attrs{"forward_node": ir.StringAttr("d")}, ir.NewTensor(ir.Float32, 8, 12, 128, 128), ratio, train)
}

func BenchmarkSumToBias(b *testing.B) {
	shape := &ir.Tensor{DType: ir.Int64, Shape: []int{1}, I64: []int64{3072}}
	benchDomainKernel(b, crscDomain, "SumTo", nil, ir.NewTensor(ir.Float32, 8, 128, 3072), shape)
}

func BenchmarkLayerNormGradFromOutput(b *testing.B) {
	scale, bias := ir.NewTensor(ir.Float32, 768), ir.NewTensor(ir.Float32, 768)
	inv := ir.NewTensor(ir.Float32, 8, 128, 1)
	benchDomainKernel(b, crscDomain, "LayerNormalizationGradFromOutput", nil,
		ir.NewTensor(ir.Float32, 8, 128, 768), ir.NewTensor(ir.Float32, 8, 128, 768), scale, bias, inv)
}
