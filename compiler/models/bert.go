package models

import (
	"fmt"
	"math"

	"crsc/compiler/ir"
)

// BertConfig sizes a BERT encoder with a sequence-classification head.
type BertConfig struct {
	Vocab, MaxPositions, TypeVocab int
	Hidden, Layers, Heads, FFN     int
	Labels                         int
}

// BertBase and BertLarge are the Hugging Face configurations.
var (
	BertBase  = BertConfig{Vocab: 30522, MaxPositions: 512, TypeVocab: 2, Hidden: 768, Layers: 12, Heads: 12, FFN: 3072, Labels: 2}
	BertLarge = BertConfig{Vocab: 30522, MaxPositions: 512, TypeVocab: 2, Hidden: 1024, Layers: 24, Heads: 16, FFN: 4096, Labels: 2}
	// BertTiny is a toy of the same structure, for quick benchmarks and
	// dry runs of scripts.
	BertTiny = BertConfig{Vocab: 1000, MaxPositions: 128, TypeVocab: 2, Hidden: 64, Layers: 2, Heads: 2, FFN: 128, Labels: 2}
	// BertSmall is "a small BERT-style model" (4 layers, hidden 256) for
	// SST-2 studies trained from random initialization.
	BertSmall = BertConfig{Vocab: 30522, MaxPositions: 512, TypeVocab: 2, Hidden: 256, Layers: 4, Heads: 4, FFN: 1024, Labels: 2}
)

// BuildBert returns a BertForSequenceClassification graph (opset 17) with
// random weights drawn from seed: the same ops, shapes and parameter names
// as a Hugging Face export, so benchmarks and memory plans on it carry over
// to real models. Inputs input_ids, attention_mask, token_type_ids (int64
// [batch, seq]); output logits [batch, labels].
func BuildBert(c BertConfig, seed int64) (*ir.Graph, error) {
	return BuildBertWith(c, BuildOptions{Seed: seed})
}

// BuildBertWith is BuildBert with every build option (abstract weights for
// memory planning).
func BuildBertWith(c BertConfig, opts BuildOptions) (*ir.Graph, error) {
	if c.Hidden%c.Heads != 0 {
		return nil, fmt.Errorf("hidden %d is not a multiple of heads %d", c.Hidden, c.Heads)
	}
	b := newBuilder("bert", 17, opts)
	dims := ir.Shape{ir.Symbol("batch"), ir.Symbol("seq")}
	ids := b.g.AddInput("input_ids", ir.Int64, dims)
	mask := b.g.AddInput("attention_mask", ir.Int64, dims.Clone())
	types := b.g.AddInput("token_type_ids", ir.Int64, dims.Clone())

	// Embeddings: word + position + token type, then LayerNorm.
	pre := "bert.embeddings"
	positions := b.g.AddInit(pre+".position_ids", arange(c.MaxPositions))
	seqLen := b.op("Gather", pre+"/Gather_seq", ir.Attrs{"axis": ir.IntAttr(0)},
		b.op("Shape", pre+"/Shape", nil, ids), b.g.AddInit(pre+"/one_idx", ir.FromInt64([]int{1}, []int64{1})))
	posIDs := b.op("Slice", pre+"/Slice", nil, positions, b.ints(pre+"/zero", 0), seqLen, b.ints(pre+"/axis1", 1))
	x := b.op("Gather", pre+"/word", nil, b.weight(pre+".word_embeddings.weight", 0.02, c.Vocab, c.Hidden), ids)
	x = b.op("Add", pre+"/Add", nil, x, b.op("Gather", pre+"/type", nil, b.weight(pre+".token_type_embeddings.weight", 0.02, c.TypeVocab, c.Hidden), types))
	x = b.op("Add", pre+"/Add_1", nil, x, b.op("Gather", pre+"/pos", nil, b.weight(pre+".position_embeddings.weight", 0.02, c.MaxPositions, c.Hidden), posIDs))
	x = b.drop(pre+".dropout", b.layerNorm(pre+".LayerNorm", x, c.Hidden, 1e-12))

	// Extended attention mask: (1 - mask[:, None, None, :]) * -10000.
	m := b.op("Cast", "mask/Cast", ir.Attrs{"to": ir.IntAttr(ir.DTypeToONNX(ir.Float32))},
		b.op("Unsqueeze", "mask/Unsqueeze", ir.Attrs{"axes": ir.IntsAttr(1, 2)}, mask))
	m = b.op("Mul", "mask/Mul", nil, b.op("Sub", "mask/Sub", nil, b.scalar("mask/one", 1), m), b.scalar("mask/neg", -10000))

	headDim := c.Hidden / c.Heads
	for l := 0; l < c.Layers; l++ {
		x = b.bertLayer(fmt.Sprintf("bert.encoder.layer.%d", l), x, m, c, headDim)
	}

	// Pooler on token 0, then the classifier (Gemm, as 2-D exports have it).
	first := b.op("Gather", "bert.pooler/Gather", ir.Attrs{"axis": ir.IntAttr(1)}, x, b.g.AddInit("bert.pooler/zero", ir.FromInt64(nil, []int64{0})))
	pooled := b.op("Tanh", "bert.pooler/Tanh", nil, b.op("Gemm", "bert.pooler.dense", ir.Attrs{"transB": ir.IntAttr(1)},
		first, b.weight("bert.pooler.dense.weight", 0.02, c.Hidden, c.Hidden), b.weight("bert.pooler.dense.bias", 0, c.Hidden)))
	logits := b.op("Gemm", "classifier", ir.Attrs{"transB": ir.IntAttr(1)},
		b.drop("dropout", pooled), b.weight("classifier.weight", 0.02, c.Labels, c.Hidden), b.weight("classifier.bias", 0, c.Labels))
	g, err := b.finish(logits)
	if err != nil {
		return nil, err
	}
	g.Outputs[0].Name = "logits"
	return g, nil
}

