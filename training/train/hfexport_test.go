package train

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"crsc/compiler/ir"
	"crsc/compiler/onnx"
	"crsc/compiler/passes"
	"crsc/internal/testenv"
	"crsc/runtime/device"
	"crsc/training/checkpoint"
	"crsc/training/data"
	"crsc/training/tokenize"
)

// Third-party layouts trained end to end: the generated Hugging-Face-
// structured exports (testdata/onnx/gen.py) and the two ../shared
// exports, each as it comes, exact and WTA@0.3, 50 steps.

const sharedModels = "../../../shared/models/"

// synthWordPiece is the synthetic task's WordPiece over vocab entries.
func synthWordPiece(t *testing.T, vocab int) *tokenize.WordPiece {
	t.Helper()
	words, err := data.SyntheticVocab(vocab)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := tokenize.NewWordPiece(words, true)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// exportConfig trains model on the synthetic task for 50 steps.
func exportConfig(t *testing.T, model, estimator string) Config {
	return Config{
		Model: model, Task: "sst2", MaxLen: 16, Batch: 8, Epochs: 1, MaxSteps: 50, LR: 5e-3, Warmup: 5, Seed: 3,
		Out: t.TempDir(), LogEvery: 1, Threads: 1,
		Spec:          passes.TrainingSpec{Memory: true, Sampling: passes.SamplingSpec{Estimator: estimator, Keep: 0.3, MinRows: 4, GNorm: "none", Layers: "auto"}},
		TrainExamples: data.Synthetic(400, 1), EvalExamples: data.Synthetic(48, 2),
	}
}

// lossFalls checks that the mean loss of a run's last ten steps is below
// that of its first ten.
func lossFalls(t *testing.T, dir string) {
	t.Helper()
	var losses []float64
	for _, r := range metricsRecords(t, dir) {
		if r.Loss != nil {
			losses = append(losses, *r.Loss)
		}
	}
	if len(losses) < 20 {
		t.Fatalf("%d logged steps, want ≥ 20", len(losses))
	}
	mean := func(v []float64) float64 {
		s := 0.0
		for _, x := range v {
			s += x
		}
		return s / float64(len(v))
	}
	first, last := mean(losses[:10]), mean(losses[len(losses)-10:])
	t.Logf("loss %.4f → %.4f over %d steps", first, last, len(losses))
	if !(last < first) {
		t.Errorf("loss did not fall: first ten steps %.4f, last ten %.4f", first, last)
	}
}

// exportCases are the exports every test below trains, with what the run
// must say it did and the tokenizer its data needs.
type exportCase struct {
	name, model string
	shared      bool
	lr          float64  // 0: exportConfig's
	notes       []string // substrings of the run's model notes
	tokenizer   func(t *testing.T) *tokenize.WordPiece
}

var exportCases = []exportCase{
	{name: "bare BertModel (pooler)", model: "../../testdata/onnx/hf_bert_model", notes: []string{"added head", "∘ pooler_output", "config.json"}},
	{name: "TF input names", model: "../../testdata/onnx/hf_bert_tf_names/model.onnx", notes: []string{"added head"}},
	{name: "RoBERTa without token types", model: "../../testdata/onnx/hf_roberta_model", notes: []string{"first token of last_hidden_state"}},
	{name: "DistilBERT classifier", model: "../../testdata/onnx/hf_distilbert_seqcls", notes: []string{`model_type "distilbert"`}},
	{name: "shared tribuo BertModel", model: sharedModels + "hf_bert_tiny_tribuo.onnx", shared: true, notes: []string{"added head"},
		tokenizer: func(t *testing.T) *tokenize.WordPiece {
			wp, _, err := tokenize.LoadTokenizerJSON(sharedModels + "hf_bert_tiny_tribuo.tokenizer.json")
			if err != nil {
				t.Fatal(err)
			}
			return wp
		}},
	// Hidden size 2: it needs a large step to move at all.
	{name: "shared DistilBERT classifier", model: sharedModels + "hf_distilbert_tiny_seqcls.onnx", shared: true, lr: 0.1,
		tokenizer: func(t *testing.T) *tokenize.WordPiece {
			wp, err := tokenize.LoadVocab("../../../shared/tokenizers/bert-base-uncased.vocab.txt")
			if err != nil {
				t.Fatal(err)
			}
			return wp
		}},
}

// config is the case's run: exportConfig with its tokenizer and rate.
func (tc exportCase) config(t *testing.T, estimator string) Config {
	t.Helper()
	if tc.shared {
		testenv.NeedFile(t, tc.model)
	}
	c := exportConfig(t, tc.model, estimator)
	if tc.lr != 0 {
		c.LR = tc.lr
	}
	c.Tokenizer = synthWordPiece(t, 120)
	if tc.tokenizer != nil {
		c.Tokenizer = tc.tokenizer(t)
	}
	return c
}

// TestExportsTrain: every layout trains 50 steps with its loss falling,
// exact and WTA@0.3, and the exported model scores in crsc eval what
// the run's last evaluation scored.
func TestExportsTrain(t *testing.T) {
	for _, tc := range exportCases {
		for _, est := range []string{"exact", "wta"} {
			t.Run(tc.name+"/"+est, func(t *testing.T) {
				c := tc.config(t, est)
				res, err := Run(c)
				if err != nil {
					t.Fatal(err)
				}
				lossFalls(t, c.Out)
				said := strings.Join(res.Notes, "\n")
				for _, n := range tc.notes {
					if !strings.Contains(said, n) {
						t.Errorf("the run did not say %q; it said:\n%s", n, said)
					}
				}
				if est == "wta" && !strings.Contains(SamplingSummary(res.Compiled, c.Spec.Sampling), "sampled") {
					t.Errorf("WTA@0.3: %s", SamplingSummary(res.Compiled, c.Spec.Sampling))
				}
				evalMatches(t, c, res)
			})
		}
	}
}

// evalMatches scores the run's model.onnx with Evaluate (a fresh load, as
// crsc eval does) against the run's own last evaluation.
func evalMatches(t *testing.T, c Config, res *Result) {
	t.Helper()
	m, err := Evaluate(EvalConfig{Model: filepath.Join(c.Out, ModelFile), Task: c.Task, Data: writeTSV(t, c.EvalExamples),
		MaxLen: c.MaxLen, Batch: c.Batch, Tokenizer: c.Tokenizer, Unigram: c.Unigram, Custom: c.Custom})
	if err != nil {
		t.Fatal(err)
	}
	metric := res.Metric
	if m[metric] != res.Eval[metric] {
		t.Errorf("exported model %s %v, the run's last evaluation %v", metric, m[metric], res.Eval[metric])
	}
}

// synthPairs are sentence pairs labelled by their sentiments, three
// classes as MNLI has: both positive, both negative, or mixed.
func synthPairs(n int, seed int64) []data.Example {
	a, b := data.Synthetic(n, seed), data.Synthetic(n, seed+100)
	out := make([]data.Example, n)
	for i := range out {
		class := 2
		if a[i].Class == b[i].Class {
			class = 1 - a[i].Class // 0: both positive, 1: both negative
		}
		out[i] = data.Example{Index: i, Line: i + 1, TextA: a[i].TextA, TextB: b[i].TextA, Class: class}
	}
	return out
}

// TestMNLIHead: a bare encoder gets a three-class head for MNLI, trains
// with its loss falling, and its export scores as the run did.
func TestMNLIHead(t *testing.T) {
	c := exportConfig(t, "../../testdata/onnx/hf_bert_model", "wta")
	c.Task, c.MaxLen = "mnli", 32
	c.TrainExamples, c.EvalExamples = synthPairs(400, 1), synthPairs(48, 2)
	c.Tokenizer = synthWordPiece(t, 120)
	res, err := Run(c)
	if err != nil {
		t.Fatal(err)
	}
	if h := strings.Join(res.Notes, "\n"); !strings.Contains(h, "logits [batch, 3]") {
		t.Errorf("notes %q: want a three-class head", h)
	}
	lossFalls(t, c.Out)
	evalMatches(t, c, res)
}

// TestCustomCSVTask: a CSV file with string labels and its own column
// names trains as --task custom and evaluates.
func TestCustomCSVTask(t *testing.T) {
	labels := []string{"upbeat", "gloomy", "mixed"}
	write := func(ex []data.Example) string {
		var b strings.Builder
		b.WriteString("review,other,verdict\n")
		for _, e := range ex {
			b.WriteString(e.TextA + "," + e.TextB + "," + labels[e.Class] + "\n")
		}
		p := filepath.Join(t.TempDir(), "data.csv")
		if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	c := exportConfig(t, "../../testdata/onnx/hf_bert_model", "exact")
	c.Task, c.MaxLen, c.TrainExamples, c.EvalExamples = "custom", 32, nil, nil
	c.TrainFile, c.EvalFile = write(synthPairs(400, 1)), write(synthPairs(48, 2))
	c.Custom = &data.Custom{Labels: labels, TextColumns: []string{"review", "other"}, LabelColumn: "verdict"}
	c.Tokenizer = synthWordPiece(t, 120)
	res, err := Run(c)
	if err != nil {
		t.Fatal(err)
	}
	lossFalls(t, c.Out)
	m, err := Evaluate(EvalConfig{Model: filepath.Join(c.Out, ModelFile), Task: "custom", Data: c.EvalFile, Custom: c.Custom,
		MaxLen: c.MaxLen, Batch: c.Batch, Tokenizer: c.Tokenizer})
	if err != nil {
		t.Fatal(err)
	}
	if m["accuracy"] != res.Eval["accuracy"] {
		t.Errorf("exported model accuracy %v, the run's %v", m["accuracy"], res.Eval["accuracy"])
	}
	c.Custom = &data.Custom{Labels: []string{"yes", "no"}, TextColumns: []string{"review", "other"}, LabelColumn: "verdict"}
	c.Out = t.TempDir()
	if _, err := Run(c); err == nil || !strings.Contains(err.Error(), `label "mixed" is not one of`) {
		t.Errorf("labels the task does not have: got %v", err)
	}
}

// TestSplitT5LikeSingleGraph: Optimum's encoder_model.onnx +
// decoder_model.onnx train text to text as the single-graph export of
// the same weights does (same seed: same losses and scores), and export
// back as the two files.
func TestSplitT5LikeSingleGraph(t *testing.T) {
	for _, est := range []string{"exact", "wta"} {
		t.Run(est, func(t *testing.T) { splitLikeSingle(t, est) })
	}
}

func splitLikeSingle(t *testing.T, estimator string) {
	run := func(model string) (*Result, Config) {
		c := exportConfig(t, model, estimator)
		c.MaxSteps, c.LR = 30, 1e-2
		c.Unigram = smallUnigram(t, 100)
		res, err := Run(c)
		if err != nil {
			t.Fatal(err)
		}
		return res, c
	}
	split, sc := run("../../testdata/onnx/optimum_t5_tiny")
	single, gc := run("../../testdata/onnx/t5_tiny.op14.eval.onnx")
	lossFalls(t, sc.Out)
	a, b := metricsRecords(t, sc.Out), metricsRecords(t, gc.Out)
	for i := range a {
		if a[i].Loss == nil || b[i].Loss == nil {
			continue
		}
		if d := *a[i].Loss - *b[i].Loss; d > 1e-4 || d < -1e-4 {
			t.Errorf("step %d: loss %v split, %v single graph", a[i].Step, *a[i].Loss, *b[i].Loss)
			break
		}
	}
	if split.Eval["accuracy"] != single.Eval["accuracy"] {
		t.Errorf("accuracy %v split, %v single graph", split.Eval["accuracy"], single.Eval["accuracy"])
	}
	for _, f := range []string{EncoderModelFile, DecoderModelFile} {
		if _, err := os.Stat(filepath.Join(sc.Out, f)); err != nil {
			t.Errorf("the split export: %v", err)
		}
	}
	m, err := Evaluate(EvalConfig{Model: sc.Out, Task: "sst2", Data: writeTSV(t, sc.EvalExamples), MaxLen: sc.MaxLen, Batch: sc.Batch, Unigram: sc.Unigram})
	if err != nil {
		t.Fatal(err)
	}
	if m["accuracy"] != split.Eval["accuracy"] {
		t.Errorf("the exported encoder + decoder score %v, the run %v", m["accuracy"], split.Eval["accuracy"])
	}
}

// TestLoRAByModuleNames: --lora-targets and --freeze name layers by their
// Hugging Face module paths (the exporter left only onnx::MatMul_N
// initializers); the adapters are named after the modules and written in
// PEFT's format, whose tensors rebuild the merged weights of model.onnx:
// W + (B·A)ᵀ·α/r in crsc's [in, out] layout.
func TestLoRAByModuleNames(t *testing.T) {
	for _, tc := range []struct {
		name, model, targets string
		modules              []string // adapted, as PEFT names them
		peftTargets          []string
	}{
		{"distilbert, two modules of layer 0", "../../testdata/onnx/hf_distilbert_seqcls", `layer\.0\.attention\.(q_lin|v_lin)$`,
			[]string{"distilbert.transformer.layer.0.attention.q_lin", "distilbert.transformer.layer.0.attention.v_lin"},
			[]string{"distilbert.transformer.layer.0.attention.q_lin", "distilbert.transformer.layer.0.attention.v_lin"}},
		{"bert, family defaults", "../../testdata/onnx/hf_bert_model", "",
			[]string{"encoder.layer.0.attention.self.query", "encoder.layer.1.attention.self.value"},
			[]string{"key", "query", "value"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := exportConfig(t, tc.model, "wta")
			c.MaxSteps = 10
			c.Tokenizer = synthWordPiece(t, 120)
			c.Spec.LoRA = passes.LoRASpec{Rank: 2, Alpha: 4, Targets: tc.targets, BitFit: true}
			c.Spec.Train.Freeze = `^(distilbert\.)?embeddings\.` // by HF name: the biases BitFit would train
			res, err := Run(c)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range tc.modules {
				if res.Params[m+".lora_A"] == nil {
					t.Errorf("no adapter %s.lora_A among the trained parameters", m)
				}
			}
			for name := range res.Params {
				if strings.Contains(name, "embeddings.") {
					t.Errorf("%s trained despite --freeze", name)
				}
			}
			checkPEFT(t, c, tc.peftTargets, 2)
		})
	}
}

// checkPEFT reads a LoRA run's adapter_config.json and
// adapter_model.safetensors and checks that base + Bᵀ·Aᵀ… rebuild the
// merged weights of its model.onnx.
func checkPEFT(t *testing.T, c Config, targets []string, rank int) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(c.Out, passes.PEFTConfigFile))
	if err != nil {
		t.Fatal(err)
	}
	var cfg passes.PEFTConfig
	if err := json.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cfg.TargetModules, targets) || cfg.R != rank || cfg.TaskType == nil || *cfg.TaskType != "SEQ_CLS" || cfg.Bias != "all" {
		t.Errorf("adapter_config.json: targets %v r %d task %v bias %s; want targets %v, r %d, SEQ_CLS, all", cfg.TargetModules, cfg.R, cfg.TaskType, cfg.Bias, targets, rank)
	}
	tensors, _, err := checkpoint.Load(filepath.Join(c.Out, passes.PEFTWeightsFile))
	if err != nil {
		t.Fatal(err)
	}
	base, err := onnx.Load(mustModelFile(t, c.Model))
	if err != nil {
		t.Fatal(err)
	}
	merged, err := onnx.Load(filepath.Join(c.Out, ModelFile))
	if err != nil {
		t.Fatal(err)
	}
	hf := passes.HFModuleNames(base)
	checked := 0
	for node, module := range hf.Linear {
		a := tensors["base_model.model."+module+".lora_A.weight"]  // [r, in]
		bt := tensors["base_model.model."+module+".lora_B.weight"] // [out, r]
		if a == nil || bt == nil {
			continue
		}
		w := hf.Weight[node]
		want, got := w.Init, merged.Value(w.Name).Init // [in, out]
		in, out := want.Shape[0], want.Shape[1]
		scale := cfg.LoraAlpha / float64(cfg.R)
		for i := 0; i < in; i++ {
			for j := 0; j < out; j++ {
				d := 0.0
				for k := 0; k < cfg.R; k++ {
					d += float64(bt.F32[j*cfg.R+k]) * float64(a.F32[k*in+i])
				}
				if diff := float64(want.F32[i*out+j]) + d*scale - float64(got.F32[i*out+j]); diff > 1e-6 || diff < -1e-6 {
					t.Fatalf("%s [%d,%d]: base + PEFT delta and the merged weight differ by %g", module, i, j, diff)
				}
			}
		}
		checked++
	}
	if checked == 0 {
		t.Errorf("no PEFT adapter matched a linear layer of %s", c.Model)
	}
}

