package passes_test

import (
	"path/filepath"
	"slices"
	"testing"

	"crsc/compiler/ir"
	"crsc/compiler/onnx"
	"crsc/compiler/passes"
	"crsc/internal/npy"
	"crsc/internal/testutil"
	"crsc/runtime"
)

const optimumT5 = "../../testdata/onnx/optimum_t5_tiny/"

func readNpy(t *testing.T, name string) *ir.Tensor {
	t.Helper()
	x, err := npy.ReadFile(optimumT5 + name)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

// TestLinkSeq2Seq: Optimum's encoder_model.onnx + decoder_model.onnx of
// the tiny T5 linked into one graph give torch's loss and logits with the
// decoder inputs computed from the labels; the embeddings are shared and
// the LM head tied; the graph trains; split again and exported, the two
// parts give the same logits.
func TestLinkSeq2Seq(t *testing.T) {
	enc := loadExport(t, optimumT5+"encoder_model.onnx")
	dec := loadExport(t, optimumT5+"decoder_model.onnx")
	g, s, err := passes.LinkSeq2Seq(enc, dec, passes.Seq2SeqSpec{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("linked: %+v", *s)
	if !slices.Contains(s.Shared, "shared.weight") || len(s.Tied) != 1 {
		t.Errorf("shared %v, tied %v: want shared.weight shared and the LM head tied to it", s.Shared, s.Tied)
	}
	var names []string
	for _, in := range g.Inputs {
		names = append(names, in.Name)
	}
	if !slices.Equal(names, []string{"input_ids", "attention_mask", "labels"}) || g.Outputs[0].Name != "loss" || g.Outputs[1].Name != "logits" {
		t.Errorf("inputs %v outputs %v", names, g.Outputs)
	}
	feeds := map[string]*ir.Tensor{
		"input_ids": readNpy(t, "input_input_ids.npy"), "attention_mask": readNpy(t, "input_attention_mask.npy"), "labels": readNpy(t, "input_labels.npy"),
	}
	out := testutil.Run(t, g, feeds, runtime.Options{})
	if d := maxAbsDiff(out["logits"].F32, readNpy(t, "output_logits.npy").F32); d > 1e-4 {
		t.Errorf("logits differ from torch's by %g", d)
	}
	if d := maxAbsDiff(out["loss"].F32, readNpy(t, "output_loss.npy").F32); d > 1e-5 {
		t.Errorf("loss %v, torch %v", out["loss"].F32, readNpy(t, "output_loss.npy").F32)
	}

	// Split for export, through ONNX files: encoder then decoder.
	e, d, err := passes.SplitSeq2Seq(g, s)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for name, part := range map[string]*ir.Graph{"encoder_model.onnx": e, "decoder_model.onnx": d} {
		if err := onnx.Save(part, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	e, d = loadExport(t, filepath.Join(dir, "encoder_model.onnx")), loadExport(t, filepath.Join(dir, "decoder_model.onnx"))
	hidden := testutil.Run(t, e, map[string]*ir.Tensor{"input_ids": feeds["input_ids"], "attention_mask": feeds["attention_mask"]}, runtime.Options{})
	logits := testutil.Run(t, d, map[string]*ir.Tensor{"input_ids": readNpy(t, "input_decoder_input_ids.npy"), "encoder_attention_mask": feeds["attention_mask"], "encoder_hidden_states": hidden["last_hidden_state"]}, runtime.Options{})
	if diff := maxAbsDiff(out["logits"].F32, logits["logits"].F32); diff > 1e-5 {
		t.Errorf("split export's logits differ from the linked graph's by %g", diff)
	}

	// The linked graph trains: its loss output is the default loss.
	testutil.LoadShapes(t, g, map[string]ir.Shape{"input_ids": ir.StaticShape(2, 7), "labels": ir.StaticShape(2, 4)})
	tr, err := passes.Compile(g, passes.TrainingSpec{Memory: true})
	if err != nil {
		t.Fatal(err)
	}
	losses := adamSteps(t, g, tr, feeds, 5)
	t.Logf("losses %v", losses)
	if !(losses[4] < losses[0]) {
		t.Errorf("loss did not fall: %v", losses)
	}
}
