//go:build ort

package runtime_test

import (
	"fmt"
	"math/rand"
	"path/filepath"
	"strings"
	"testing"

	"crsc/compiler/ir"
	"crsc/compiler/onnx"
	"crsc/internal/ortoracle"
	"crsc/runtime"
)

// randomTokens builds BERT-style inputs: ids in [1, vocab), the last pad[b]
// positions of row b masked out (id 0, mask 0).
func randomTokens(r *rand.Rand, batch, seq, vocab int, pad []int, names ...string) map[string]*ir.Tensor {
	ids := make([]int64, batch*seq)
	mask := make([]int64, batch*seq)
	types := make([]int64, batch*seq)
	for b := 0; b < batch; b++ {
		for s := 0; s < seq; s++ {
			if s < seq-pad[b] {
				ids[b*seq+s] = int64(1 + r.Intn(vocab-1))
				mask[b*seq+s] = 1
			}
		}
	}
	all := map[string]*ir.Tensor{
		"input_ids":      ir.FromInt64([]int{batch, seq}, ids),
		"attention_mask": ir.FromInt64([]int{batch, seq}, mask),
		"token_type_ids": ir.FromInt64([]int{batch, seq}, types),
	}
	out := map[string]*ir.Tensor{}
	for _, n := range names {
		out[n] = all[n]
	}
	return out
}

// oracleCase is a model and the input sets to compare it on.
type oracleCase struct {
	path string
	sets []map[string]*ir.Tensor
}

func oracleCases(t *testing.T) []oracleCase {
	var cases []oracleCase
	models, _ := filepath.Glob("../testdata/onnx/*.onnx")
	for _, path := range models {
		model := strings.SplitN(filepath.Base(path), ".", 2)[0]
		var sets []map[string]*ir.Tensor
		for _, s := range loadRefSets(t, model) {
			sets = append(sets, s.inputs)
		}
		cases = append(cases, oracleCase{path, sets})
	}
	shared := sharedDir(t)
	r := rand.New(rand.NewSource(42))
	bertNames := []string{"input_ids", "attention_mask", "token_type_ids"}
	cases = append(cases, oracleCase{filepath.Join(shared, "models", "hf_bert_tiny_tribuo.onnx"), []map[string]*ir.Tensor{
		randomTokens(r, 2, 13, 1656, []int{0, 4}, bertNames...),
		randomTokens(r, 3, 7, 1656, []int{2, 0, 5}, bertNames...),
	}})
	cases = append(cases, oracleCase{filepath.Join(shared, "models", "hf_distilbert_tiny_seqcls.onnx"), []map[string]*ir.Tensor{
		randomTokens(r, 2, 11, 30522, []int{3, 0}, "input_ids", "attention_mask"),
		randomTokens(r, 3, 5, 30522, []int{0, 1, 2}, "input_ids", "attention_mask"),
	}})
	return cases
}

// TestParityWithORT compares crsc with ONNX Runtime 1.30 on every eval model
// (ours and the third-party exports), folded and unfolded, and runs the
// model crsc exports through ONNX Runtime too.
func TestParityWithORT(t *testing.T) {
	for _, c := range oracleCases(t) {
		for i, inputs := range c.sets {
			t.Run(fmt.Sprintf("%s/set%d", filepath.Base(c.path), i), func(t *testing.T) {
				oraclePath := c.path
				if strings.Contains(c.path, ".train.") {
					// ORT's Dropout masks cannot match ours; compare the
					// rest of the training graph with Dropout switched off.
					oraclePath = withoutDropout(t, c.path)
				}
				want, err := ortoracle.Run(oraclePath, inputs)
				if err != nil {
					t.Fatal(err)
				}
				for _, fold := range []bool{false, true} {
					var bind map[string]*ir.Tensor
					if fold {
						bind = inputs
					}
					g := load(t, c.path, bind)
					got, err := runtime.Run(g, inputs, runtime.Options{ForceEval: true})
					if err != nil {
						t.Fatal(err)
					}
					checkOutputs(t, got, want)
				}
				// The exported model must run in ORT with the same outputs.
				g, err := onnx.Load(oraclePath)
				if err != nil {
					t.Fatal(err)
				}
				exported := filepath.Join(t.TempDir(), "exported.onnx")
				if err := onnx.Save(g, exported); err != nil {
					t.Fatal(err)
				}
				again, err := ortoracle.Run(exported, inputs)
				if err != nil {
					t.Fatalf("ORT rejects the exported model: %v", err)
				}
				checkOutputs(t, again, want)
			})
		}
	}
}

// withoutDropout writes a copy of a training-mode export whose Dropout nodes
// get training_mode = false.
func withoutDropout(t *testing.T, path string) string {
	t.Helper()
	g, err := onnx.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	off := g.AddInit("crsc_training_mode_off", &ir.Tensor{DType: ir.Bool, Bool: []bool{false}})
	found := false
	for _, n := range g.Nodes {
		if n.Op == "Dropout" && len(n.Inputs) == 3 {
			n.Inputs[2], found = off, true
		}
	}
	if !found {
		t.Fatalf("%s has no Dropout with a training_mode input", path)
	}
	g.RemoveDeadNodes()
	out := filepath.Join(t.TempDir(), "eval_copy.onnx")
	if err := onnx.Save(g, out); err != nil {
		t.Fatal(err)
	}
	return out
}
