package models

import (
	"fmt"
	"math"

	"crsc/compiler/ir"
)

// T5Config sizes a T5ForConditionalGeneration (Hugging Face field names in
// the comments).
type T5Config struct {
	Vocab         int // vocab_size
	DModel        int // d_model
	DKV           int // d_kv: per-head size; Heads·DKV need not equal DModel (T5-3B: 32·128 = 4096 ≠ 1024)
	DFF           int // d_ff
	Layers        int // num_layers (encoder)
	DecoderLayers int // num_decoder_layers
	Heads         int // num_heads
	Buckets       int // relative_attention_num_buckets
	MaxDistance   int // relative_attention_max_distance
	// FFN is feed_forward_proj: "relu" for T5 v1.0 (wi, wo; LM head tied to
	// the shared embedding) or "gated-gelu" for v1.1 (wi_0, wi_1, wo with
	// tanh-GELU; an untied lm_head, as the google/t5-v1_1-* checkpoints have).
	FFN string
}

// The original (v1.0) T5 checkpoints t5-small … t5-3b.
var (
	T5Small = T5Config{Vocab: 32128, DModel: 512, DKV: 64, DFF: 2048, Layers: 6, DecoderLayers: 6, Heads: 8, Buckets: 32, MaxDistance: 128, FFN: "relu"}
	T5Base  = T5Config{Vocab: 32128, DModel: 768, DKV: 64, DFF: 3072, Layers: 12, DecoderLayers: 12, Heads: 12, Buckets: 32, MaxDistance: 128, FFN: "relu"}
	T5Large = T5Config{Vocab: 32128, DModel: 1024, DKV: 64, DFF: 4096, Layers: 24, DecoderLayers: 24, Heads: 16, Buckets: 32, MaxDistance: 128, FFN: "relu"}
	T5_3B   = T5Config{Vocab: 32128, DModel: 1024, DKV: 128, DFF: 16384, Layers: 24, DecoderLayers: 24, Heads: 32, Buckets: 32, MaxDistance: 128, FFN: "relu"}
)

// t5LayerNormEps is layer_norm_epsilon, the same for every T5 checkpoint.
const t5LayerNormEps = 1e-6

