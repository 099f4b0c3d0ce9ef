package hfconfig

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"crsc/internal/testenv"
)

const distilbertConfig = "../../../shared/models/hf_distilbert_tiny_seqcls.config.json"

func intp(v int) *int { return &v }

func TestDistilBERTShared(t *testing.T) {
	c := testenv.Load(t, distilbertConfig, Load)
	want := &Config{ModelType: "distilbert", Family: DistilBERT, Architectures: []string{"DistilBertForSequenceClassification"},
		Labels: []string{"NEGATIVE", "POSITIVE"}, NumLabels: 2, MaxPositions: 512, VocabSize: 30522, PadTokenID: intp(0)}
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("got %+v, want %+v", c, want)
	}
	if c.GenericLabels() || c.CheckClasses(2) != nil || c.Family.TextToText() {
		t.Fatal("named labels that fit a binary task, not text to text")
	}
	if p, ok := Beside("../../../shared/models/hf_distilbert_tiny_seqcls.onnx", "config.json"); !ok || p != filepath.Join("../../../shared/models", "hf_distilbert_tiny_seqcls.config.json") {
		t.Fatalf("Beside = %q, %v", p, ok)
	}
}

func TestParse(t *testing.T) {
	for _, c := range []struct {
		name, json string
		want       *Config
	}{
		{"bert base, no labels", `{"model_type": "bert", "vocab_size": 30522, "max_position_embeddings": 512, "pad_token_id": 0, "hidden_size": 768}`,
			&Config{ModelType: "bert", Family: BERT, MaxPositions: 512, VocabSize: 30522, PadTokenID: intp(0)}},
		{"mnli labels", `{"model_type": "roberta", "id2label": {"0": "contradiction", "1": "neutral", "2": "entailment"}, "label2id": {"contradiction": 0, "entailment": 2, "neutral": 1}}`,
			&Config{ModelType: "roberta", Family: RoBERTa, Labels: []string{"contradiction", "neutral", "entailment"}, NumLabels: 3}},
		{"ten labels sort as numbers", `{"model_type": "xlm-roberta", "id2label": {"0":"a","1":"b","2":"c","3":"d","4":"e","5":"f","6":"g","7":"h","8":"i","9":"j","10":"k"}}`,
			&Config{ModelType: "xlm-roberta", Family: RoBERTa, Labels: strings.Fields("a b c d e f g h i j k"), NumLabels: 11}},
		{"label2id only", `{"model_type": "electra", "label2id": {"pos": 1, "neg": 0}}`,
			&Config{ModelType: "electra", Family: ELECTRA, Labels: []string{"neg", "pos"}, NumLabels: 2}},
		{"num_labels only", `{"model_type": "albert", "num_labels": 3}`,
			&Config{ModelType: "albert", Family: ALBERT, NumLabels: 3}},
		{"regression", `{"model_type": "deberta-v2", "problem_type": "regression", "id2label": {"0": "LABEL_0"}}`,
			&Config{ModelType: "deberta-v2", Family: DeBERTa, ProblemType: "regression", Labels: []string{"LABEL_0"}, NumLabels: 1}},
		{"t5", `{"model_type": "t5", "architectures": ["T5ForConditionalGeneration"], "vocab_size": 32128, "pad_token_id": 0, "decoder_start_token_id": 0, "n_positions": 512}`,
			&Config{ModelType: "t5", Family: T5, Architectures: []string{"T5ForConditionalGeneration"}, VocabSize: 32128, PadTokenID: intp(0), DecoderStartTokenID: intp(0)}},
		{"mt5 is t5", `{"model_type": "mt5"}`, &Config{ModelType: "mt5", Family: T5}},
		{"unknown family", `{"model_type": "gpt2", "pad_token_id": null}`, &Config{ModelType: "gpt2"}},
		{"nothing", `{}`, &Config{}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := Parse([]byte(c.json))
			if err != nil || !reflect.DeepEqual(got, c.want) {
				t.Fatalf("got %+v, %v; want %+v", got, err, c.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	for _, c := range []struct{ name, json, want string }{
		{"empty", "  ", "empty file, not a config.json"},
		{"truncated", `{"model_type": "bert",`, "not a config.json: invalid JSON at byte"},
		{"list", `[1]`, "not a config.json: the document is not a JSON object"},
		{"null", `null`, "the document is null"},
		{"model_type number", `{"model_type": 3}`, "model_type is a JSON number (3), want a string"},
		{"architectures string", `{"architectures": "Bert"}`, "architectures is a JSON string, want a list of strings"},
		{"problem_type", `{"problem_type": "ranking"}`, `problem_type is "ranking", want regression`},
		{"max positions float", `{"max_position_embeddings": 512.5}`, "max_position_embeddings is 512.5, want an integer"},
		{"max positions string", `{"max_position_embeddings": "512"}`, "max_position_embeddings is a JSON string, want an integer"},
		{"max positions zero", `{"max_position_embeddings": 0}`, "max_position_embeddings is 0, want at least 1"},
		{"vocab_size bool", `{"vocab_size": true}`, "vocab_size is true or false, want an integer"},
		{"vocab_size huge", `{"vocab_size": 1e30}`, "vocab_size is 1e30, want an integer"},
		{"pad negative", `{"pad_token_id": -1}`, "pad_token_id is -1, want at least 0"},
		{"pad outside vocab", `{"vocab_size": 10, "pad_token_id": 10}`, "pad_token_id 10 is outside vocab_size 10"},
		{"decoder start outside", `{"vocab_size": 10, "decoder_start_token_id": 12}`, "decoder_start_token_id 12 is outside vocab_size 10"},
		{"id2label list", `{"id2label": ["a", "b"]}`, `id2label is a JSON list, want an object of "index": name`},
		{"id2label empty", `{"id2label": {}}`, "id2label is empty"},
		{"id2label key", `{"id2label": {"zero": "a"}}`, `id2label key "zero" is not a class index`},
		{"id2label key padded", `{"id2label": {"00": "a"}}`, `id2label key "00" is not a class index`},
		{"id2label gap", `{"id2label": {"0": "a", "2": "b"}}`, `id2label key "2": the 2 labels need ids 0 … 1`},
		{"id2label value", `{"id2label": {"0": 1}}`, `id2label["0"] is a JSON number (1), want a string`},
		{"id2label duplicate name", `{"id2label": {"0": "a", "1": "a"}}`, `id2label gives "a" to ids 0 and 1`},
		{"label2id value", `{"label2id": {"a": "0"}}`, `label2id["a"] is a JSON string, want an integer`},
		{"label2id negative", `{"label2id": {"a": -1}}`, `label2id["a"] is -1, want a class index`},
		{"label2id gap", `{"label2id": {"a": 0, "b": 5}}`, `label2id["b"] is 5: the 2 labels need ids 0 … 1`},
		{"label2id shared id", `{"label2id": {"a": 1, "b": 1}}`, `label2id gives id 1 to both "a" and "b"`},
		{"label2id shared id, empty name", `{"label2id": {"": 0, "a": 0}}`, `label2id gives id 0 to both "" and "a"`},
		{"maps disagree", `{"id2label": {"0": "a", "1": "b"}, "label2id": {"a": 1, "b": 0}}`, `label2id["a"] is 1, but id2label["0"] is "a"`},
		{"maps differ in names", `{"id2label": {"0": "a", "1": "b"}, "label2id": {"a": 0, "c": 1}}`, `label2id has no "b" (id2label["1"])`},
		{"maps differ in size", `{"id2label": {"0": "a", "1": "b"}, "label2id": {"a": 0}}`, "label2id has 1 labels, id2label 2"},
		{"num_labels disagrees", `{"id2label": {"0": "a", "1": "b"}, "num_labels": 3}`, "num_labels is 3 but id2label names 2 labels"},
		{"num_labels zero", `{"num_labels": 0}`, "num_labels is 0, want at least 1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse([]byte(c.json))
			if err == nil || !strings.Contains(err.Error(), c.want) || strings.ContainsAny(err.Error(), "\n\r") {
				t.Fatalf("got %v, want one line containing %q", err, c.want)
			}
		})
	}
}

func TestLoadAndBeside(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	model := write("model.onnx", "")
	if _, ok := Beside(model, "config.json"); ok {
		t.Fatal("no config yet")
	}
	folder := write("config.json", `{"model_type": "bert", "num_labels": 2}`)
	if p, ok := Beside(model, "config.json"); !ok || p != folder {
		t.Fatalf("Beside = %q, %v; want the folder's config.json", p, ok)
	}
	// <stem>.config.json is the model's own, before the folder's.
	own := write("model.config.json", `{"model_type": "t5", "vocab_size": 0}`)
	if p, ok := Beside(model, "config.json"); !ok || p != own {
		t.Fatalf("Beside = %q, %v; want %q", p, ok, own)
	}
	if c, err := Load(dir); err != nil || c.Family != BERT || c.NumLabels != 2 {
		t.Fatalf("Load(dir) = %+v, %v", c, err)
	}
	if _, err := Load(own); err == nil || err.Error() != own+": vocab_size is 0, want at least 1" {
		t.Fatalf("Load error %v: want the path and the field", err)
	}
	if _, err := Load(filepath.Join(dir, "missing.json")); err == nil {
		t.Fatal("want an error for a missing file")
	}
}

func TestCheckClasses(t *testing.T) {
	named := &Config{Labels: []string{"neg", "pos"}, NumLabels: 2}
	generic := &Config{Labels: []string{"LABEL_0", "LABEL_1", "LABEL_2"}, NumLabels: 3}
	for _, c := range []struct {
		cfg  *Config
		n    int
		want string
	}{
		{named, 2, ""},
		{named, 3, "config.json has 2 labels (neg, pos), the task has 3"},
		{generic, 2, "config.json has 3 labels, the task has 2"},
		{&Config{}, 5, ""},
	} {
		err := c.cfg.CheckClasses(c.n)
		if (err == nil) != (c.want == "") || err != nil && err.Error() != c.want {
			t.Errorf("CheckClasses(%d) = %v, want %q", c.n, err, c.want)
		}
	}
	if !generic.GenericLabels() || named.GenericLabels() {
		t.Error("GenericLabels")
	}
}
