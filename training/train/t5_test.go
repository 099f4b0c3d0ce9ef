package train

import (
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"crsc/compiler/ir"
	"crsc/compiler/models"
	"crsc/compiler/passes"
	"crsc/training/data"
	"crsc/training/tokenize"
)

// t5TestArch is a T5 small enough for unit tests (one layer each side).
var t5TestArch = models.T5Config{Vocab: 160, DModel: 32, DKV: 8, DFF: 64, Layers: 1, DecoderLayers: 1, Heads: 4, Buckets: 8, MaxDistance: 16, FFN: "relu"}

// synthUnigram is a Unigram tokenizer for the synthetic task: T5's special
// pieces, every word with the "▁" prefix, and what the sst2 prefix needs.
func synthUnigram(t *testing.T) *tokenize.Unigram { return smallUnigram(t, 0) }

// smallUnigram is synthUnigram with at most n pieces (0: no limit), for a
// model of a small vocabulary: the specials, the sst2 prefix and label
// words, the sentiment words and negators (the signal) first, then as
// many neutral words as fit; the rest are <unk>.
func smallUnigram(t *testing.T, n int) *tokenize.Unigram {
	t.Helper()
	words, err := data.SyntheticVocab(200)
	if err != nil {
		t.Fatal(err)
	}
	pieces := []string{"<pad>", "</s>", "<unk>", "▁", ":", "▁sst2", "▁sentence", "▁negative", "▁positive"}
	for _, w := range words {
		if n > 0 && len(pieces) == n {
			break
		}
		if !strings.HasPrefix(w, "[") {
			pieces = append(pieces, "▁"+w)
		}
	}
	scores := make([]float64, len(pieces))
	for i := range scores {
		scores[i] = -float64(i%7) - 1
	}
	u, err := tokenize.NewUnigram(pieces, scores, 2)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func t5Config(t *testing.T, estimator string) Config {
	t.Helper()
	T5Archs["t5-test"] = t5TestArch
	return Config{
		Arch: "t5-test", Task: "sst2", MaxLen: 20, Batch: 8, Epochs: 2, LR: 1e-2, Warmup: 2, Seed: 3,
		Out: t.TempDir(), LogEvery: 1, Threads: 1,
		Spec:          passes.TrainingSpec{Memory: true, Sampling: passes.SamplingSpec{Estimator: estimator, Keep: 0.3, MinRows: 4, GNorm: "none", Layers: "auto"}},
		TrainExamples: data.Synthetic(64, 1), EvalExamples: data.Synthetic(24, 2), Unigram: synthUnigram(t),
	}
}

func TestLabelTargetsAndShift(t *testing.T) {
	u := synthUnigram(t)
	task := data.Tasks["sst2"]
	neg, pos := u.IDs("negative"), u.IDs("positive")
	if len(neg) != 1 || len(pos) != 1 {
		t.Fatalf("label words: %v %v", neg, pos)
	}
	targets, n, err := labelTargets(u, task, 4)
	if err != nil {
		t.Fatal(err)
	}
	want := [][]int64{{int64(neg[0]), 1, -100, -100}, {int64(pos[0]), 1, -100, -100}}
	if n != 4 || !reflect.DeepEqual(targets, want) {
		t.Fatalf("targets %v (len %d), want %v", targets, n, want)
	}
	// HF's _shift_right: pad start, -100 read as pad.
	dec := make([]int64, 4)
	shiftRight(targets[1], 0, dec)
	if !reflect.DeepEqual(dec, []int64{0, int64(pos[0]), 1, 0}) {
		t.Errorf("shifted %v", dec)
	}
	// Length 0: the longest label's (one piece + </s>).
	if _, n, err := labelTargets(u, task, 0); err != nil || n != 2 {
		t.Errorf("default target length %d, %v", n, err)
	}
	if _, _, err := labelTargets(u, task, 1); err == nil || !strings.Contains(err.Error(), "--tgt-len 1") {
		t.Errorf("too short: %v", err)
	}
	if _, _, err := labelTargets(u, data.Tasks["stsb"], 0); err == nil {
		t.Error("stsb has no label words but got targets")
	}
	// A batch: the input has the task prefix and </s>; labels and decoder
	// inputs follow each example's class.
	ex := []data.Example{{TextA: "a good movie", Class: 1}, {TextA: "dull", Class: 0}}
	set := encodeT5(u, task, ex, 8, targets)
	b := set.makeBatch([]int{0, 1, -1}, false)
	if got := u.Decode(toInts(b.ids.I64[:8])); got != "sst2 sentence: a good movie" {
		t.Errorf("input %q (%v)", got, b.ids.I64[:8])
	}
	if !reflect.DeepEqual(b.labels.I64[:8], append(append([]int64{}, want[1]...), want[0]...)) {
		t.Errorf("labels %v", b.labels.I64)
	}
	if !reflect.DeepEqual(b.decIDs.I64[4:8], []int64{0, int64(neg[0]), 1, 0}) {
		t.Errorf("decoder inputs %v", b.decIDs.I64)
	}
}

func toInts(v []int64) []int {
	out := make([]int, len(v))
	for i, x := range v {
		out[i] = int(x)
	}
	return out
}

// TestSequenceScoring: the class with the most likely whole label
// sequence wins, even where another class has the likelier first piece.
func TestSequenceScoring(t *testing.T) {
	const V, T = 4, 3
	// One row; class 0 = [1, 0(eos)] … as ids [1, 3, -100], class 1 = [2, 3, 3].
	logits := ir.NewTensor(ir.Float32, 1, T, V)
	set := func(p int, v ...float32) { copy(logits.F32[p*V:], v) }
	set(0, 0, 1, 1.5, 0) // piece 2 (class 1) is likelier first
	set(1, 0, 0, 0, 3)   // then 3 is likely for both
	set(2, 0, 0, 0, -2)  // class 1's last piece is unlikely
	targets := [][]int64{{1, 3, -100}, {2, 3, 3}}
	lp := func(p int, id int) float64 {
		row := logits.F32[p*V : (p+1)*V]
		var s float64
		for _, v := range row {
			s += math.Exp(float64(v))
		}
		return float64(row[id]) - math.Log(s)
	}
	want := [][]float64{{lp(0, 1) + lp(1, 3)}, {lp(0, 2) + lp(1, 3) + lp(2, 3)}}
	var scores [][]float64
	for c := range targets {
		scores = append(scores, sequenceLogProbs(logits, targets[c], 1))
		if math.Abs(scores[c][0]-want[c][0]) > 1e-9 {
			t.Errorf("class %d: %v, want %v", c, scores[c][0], want[c][0])
		}
	}
	if got := bestClass(scores, 0); got != 0 {
		t.Errorf("best class %d, want 0 (%v)", got, scores)
	}
}

// TestT5TrainLowersLoss trains the tiny T5 text to text on the synthetic
// task: the loss falls, the accuracy beats chance, and the exported
// model.onnx evaluates to the best checkpoint's accuracy.
func TestT5TrainLowersLoss(t *testing.T) {
	c := t5Config(t, "exact")
	c.Epochs = 6
	c.TrainExamples = data.Synthetic(256, 1)
	c.EvalExamples = data.Synthetic(64, 2)
	res, err := Run(c)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(c.Out, MetricsFile))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	first, last := lossOf(t, lines[0]), lossOf(t, lines[len(lines)-2])
	t.Logf("loss %.3f → %.3f, accuracy %.3f", first, last, res.Eval["accuracy"])
	if !(last < first/2) {
		t.Errorf("loss went from %v to %v", first, last)
	}
	// Seeded and single-threaded, so deterministic: 0.70 on 64 examples.
	if res.Best < 0.6 {
		t.Errorf("best accuracy %v: no better than chance", res.Best)
	}
	m, err := Evaluate(EvalConfig{Model: filepath.Join(c.Out, ModelFile), Task: "sst2", Data: writeTSV(t, c.EvalExamples), MaxLen: c.MaxLen, Batch: c.Batch, Unigram: c.Unigram})
	if err != nil {
		t.Fatal(err)
	}
	if m["accuracy"] != res.Best {
		t.Errorf("exported model accuracy %v, best during training %v", m["accuracy"], res.Best)
	}
}