// BuildT5 returns a T5ForConditionalGeneration training graph (opset 17)
// with the structure and parameter names of a Hugging Face export, so that
// benchmarks and memory plans on it carry over to the real model. Inputs
// input_ids, attention_mask (int64 [batch, src_len]), decoder_input_ids,
// labels (int64 [batch, tgt_len]); outputs loss (scalar, mean cross-entropy
// ignoring label -100) then logits [batch, tgt_len, vocab].
//
// Linear weights are stored [in, out] and read by MatMul, as torch exports
// them after folding the transpose. Everything that depends on the sequence
// lengths (relative position buckets, causal mask) is computed in the graph
// from Shape and Range, so once passes.Load binds the input shapes it all
// folds to constants, as it does for a real export.
func BuildT5(c T5Config, opts BuildOptions) (*ir.Graph, error) {
	switch {
	case c.Vocab <= 0 || c.DModel <= 0 || c.DKV <= 0 || c.DFF <= 0 || c.Heads <= 0 || c.Layers <= 0 || c.DecoderLayers <= 0:
		return nil, fmt.Errorf("t5: every size must be positive: %+v", c)
	case c.FFN != "relu" && c.FFN != "gated-gelu":
		return nil, fmt.Errorf(`t5: FFN %q is neither "relu" nor "gated-gelu"`, c.FFN)
	case c.Buckets < 4:
		// The encoder's bucketing halves Buckets per direction and again
		// for the exact range, then divides by that range.
		return nil, fmt.Errorf("t5: Buckets %d must be at least 4", c.Buckets)
	case c.MaxDistance <= c.Buckets/2:
		// The log-spaced buckets divide by log(MaxDistance / exact range),
		// which must be positive for both stacks.
		return nil, fmt.Errorf("t5: MaxDistance %d must exceed Buckets/2 = %d", c.MaxDistance, c.Buckets/2)
	}
	t := &t5{builder: newBuilder("t5", 17, opts), c: c}
	t.consts()

	srcDims := ir.Shape{ir.Symbol("batch"), ir.Symbol("src_len")}
	tgtDims := ir.Shape{ir.Symbol("batch"), ir.Symbol("tgt_len")}
	ids := t.g.AddInput("input_ids", ir.Int64, srcDims)
	mask := t.g.AddInput("attention_mask", ir.Int64, srcDims.Clone())
	decIDs := t.g.AddInput("decoder_input_ids", ir.Int64, tgtDims)
	labels := t.g.AddInput("labels", ir.Int64, tgtDims.Clone())

	// One embedding table serves the encoder, the decoder and (in v1.0) the
	// LM head, so the parameter is counted and trained once. Random weights
	// are small (std 0.02, like BERT's) so that an untrained model predicts
	// near-uniformly: loss ≈ ln(vocab).
	shared := t.weight("shared.weight", 0.02, c.Vocab, c.DModel)
	enc := t.encoder(shared, ids, mask)
	dec := t.decoder(shared, decIDs, enc, mask)

	var logits *ir.Value
	if c.FFN == "relu" {
		// Tied head: HF rescales by d_model**-0.5 before reusing the
		// embedding, read through a Transpose as in the train exports (an
		// eval export folds it into a second copy, which would double the
		// largest parameter).
		dec = t.op("Mul", "/Mul", nil, dec, t.scalar("/rescale", float32(math.Pow(float64(c.DModel), -0.5))))
		head := t.op("Transpose", "lm_head/Transpose", ir.Attrs{"perm": ir.IntsAttr(1, 0)}, shared)
		logits = t.op("MatMul", "lm_head/MatMul", nil, dec, head)
	} else {
		logits = t.linear("lm_head", dec, c.DModel, c.Vocab, false)
	}

	// F.cross_entropy(logits.view(-1, vocab), labels.view(-1), ignore_index=-100).
	flat := t.op("Reshape", "/Reshape", nil, logits, t.ints("/logits_2d", -1, int64(c.Vocab)))
	flatLabels := t.op("Reshape", "/Reshape_1", nil, labels, t.ints("/labels_1d", -1))
	loss := t.op("SoftmaxCrossEntropyLoss", "/SoftmaxCrossEntropyLoss",
		ir.Attrs{"ignore_index": ir.IntAttr(-100), "reduction": ir.StringAttr("mean")}, flat, flatLabels)

	g, err := t.finish(loss, logits)
	if err != nil {
		return nil, err
	}
	g.Outputs[0].Name, g.Outputs[1].Name = "loss", "logits"
	return g, nil
}

// t5 is a builder that knows the T5 config and the constants every layer
// shares.
type t5 struct {
	*builder
	c T5Config

	one, two, eps, finfoMin *ir.Value // float32 scalars
	zero, oneI              *ir.Value // int64 scalars (Range bounds)
	axis0, axis1            *ir.Value // Unsqueeze axes
	splitHeads, merge       *ir.Value // Reshape targets [0,0,H,DKV] and [0,0,H·DKV]
}

// consts adds the constants shared by all layers, once.
func (t *t5) consts() {
	t.one = t.scalar("const/one", 1)
	t.two = t.scalar("const/two", 2)
	t.eps = t.scalar("const/eps", t5LayerNormEps)
	// HF masks with finfo(float32).min, not -inf: masked scores stay finite
	// and a fully masked row still softmaxes to something.
	t.finfoMin = t.scalar("const/finfo_min", -math.MaxFloat32)
	t.zero = t.g.AddInit("const/zero_i64", ir.FromInt64(nil, []int64{0}))
	t.oneI = t.g.AddInit("const/one_i64", ir.FromInt64(nil, []int64{1}))
	t.axis0 = t.ints("const/axis0", 0)
	t.axis1 = t.ints("const/axis1", 1)
	t.splitHeads = t.ints("const/split_heads", 0, 0, int64(t.c.Heads), int64(t.c.DKV))
	t.merge = t.ints("const/merge_heads", 0, 0, int64(t.c.Heads*t.c.DKV))
}

