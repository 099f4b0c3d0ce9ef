package models

import (
	"testing"
)

// bertTiny is the config of testdata/onnx/bert_tiny_cls (gen.py's BertConfig).
var bertTiny = BertConfig{Vocab: 120, MaxPositions: 64, TypeVocab: 2, Hidden: 32, Layers: 2, Heads: 2, FFN: 64, Labels: 2}

// TestBertTinyMatchesTorch is the structure check for BuildBert: with the
// torch weights it must reproduce torch's logits (the padded row of set0
// also checks the mask: -10000 and torch's finfo.min both zero the
// softmax in float32).
func TestBertTinyMatchesTorch(t *testing.T) {
	g, err := BuildBert(bertTiny, 1)
	if err != nil {
		t.Fatal(err)
	}
	copyTorchWeights(t, g, "bert_tiny_cls.op13.train.onnx")
	for _, set := range []string{"set0", "set1"} {
		in := readSet(t, "bert_tiny_cls", set, "input_ids", "attention_mask", "token_type_ids")
		ref := readSet(t, "bert_tiny_cls", set, "output_logits")
		outs := runCPU(t, g.Clone(), in)
		d := maxAbsDiff(outs["logits"], ref["output_logits"])
		t.Logf("%s: max |Δlogits| vs torch %.2g", set, d)
		if d > 1e-4 {
			t.Errorf("%s: logits differ from torch by up to %g", set, d)
		}
	}
}

// TestBertWithMatchesBert: the old entry point is BuildBertWith with a seed.
func TestBertWithMatchesBert(t *testing.T) {
	a, err := BuildBert(bertTiny, 7)
	if err != nil {
		t.Fatal(err)
	}
	b, err := BuildBertWith(bertTiny, BuildOptions{Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Inits) != len(b.Inits) || len(a.Nodes) != len(b.Nodes) {
		t.Fatalf("graphs differ: %d/%d inits, %d/%d nodes", len(a.Inits), len(b.Inits), len(a.Nodes), len(b.Nodes))
	}
	for i, v := range a.Inits {
		if w := b.Inits[i]; v.Name != w.Name || (v.Init.F32 != nil && maxAbsDiff(v.Init, w.Init) != 0) {
			t.Fatalf("initializer %d differs: %s vs %s", i, v.Name, w.Name)
		}
	}
}
