package models

import (
	"math"
	"path/filepath"
	"strings"
	"testing"

	"crsc/compiler/ir"
	"crsc/compiler/onnx"
	"crsc/internal/npy"
	"crsc/internal/testutil"
	"crsc/runtime"
)

// t5Tiny is the config of testdata/onnx/t5_tiny (gen.py's T5Config).
var t5Tiny = T5Config{Vocab: 100, DModel: 32, DKV: 16, DFF: 64, Layers: 2, DecoderLayers: 2, Heads: 2, Buckets: 8, MaxDistance: 16, FFN: "relu"}

var refDir = filepath.Join("..", "..", "testdata", "onnx", "ref")

// readSet reads the input_*.npy (and output_*.npy) files of a reference set.
func readSet(t *testing.T, model, set string, names ...string) map[string]*ir.Tensor {
	t.Helper()
	out := map[string]*ir.Tensor{}
	for _, name := range names {
		file := "input_" + name + ".npy"
		if strings.HasPrefix(name, "output_") {
			file = name + ".npy"
		}
		x, err := npy.ReadFile(filepath.Join(refDir, model, set, file))
		if err != nil {
			t.Fatal(err)
		}
		out[name] = x
	}
	return out
}

// runCPU loads g for the CPU backend and runs it on inputs.
func runCPU(t *testing.T, g *ir.Graph, inputs map[string]*ir.Tensor) map[string]*ir.Tensor {
	t.Helper()
	testutil.LoadShapes(t, g, nil)
	return testutil.Run(t, g, inputs, runtime.Options{})
}

// copyTorchWeights overwrites every float parameter of g with the
// same-named initializer of a torch train export, which keeps torch's
// parameter names and [out, in] linear layout. A weight that g reads with
// MatMul is stored [in, out], so it is transposed on the way; embedding
// tables and Gemm(transB=1) operands keep torch's layout. Every parameter
// on either side must find its partner: that checks the names.
func copyTorchWeights(t *testing.T, g *ir.Graph, export string) {
	t.Helper()
	src, err := onnx.Load(filepath.Join("..", "..", "testdata", "onnx", export))
	if err != nil {
		t.Fatal(err)
	}
	torch := map[string]*ir.Tensor{}
	for _, v := range src.Inits {
		if v.Init.DType == ir.Float32 && v.Init.Len() > 1 {
			torch[v.Name] = v.Init
		}
	}
	readers := g.Consumers()
	for _, v := range g.Inits {
		if v.Init.DType != ir.Float32 || v.Init.Len() == 1 {
			continue // scalar constants, int buffers
		}
		w, ok := torch[v.Name]
		if !ok {
			t.Errorf("parameter %s %v has no torch counterpart", v.Name, v.Init.Shape)
			continue
		}
		delete(torch, v.Name)
		matmul := false
		for _, n := range readers[v] {
			matmul = matmul || n.Op == "MatMul"
		}
		if matmul {
			w = transpose2D(w)
		}
		if !v.Shape.Equal(ir.StaticShape(w.Shape...)) {
			t.Errorf("%s: built %v, torch (as read) %v", v.Name, v.Shape, w.Shape)
			continue
		}
		v.Init = w
	}
	for name := range torch {
		t.Errorf("torch parameter %s is not in the built graph", name)
	}
}

func transpose2D(x *ir.Tensor) *ir.Tensor {
	r, c := x.Shape[0], x.Shape[1]
	out := ir.NewTensor(ir.Float32, c, r)
	for i := 0; i < r; i++ {
		for j := 0; j < c; j++ {
			out.F32[j*r+i] = x.F32[i*c+j]
		}
	}
	return out
}

func maxAbsDiff(a, b *ir.Tensor) float64 {
	d := 0.0
	for i := range a.F32 {
		d = math.Max(d, math.Abs(float64(a.F32[i]-b.F32[i])))
	}
	return d
}

var t5Inputs = []string{"input_ids", "attention_mask", "decoder_input_ids", "labels"}