// dim returns dimension axis of x's runtime shape as an int64 scalar.
func (t *t5) dim(name string, x *ir.Value, axis int64) *ir.Value {
	idx := t.g.AddInit(name+"/idx", ir.FromInt64(nil, []int64{axis}))
	return t.op("Gather", name+"/Gather", ir.Attrs{"axis": ir.IntAttr(0)}, t.op("Shape", name+"/Shape", nil, x), idx)
}

// invertMask turns a 0/1 mask into HF's additive one: (1 - m) · finfo.min.
func (t *t5) invertMask(name string, m *ir.Value) *ir.Value {
	m = t.op("Cast", name+"/Cast", ir.Attrs{"to": ir.IntAttr(ir.DTypeToONNX(ir.Float32))}, m)
	return t.op("Mul", name+"/Mul", nil, t.op("Sub", name+"/Sub", nil, t.one, m), t.finfoMin)
}

// encoder is T5Stack(is_decoder=False); it returns the final hidden states.
func (t *t5) encoder(shared, ids, mask *ir.Value) *ir.Value {
	x := t.drop("/encoder/dropout", t.op("Gather", "/encoder/embed_tokens", nil, shared, ids))
	// attention_mask[:, None, None, :] → [batch, 1, 1, src_len].
	m := t.op("Unsqueeze", "/encoder/mask/Unsqueeze", nil, mask, t.ints("/encoder/mask/axes", 1, 2))
	m = t.invertMask("/encoder/mask", m)

	var bias *ir.Value // layer 0 computes it; every later layer reuses it
	for l := 0; l < t.c.Layers; l++ {
		pre := fmt.Sprintf("encoder.block.%d", l)
		x = t.selfAttention(pre+".layer.0", x, m, &bias, l == 0, true)
		x = t.feedForward(pre+".layer.1", x)
	}
	return t.drop("/encoder/dropout_final", t.rmsNorm("encoder.final_layer_norm", x))
}