// mustModelFile is the .onnx file of a model argument (a folder's
// model.onnx).
func mustModelFile(t *testing.T, model string) string {
	t.Helper()
	enc, _, _, err := modelFiles(model, "")
	if err != nil {
		t.Fatal(err)
	}
	return enc
}

// TestPreTokenized: JSON Lines of input_ids and labels train a model whose
// tokenizer crsc does not have (none is given), and evaluate.
func TestPreTokenized(t *testing.T) {
	tok := synthWordPiece(t, 120)
	write := func(ex []data.Example) string {
		var b strings.Builder
		for _, e := range ex {
			enc := tok.Encode(e.TextA, "", 64)
			n := 0
			for n < len(enc.Mask) && enc.Mask[n] == 1 {
				n++
			}
			line, err := json.Marshal(map[string]any{"input_ids": enc.IDs[:n], "label": e.Class, "text": e.TextA})
			if err != nil {
				t.Fatal(err)
			}
			b.Write(append(line, '\n'))
		}
		p := filepath.Join(t.TempDir(), "data.jsonl")
		if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	c := exportConfig(t, "../../testdata/onnx/hf_roberta_model", "wta")
	c.TrainFile, c.EvalFile = write(c.TrainExamples), write(c.EvalExamples)
	c.TrainExamples, c.EvalExamples, c.MaxLen = nil, nil, 12 // some examples are longer: truncated
	res, err := Run(c)
	if err != nil {
		t.Fatal(err)
	}
	lossFalls(t, c.Out)
	if said := strings.Join(res.Notes, "\n"); !strings.Contains(said, "longer than --max-len 12 truncated") {
		t.Errorf("notes %q: want the truncation counted", said)
	}
	m, err := Evaluate(EvalConfig{Model: filepath.Join(c.Out, ModelFile), Task: "sst2", Data: c.EvalFile, MaxLen: c.MaxLen, Batch: c.Batch})
	if err != nil {
		t.Fatal(err)
	}
	if m["accuracy"] != res.Eval["accuracy"] {
		t.Errorf("exported model accuracy %v, the run's %v", m["accuracy"], res.Eval["accuracy"])
	}
}

// TestSharedExportsSST2: the two third-party exports fine-tune on the
// real SST-2 (its first 400 training sentences) with the loss falling,
// exact and WTA@0.3.
func TestSharedExportsSST2(t *testing.T) {
	const sst2 = "../../../shared/data/sst2/"
	testenv.NeedFile(t, sst2+"train.tsv")
	all, err := data.ReadFile(sst2+"train.tsv", data.Tasks["sst2"])
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range exportCases {
		if !tc.shared {
			continue
		}
		for _, est := range []string{"exact", "wta"} {
			t.Run(tc.name+"/"+est, func(t *testing.T) {
				c := tc.config(t, est)
				c.MaxLen, c.LR = 64, 3e-3
				if tc.lr != 0 {
					c.LR = tc.lr
				}
				c.TrainExamples, c.EvalExamples = all[:400], all[400:448]
				if _, err := Run(c); err != nil {
					t.Fatal(err)
				}
				lossFalls(t, c.Out)
			})
		}
	}
}

// TestExportsOnDevice: a RoBERTa-layout export (positions from CumSum over
// the ids, an added head), DistilBERT (Equal/Where masks) and Optimum's
// split T5 train on the CUDA backend (the CPU emulator of a GPU) to the
// parameters the CPU reaches.
func TestExportsOnDevice(t *testing.T) {
	dev := openEmu(t)
	for _, model := range []string{"../../testdata/onnx/hf_roberta_model", "../../testdata/onnx/hf_distilbert_seqcls", "../../testdata/onnx/optimum_t5_tiny"} {
		run := func(d *device.Device) map[string]*ir.Tensor {
			c := exportConfig(t, model, "wta")
			c.MaxSteps, c.NoExport, c.Device = 3, true, d
			if strings.Contains(model, "t5") {
				c.Unigram = smallUnigram(t, 100)
			} else {
				c.Tokenizer = synthWordPiece(t, 120)
			}
			res, err := Run(c)
			if err != nil {
				t.Fatalf("%s: %v", model, err)
			}
			return res.Params
		}
		want, got := run(nil), run(dev)
		// AdamW divides each gradient by its own magnitude, so an element
		// whose gradient is 0 up to rounding moves by up to the learning
		// rate either way, as the backend's rounding has it: the key
		// biases (softmax is blind to a bias added to every key) are left
		// out, and a few other elements (exactly cancelling terms) may
		// differ, by no more than the learning rate; all the rest agree
		// to 1e-5.
		var n, off int
		for name, w := range want {
			if strings.HasSuffix(name, "key.bias") || strings.HasSuffix(name, "k_lin.bias") {
				continue
			}
			for i, v := range w.F32 {
				d := math.Abs(float64(got[name].F32[i] - v))
				n++
				if d > 1e-5*(1+math.Abs(float64(v))) {
					off++
				}
				if d > 3*5e-3 {
					t.Fatalf("%s: %s[%d]: device %v, cpu %v: more than the learning rate apart", model, name, i, got[name].F32[i], v)
				}
			}
		}
		t.Logf("%s: %d of %d parameters differ by more than 1e-5", model, off, n)
		if off*1000 > n {
			t.Errorf("%s: %d of %d parameters differ by more than 1e-5 between the device and the CPU", model, off, n)
		}
	}
}