// TestT5LoRAWTA: LoRA adapters and WTA-CRS sampling compile and train on a
// T5, and the export merges the adapters.
func TestT5LoRAWTA(t *testing.T) {
	c := t5Config(t, "wta")
	c.MaxSteps = 4
	c.Spec.LoRA = passes.LoRASpec{Rank: 2, BitFit: true}
	res, err := Run(c)
	if err != nil {
		t.Fatal(err)
	}
	sampled, adapters := 0, 0
	for _, d := range res.Compiled.Layers {
		if d.Sampled {
			sampled++
		}
	}
	for name := range res.Params {
		if strings.HasSuffix(name, ".lora_A") {
			adapters++
		}
	}
	if sampled == 0 || adapters == 0 {
		t.Errorf("%d layers sampled, %d adapters", sampled, adapters)
	}
	if _, err := os.Stat(filepath.Join(c.Out, ModelFile)); err != nil {
		t.Error(err)
	}
}

func TestT5BadTokenizer(t *testing.T) {
	t.Run("too few rows", func(t *testing.T) {
		c := t5Config(t, "exact")
		small := t5TestArch
		small.Vocab = 50
		T5Archs["t5-test-small"] = small
		c.Arch = "t5-test-small"
		if _, err := Run(c); err == nil || !strings.Contains(err.Error(), "but the model's embedding has only 50 rows") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("wordpiece for a T5", func(t *testing.T) {
		c := t5Config(t, "exact")
		c.Unigram = nil
		c.Tokenizer, _ = tokenize.NewWordPiece([]string{"[PAD]", "[UNK]", "[CLS]", "[SEP]"}, true)
		if _, err := Run(c); err == nil || !strings.Contains(err.Error(), "--tokenizer") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("unigram for a BERT", func(t *testing.T) {
		c := tinyConfig(t, "exact", "none")
		c.Tokenizer, c.Unigram = nil, synthUnigram(t)
		if _, err := Run(c); err == nil || !strings.Contains(err.Error(), "--vocab") {
			t.Fatalf("got %v", err)
		}
	})
}

// TestT5ResumeBitIdentical: a T5 run stopped mid-epoch and resumed ends
// with the parameters of an uninterrupted one (WTA-CRS sampling included).
func TestT5ResumeBitIdentical(t *testing.T) {
	full := t5Config(t, "wta")
	full.NoExport = true
	want, err := Run(full)
	if err != nil {
		t.Fatal(err)
	}
	part := t5Config(t, "wta")
	part.NoExport = true
	part.StopAfter = 5 // mid-epoch (8 steps per epoch)
	if r, err := Run(part); err != nil || !r.Stopped {
		t.Fatalf("first half: %v", err)
	}
	part.StopAfter, part.Resume = 0, true
	got, err := Run(part)
	if err != nil {
		t.Fatal(err)
	}
	for name, p := range want.Params {
		if !reflect.DeepEqual(p.F32, got.Params[name].F32) {
			t.Fatalf("%s differs after resume", name)
		}
	}
}