// decoder is T5Stack(is_decoder=True) over the encoder output enc; encMask
// is the encoder's 0/1 attention mask.
func (t *t5) decoder(shared, ids, enc, encMask *ir.Value) *ir.Value {
	x := t.drop("/decoder/dropout", t.op("Gather", "/decoder/embed_tokens", nil, shared, ids))

	// Causal self-attention mask, as get_extended_attention_mask builds it:
	// seq_ids[None, None, :].repeat(batch, tgt_len, 1) <= seq_ids[None, :, None],
	// times an all-ones decoder attention mask, then inverted.
	batch := t.dim("/decoder/batch", ids, 0)
	tgt := t.dim("/decoder/tgt_len", ids, 1)
	seq := t.op("Range", "/decoder/Range", nil, t.zero, tgt, t.oneI)
	repeats := t.op("Concat", "/decoder/repeats", ir.Attrs{"axis": ir.IntAttr(0)},
		t.op("Unsqueeze", "/decoder/batch/Unsqueeze", nil, batch, t.axis0),
		t.op("Unsqueeze", "/decoder/tgt_len/Unsqueeze", nil, tgt, t.axis0), t.ints("/decoder/one", 1))
	cols := t.op("Tile", "/decoder/Tile", nil, t.op("Unsqueeze", "/decoder/cols", nil, seq, t.ints("/decoder/cols/axes", 0, 1)), repeats)
	rows := t.op("Unsqueeze", "/decoder/rows", nil, seq, t.ints("/decoder/rows/axes", 0, 2))
	causal := t.op("Cast", "/decoder/causal", ir.Attrs{"to": ir.IntAttr(ir.DTypeToONNX(ir.Float32))},
		t.op("LessOrEqual", "/decoder/LessOrEqual", nil, cols, rows))
	ones := t.op("ConstantOfShape", "/decoder/ones", ir.Attrs{"value": ir.TensorAttr(ir.FromFloat32([]int{1}, []float32{1}))},
		t.op("Slice", "/decoder/batch_tgt", nil, repeats, t.ints("/decoder/slice/start", 0), t.ints("/decoder/slice/end", 2)))
	m := t.op("Mul", "/decoder/mask/Mul", nil,
		t.op("Unsqueeze", "/decoder/causal/Unsqueeze", nil, causal, t.axis1),
		t.op("Unsqueeze", "/decoder/ones/Unsqueeze", nil, ones, t.ints("/decoder/ones/axes", 1, 2)))
	m = t.invertMask("/decoder/mask", m)
	encM := t.invertMask("/decoder/encoder_mask",
		t.op("Unsqueeze", "/decoder/encoder_mask/Unsqueeze", nil, encMask, t.ints("/decoder/encoder_mask/axes", 1, 2)))

	var selfBias, crossBias *ir.Value // computed by layer 0, reused after
	for l := 0; l < t.c.DecoderLayers; l++ {
		pre := fmt.Sprintf("decoder.block.%d", l)
		x = t.selfAttention(pre+".layer.0", x, m, &selfBias, l == 0, false)

		cross := pre + ".layer.1"
		h := t.rmsNorm(cross+".layer_norm", x)
		if l == 0 {
			// Cross-attention has no relative bias: HF adds the encoder
			// mask to zeros of shape [1, heads, tgt_len, src_len], which
			// materializes a [batch, heads, tgt_len, src_len] bias that the
			// real model holds too.
			shape := t.op("Concat", cross+".EncDecAttention/bias_shape", ir.Attrs{"axis": ir.IntAttr(0)},
				t.ints(cross+".EncDecAttention/one_heads", 1, int64(t.c.Heads)),
				t.op("Unsqueeze", cross+".EncDecAttention/q_len", nil, t.dim(cross+".EncDecAttention/q_len", h, 1), t.axis0),
				t.op("Unsqueeze", cross+".EncDecAttention/k_len", nil, t.dim(cross+".EncDecAttention/k_len", enc, 1), t.axis0))
			zeros := t.op("ConstantOfShape", cross+".EncDecAttention/zeros", ir.Attrs{"value": ir.TensorAttr(ir.FromFloat32([]int{1}, []float32{0}))}, shape)
			crossBias = t.op("Add", cross+".EncDecAttention/Add_mask", nil, zeros, encM)
		}
		x = t.op("Add", cross+"/Add", nil, x, t.drop(cross+"/dropout", t.attention(cross+".EncDecAttention", h, enc, crossBias)))

		x = t.feedForward(pre+".layer.2", x)
	}
	return t.drop("/decoder/dropout_final", t.rmsNorm("decoder.final_layer_norm", x))
}

// rmsNorm is T5LayerNorm as torch exports it: no mean subtraction, no bias:
// weight · (x · 1/√(mean(x²) + eps)).
// selfAttention adds the self-attention sublayer att to x: the pre-norm,
// attention with the position bias plus mask m (computed into *bias by the
// first layer, reused by the later ones), dropout and the residual add.
func (t *t5) selfAttention(att string, x, m *ir.Value, bias **ir.Value, first, bidirectional bool) *ir.Value {
	h := t.rmsNorm(att+".layer_norm", x)
	if first {
		*bias = t.op("Add", att+".SelfAttention/Add_mask", nil, t.positionBias(att+".SelfAttention", h, bidirectional), m)
	}
	return t.op("Add", att+"/Add", nil, x, t.drop(att+"/dropout", t.attention(att+".SelfAttention", h, h, *bias)))
}

func (t *t5) rmsNorm(prefix string, x *ir.Value) *ir.Value {
	v := t.op("ReduceMean", prefix+"/ReduceMean", ir.Attrs{"axes": ir.IntsAttr(-1), "keepdims": ir.IntAttr(1)},
		t.op("Pow", prefix+"/Pow", nil, x, t.two))
	inv := t.op("Div", prefix+"/Div", nil, t.one, t.op("Sqrt", prefix+"/Sqrt", nil, t.op("Add", prefix+"/Add", nil, v, t.eps)))
	return t.op("Mul", prefix+"/Mul_1", nil, t.weight(prefix+".weight", -1, t.c.DModel), t.op("Mul", prefix+"/Mul", nil, x, inv))
}