// TestT5TinyRuns: random weights give a finite loss near ln(vocab) (the
// logits are small, so the prediction is near uniform) and logits
// [batch, tgt_len, vocab].
func TestT5TinyRuns(t *testing.T) {
	g, err := BuildT5(t5Tiny, BuildOptions{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if got := g.Outputs[0].Name + "," + g.Outputs[1].Name; got != "loss,logits" {
		t.Fatalf("outputs %s, want loss,logits", got)
	}
	in := readSet(t, "t5_tiny", "set0", t5Inputs...)
	outs := runCPU(t, g, in)
	loss := outs["loss"]
	if len(loss.Shape) != 0 {
		t.Fatalf("loss shape %v, want scalar", loss.Shape)
	}
	l := float64(loss.F32[0])
	if math.IsNaN(l) || math.IsInf(l, 0) || math.Abs(l-math.Log(100)) > 0.5 {
		t.Errorf("loss %g, want finite and near ln(100) = %.3f", l, math.Log(100))
	}
	ids := in["decoder_input_ids"].Shape
	if got, want := outs["logits"].Shape, []int{ids[0], ids[1], 100}; !ir.StaticShape(got...).Equal(ir.StaticShape(want...)) {
		t.Errorf("logits shape %v, want %v", got, want)
	}
}

// TestT5TinyMatchesTorch is the structure check: with the weights of the
// torch model that wrote testdata/onnx/t5_tiny, the built graph must give
// torch's loss and logits. Any difference from HF's T5 (bucketing, masks,
// norm, head rescale, bias sharing across layers) would show here.
func TestT5TinyMatchesTorch(t *testing.T) {
	g, err := BuildT5(t5Tiny, BuildOptions{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	copyTorchWeights(t, g, "t5_tiny.op13.train.onnx")
	for _, set := range []string{"set0", "set1"} {
		gs := g.Clone()
		in := readSet(t, "t5_tiny", set, t5Inputs...)
		ref := readSet(t, "t5_tiny", set, "output_loss", "output_logits")
		outs := runCPU(t, gs, in)
		dLoss := math.Abs(float64(outs["loss"].F32[0] - ref["output_loss"].F32[0]))
		dLogits := maxAbsDiff(outs["logits"], ref["output_logits"])
		t.Logf("%s: loss %g (torch %g), |Δloss| %.2g, max |Δlogits| %.2g", set, outs["loss"].F32[0], ref["output_loss"].F32[0], dLoss, dLogits)
		if dLoss > 1e-4 || dLogits > 1e-4 {
			t.Errorf("%s: differs from torch: |Δloss| %g, max |Δlogits| %g (tolerance 1e-4)", set, dLoss, dLogits)
		}
	}
}

// TestT5ParameterNames spot-checks the Hugging Face names and the [in, out]
// layout, and that only layer 0 of each stack owns a relative bias.
func TestT5ParameterNames(t *testing.T) {
	g, err := BuildT5(t5Tiny, BuildOptions{Abstract: true})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]int{
		"shared.weight": {100, 32},
		"encoder.block.0.layer.0.SelfAttention.q.weight":                       {32, 32},
		"encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight": {8, 2},
		"encoder.block.0.layer.1.DenseReluDense.wi.weight":                     {32, 64},
		"encoder.block.0.layer.1.DenseReluDense.wo.weight":                     {64, 32},
		"encoder.final_layer_norm.weight":                                      {32},
		"decoder.block.1.layer.1.EncDecAttention.k.weight":                     {32, 32},
		"decoder.block.1.layer.2.layer_norm.weight":                            {32},
		"decoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight": {8, 2},
		"decoder.final_layer_norm.weight":                                      {32},
	}
	for name, shape := range want {
		v := g.Value(name)
		if v == nil || v.Init == nil {
			t.Errorf("no parameter %s", name)
		} else if !v.Shape.Equal(ir.StaticShape(shape...)) {
			t.Errorf("%s: shape %v, want %v", name, v.Shape, shape)
		}
	}
	for _, v := range g.Inits {
		if strings.Contains(v.Name, "relative_attention_bias") && !strings.Contains(v.Name, "block.0.") {
			t.Errorf("%s: only block 0 has a relative attention bias", v.Name)
		}
		if strings.Contains(v.Name, "lm_head") {
			t.Errorf("%s: T5 v1.0 ties the LM head to shared.weight", v.Name)
		}
	}
}

// TestT5GatedGelu builds the v1.1 layout (wi_0/wi_1, untied lm_head) and
// runs it.
func TestT5GatedGelu(t *testing.T) {
	c := t5Tiny
	c.FFN = "gated-gelu"
	g, err := BuildT5(c, BuildOptions{Seed: 2})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"encoder.block.1.layer.1.DenseReluDense.wi_0.weight", "decoder.block.0.layer.2.DenseReluDense.wi_1.weight", "lm_head.weight"} {
		if v := g.Value(name); v == nil || v.Init == nil {
			t.Errorf("no parameter %s", name)
		}
	}
	outs := runCPU(t, g, readSet(t, "t5_tiny", "set1", t5Inputs...))
	if l := float64(outs["loss"].F32[0]); math.IsNaN(l) || math.IsInf(l, 0) {
		t.Errorf("loss %g", l)
	}
}

func TestT5RejectsBadConfig(t *testing.T) {
	for _, mod := range []func(*T5Config){
		func(c *T5Config) { c.FFN = "swiglu" },
		func(c *T5Config) { c.Heads = 0 },
		func(c *T5Config) { c.Buckets = 2 },
		func(c *T5Config) { c.MaxDistance = 4 },
	} {
		c := t5Tiny
		mod(&c)
		if _, err := BuildT5(c, BuildOptions{}); err == nil {
			t.Errorf("BuildT5(%+v) succeeded", c)
		}
	}
}