func (b *builder) bertLayer(pre string, x, mask *ir.Value, c BertConfig, headDim int) *ir.Value {
	split := b.ints(pre+"/split_shape", 0, 0, int64(c.Heads), int64(headDim))
	merge := b.ints(pre+"/merge_shape", 0, 0, int64(c.Hidden))
	heads := func(name string, v *ir.Value, perm ...int64) *ir.Value {
		r := b.op("Reshape", name+"/Reshape", nil, v, split)
		return b.op("Transpose", name+"/Transpose", ir.Attrs{"perm": ir.IntsAttr(perm...)}, r)
	}
	att := pre + ".attention.self"
	q := heads(att+".query", b.linear(att+".query", x, c.Hidden, c.Hidden, true), 0, 2, 1, 3)
	k := heads(att+".key", b.linear(att+".key", x, c.Hidden, c.Hidden, true), 0, 2, 3, 1)
	v := heads(att+".value", b.linear(att+".value", x, c.Hidden, c.Hidden, true), 0, 2, 1, 3)
	scores := b.op("Div", att+"/Div", nil, b.op("MatMul", att+"/MatMul", nil, q, k), b.scalar(att+"/scale", float32(math.Sqrt(float64(headDim)))))
	probs := b.drop(att+".dropout", b.op("Softmax", att+"/Softmax", ir.Attrs{"axis": ir.IntAttr(-1)}, b.op("Add", att+"/Add", nil, scores, mask)))
	ctx := b.op("MatMul", att+"/MatMul_1", nil, probs, v)
	ctx = b.op("Reshape", att+"/Reshape", nil, b.op("Transpose", att+"/Transpose", ir.Attrs{"perm": ir.IntsAttr(0, 2, 1, 3)}, ctx), merge)

	out := pre + ".attention.output"
	h := b.drop(out+".dropout", b.linear(out+".dense", ctx, c.Hidden, c.Hidden, true))
	h = b.layerNorm(out+".LayerNorm", b.op("Add", out+"/Add", nil, h, x), c.Hidden, 1e-12)

	inter := b.gelu(pre+".intermediate.gelu", b.linear(pre+".intermediate.dense", h, c.Hidden, c.FFN, true))
	y := b.drop(pre+".output.dropout", b.linear(pre+".output.dense", inter, c.FFN, c.Hidden, true))
	return b.layerNorm(pre+".output.LayerNorm", b.op("Add", pre+".output/Add", nil, y, h), c.Hidden, 1e-12)
}

func arange(n int) *ir.Tensor {
	t := ir.NewTensor(ir.Int64, 1, n)
	for i := range t.I64 {
		t.I64[i] = int64(i)
	}
	return t
}