// attention is T5Attention: queries from x, keys and values from kv (x
// itself for self-attention), no 1/√d scaling (T5 folds it into the
// initialization), an additive bias (relative positions plus mask), no
// biases in the projections.
func (t *t5) attention(pre string, x, kv, bias *ir.Value) *ir.Value {
	c := t.c
	inner := c.Heads * c.DKV
	heads := func(name string, v *ir.Value, perm ...int64) *ir.Value {
		r := t.op("Reshape", name+"/Reshape", nil, v, t.splitHeads)
		return t.op("Transpose", name+"/Transpose", ir.Attrs{"perm": ir.IntsAttr(perm...)}, r)
	}
	q := heads(pre+".q", t.linear(pre+".q", x, c.DModel, inner, false), 0, 2, 1, 3)
	k := heads(pre+".k", t.linear(pre+".k", kv, c.DModel, inner, false), 0, 2, 3, 1) // already transposed for q·kᵀ
	v := heads(pre+".v", t.linear(pre+".v", kv, c.DModel, inner, false), 0, 2, 1, 3)
	scores := t.op("Add", pre+"/Add", nil, t.op("MatMul", pre+"/MatMul", nil, q, k), bias)
	probs := t.drop(pre+"/probs", t.op("Softmax", pre+"/Softmax", ir.Attrs{"axis": ir.IntAttr(-1)}, scores))
	ctx := t.op("MatMul", pre+"/MatMul_1", nil, probs, v)
	ctx = t.op("Reshape", pre+"/Reshape", nil, t.op("Transpose", pre+"/Transpose", ir.Attrs{"perm": ir.IntsAttr(0, 2, 1, 3)}, ctx), t.merge)
	return t.linear(pre+".o", ctx, inner, c.DModel, false)
}

// positionBias is T5Attention.compute_bias for a self-attention over h's
// sequence: relative positions memory − context from a Range over the
// length, bucketed by _relative_position_bucket (bidirectional in the
// encoder, causal in the decoder), looked up in this layer's
// relative_attention_bias table, shaped [1, heads, len, len].
func (t *t5) positionBias(pre string, h *ir.Value, bidirectional bool) *ir.Value {
	n := t.dim(pre+"/len", h, 1)
	pos := t.op("Range", pre+"/Range", nil, t.zero, n, t.oneI)
	context := t.op("Unsqueeze", pre+"/context", nil, pos, t.axis1) // [len, 1]
	memory := t.op("Unsqueeze", pre+"/memory", nil, pos, t.axis0)   // [1, len]
	rel := t.op("Sub", pre+"/Sub", nil, memory, context)
	buckets := t.bucket(pre, rel, bidirectional)
	table := t.weight(pre+".relative_attention_bias.weight", 0.02, t.c.Buckets, t.c.Heads)
	values := t.op("Gather", pre+"/relative_attention_bias/Gather", nil, table, buckets) // [len, len, heads]
	values = t.op("Transpose", pre+"/bias/Transpose", ir.Attrs{"perm": ir.IntsAttr(2, 0, 1)}, values)
	return t.op("Unsqueeze", pre+"/bias/Unsqueeze", nil, values, t.axis0)
}

// bucket is T5Attention._relative_position_bucket on int64 relative
// positions: exact buckets for small distances, logarithmic ones up to
// MaxDistance, the last bucket beyond. Bidirectional splits the buckets
// between keys after and before the query; causal keeps only the past.
func (t *t5) bucket(pre string, rel *ir.Value, bidirectional bool) *ir.Value {
	i64 := func(name string, v int64) *ir.Value { return t.g.AddInit(pre+"/"+name, ir.FromInt64(nil, []int64{v})) }
	numBuckets := int64(t.c.Buckets)
	var base, dist *ir.Value // bucket offset for the direction, and |distance|
	if bidirectional {
		numBuckets /= 2
		after := t.op("Cast", pre+"/after", ir.Attrs{"to": ir.IntAttr(ir.DTypeToONNX(ir.Int64))},
			t.op("Greater", pre+"/Greater", nil, rel, i64("zero", 0)))
		base = t.op("Mul", pre+"/after_offset", nil, after, i64("half_buckets", numBuckets))
		dist = t.op("Abs", pre+"/Abs", nil, rel)
	} else {
		// -min(rel, 0): distance into the past; future keys land in bucket 0
		// and the causal mask hides them anyway.
		dist = t.op("Neg", pre+"/Neg", nil, t.op("Min", pre+"/Min", nil, rel, i64("zero", 0)))
	}
	maxExact := numBuckets / 2
	isSmall := t.op("Less", pre+"/Less", nil, dist, i64("max_exact", maxExact))
	// max_exact + int(log(dist/max_exact) / log(max_distance/max_exact) · (num_buckets − max_exact)).
	// At dist 0 the Log gives -inf and the Cast garbage, but Where discards
	// those entries (dist < max_exact), exactly as in the export.
	f := t.op("Cast", pre+"/Cast_f", ir.Attrs{"to": ir.IntAttr(ir.DTypeToONNX(ir.Float32))}, dist)
	f = t.op("Log", pre+"/Log", nil, t.op("Div", pre+"/Div", nil, f, t.scalar(pre+"/max_exact_f", float32(maxExact))))
	f = t.op("Div", pre+"/Div_1", nil, f, t.scalar(pre+"/log_ratio", float32(math.Log(float64(t.c.MaxDistance)/float64(maxExact)))))
	f = t.op("Mul", pre+"/Mul", nil, f, t.scalar(pre+"/log_buckets", float32(numBuckets-maxExact)))
	large := t.op("Add", pre+"/Add_large", nil, t.op("Cast", pre+"/Cast_i", ir.Attrs{"to": ir.IntAttr(ir.DTypeToONNX(ir.Int64))}, f), i64("max_exact_i", maxExact))
	large = t.op("Min", pre+"/Min_large", nil, large, i64("last_bucket", numBuckets-1))
	b := t.op("Where", pre+"/Where", nil, isSmall, dist, large)
	if base != nil {
		b = t.op("Add", pre+"/Add_bucket", nil, base, b)
	}
	return b
}

// feedForward is T5LayerFF: pre-norm, the dense-act-dense block, residual.
func (t *t5) feedForward(pre string, x *ir.Value) *ir.Value {
	c := t.c
	h := t.rmsNorm(pre+".layer_norm", x)
	if c.FFN == "relu" {
		ff := pre + ".DenseReluDense"
		h = t.drop(ff+"/act", t.op("Relu", ff+"/Relu", nil, t.linear(ff+".wi", h, c.DModel, c.DFF, false)))
		h = t.linear(ff+".wo", h, c.DFF, c.DModel, false)
	} else {
		// T5DenseGatedActDense: gelu_new(h·wi_0) ⊙ (h·wi_1), then wo.
		ff := pre + ".DenseReluDense"
		gate := t.geluTanh(ff+"/act", t.linear(ff+".wi_0", h, c.DModel, c.DFF, false))
		h = t.op("Mul", ff+"/Mul", nil, gate, t.linear(ff+".wi_1", h, c.DModel, c.DFF, false))
		h = t.linear(ff+".wo", h, c.DFF, c.DModel, false)
	}
	return t.op("Add", pre+"/Add", nil, x, t.drop(pre+"/dropout", h))
}

// geluTanh is HF's gelu_new, the tanh approximation T5 v1.1 uses:
// 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).
func (t *t5) geluTanh(prefix string, x *ir.Value) *ir.Value {
	cube := t.op("Mul", prefix+"/Mul_cube", nil, t.op("Pow", prefix+"/Pow", nil, x, t.scalar(prefix+"/three", 3)), t.scalar(prefix+"/coef", 0.044715))
	inner := t.op("Mul", prefix+"/Mul_inner", nil, t.op("Add", prefix+"/Add", nil, x, cube), t.scalar(prefix+"/sqrt_2_pi", float32(math.Sqrt(2/math.Pi))))
	one := t.op("Add", prefix+"/Add_1", nil, t.op("Tanh", prefix+"/Tanh", nil, inner), t.one)
	return t.op("Mul", prefix+"/Mul", nil, t.op("Mul", prefix+"/Mul_half", nil, x, t.scalar(prefix+"/half", 0.5)), one)
}
