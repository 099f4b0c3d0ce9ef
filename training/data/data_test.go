package data

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"crsc/internal/testenv"
)

func write(t *testing.T, name, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func lookupTask(t *testing.T, name string) *Task {
	t.Helper()
	task, err := LookupTask(name)
	if err != nil {
		t.Fatal(err)
	}
	return task
}

// readCase writes text to a file called name and reads it for task,
// checking the error against wantErr (a substring; "" wants none). ok is
// false where an error was wanted: the case has nothing more to check.
func readCase(t *testing.T, name, text string, task *Task, wantErr string) (ex []Example, ok bool) {
	t.Helper()
	ex, err := ReadFile(write(t, name, text), task)
	if wantErr != "" {
		if err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Fatalf("got %v, want an error containing %q", err, wantErr)
		}
		return nil, false
	}
	if err != nil {
		t.Fatal(err)
	}
	return ex, true
}

// classesOf lists the examples' classes, in order.
func classesOf(ex []Example) []int {
	var classes []int
	for _, e := range ex {
		classes = append(classes, e.Class)
	}
	return classes
}

func TestRead(t *testing.T) {
	for _, c := range []struct {
		name, file, task, text string
		n                      int
		wantErr                string // substring, with file:line
	}{
		{"sst2", "train.tsv", "sst2", "sentence\tlabel\nit 's good \t1\nbad .\t0\n", 2, ""},
		{"mrpc", "dev.tsv", "mrpc", "Quality\t#1 ID\t#2 ID\t#1 String\t#2 String\n1\t1\t2\ta\tb\n", 1, ""},
		{"qnli", "dev.tsv", "qnli", "index\tquestion\tsentence\tlabel\n0\twhy?\tbecause.\tentailment\n", 1, ""},
		{"stsb", "dev.tsv", "stsb", "index\tsentence1\tsentence2\tscore\n0\ta\tb\t3.8\n", 1, ""},
		{"cola headerless", "train.tsv", "cola", "gj04\t1\t\tthe sailors rode .\n", 1, ""},
		{"jsonl", "x.jsonl", "sst2", "{\"text\": \"good\", \"label\": 1}\n\n{\"text\": \"bad\", \"label\": \"0\"}\n", 2, ""},
		{"jsonl pair", "x.jsonl", "rte", "{\"sentence1\": \"a\", \"sentence2\": \"b\", \"label\": \"not_entailment\"}\n", 1, ""},
		{"csv", "x.csv", "sst2", "text,label\n\"good, really\",1\n", 1, ""},
		{"bad label", "train.tsv", "sst2", "sentence\tlabel\ngood\t1\nbad\t2\n", 0, "train.tsv:3: label \"2\""},
		{"missing field", "train.tsv", "sst2", "sentence\tlabel\ngood\n", 0, "train.tsv:2: 1 tab-separated fields"},
		{"no label column", "train.tsv", "sst2", "sentence\tfoo\ngood\t1\n", 0, "train.tsv:1: no label column"},
		{"pair task, single file", "dev.tsv", "rte", "sentence\tlabel\na\tentailment\n", 0, "dev.tsv:1: task rte takes sentence pairs"},
		{"bad json", "x.jsonl", "sst2", "{\"text\": \"a\", \"label\": 1}\n{oops\n", 0, "x.jsonl:2: not a JSON object"},
		{"empty text", "x.csv", "sst2", "text,label\n,1\n", 0, "x.csv:2: empty text"},
		{"tsv duplicate column", "train.tsv", "sst2", "sentence\tlabel\tsentence\na\t1\tb\n", 0, "train.tsv:1: column \"sentence\" is in the header twice (columns 1 and 3)"},
		{"csv duplicate label column", "x.csv", "sst2", "text,label,label\na,1,0\n", 0, "x.csv:1: column \"label\" is in the header twice (columns 2 and 3)"},
		{"tsv duplicate unused column", "train.tsv", "sst2", "id\tsentence\tid\tlabel\n1\ta\t2\t1\n", 1, ""},
		{"json duplicate key", "x.jsonl", "sst2", "{\"text\": \"a\", \"label\": 1, \"label\": 0}\n", 0, "x.jsonl:1: field \"label\" is given twice"},
		{"json array line", "x.jsonl", "sst2", "[\"a\", 1]\n", 0, "x.jsonl:1: not a JSON object: the line is a list"},
		{"json trailing data", "x.jsonl", "sst2", "{\"text\": \"a\", \"label\": 1} {}\n", 0, "x.jsonl:1: not a JSON object: more after the object's closing brace"},
		{"json unterminated", "x.jsonl", "sst2", "{\"text\": \"a\", \"label\": 1\n", 0, "x.jsonl:1: not a JSON object"},
		{"stsb nan", "dev.tsv", "stsb", "sentence1\tsentence2\tscore\na\tb\tnan\n", 0, "dev.tsv:2: label \"nan\" is not a number"},
		{"stsb trailing junk", "dev.tsv", "stsb", "sentence1\tsentence2\tscore\na\tb\t3.8abc\n", 0, "dev.tsv:2: label \"3.8abc\" is not a number"},
		{"stsb overflow", "dev.tsv", "stsb", "sentence1\tsentence2\tscore\na\tb\t1e400\n", 0, "dev.tsv:2: label +Inf is outside [0, 5]"},
		{"stsb inner space", "dev.tsv", "stsb", "sentence1\tsentence2\tscore\na\tb\t3 .8\n", 0, "dev.tsv:2: label \"3 .8\" is not a number"},
		{"stsb json NaN", "x.jsonl", "stsb", "{\"sentence1\": \"a\", \"sentence2\": \"b\", \"label\": \"NaN\"}\n", 0, "x.jsonl:1: label \"NaN\" is not a number"},
		{"stsb out of range", "dev.tsv", "stsb", "sentence1\tsentence2\tscore\na\tb\t7\n", 0, "dev.tsv:2: label 7 is outside"},
		{"no rows", "train.tsv", "sst2", "sentence\tlabel\n", 0, "no examples"},
		{"csv unterminated quote", "x.csv", "sst2", "text,label\n\"good,1\nbad,0\n", 0, "x.csv:2: extraneous or missing \" in quoted-field (in the quoted field that starts there; reading stopped at line 3)"},
		{"csv unterminated quote, last line", "x.csv", "sst2", "text,label\ngood,1\n\"bad,0", 0, "x.csv:3: extraneous or missing \""},
		{"csv bare quote", "x.csv", "sst2", "text,label\na\"b,1\n", 0, "x.csv:2: bare \" in non-quoted-field"},
		{"csv quote in header", "x.csv", "sst2", "\"text,label\n", 0, "x.csv:1: extraneous or missing \""},
		{"csv field count", "x.csv", "sst2", "text,label\ngood,1\nbad,0,extra\n", 0, "x.csv:3: 3 comma-separated fields, the header has 2"},
		{"csv empty", "x.csv", "sst2", "", 0, "x.csv: empty file, no header line"},
	} {
		t.Run(c.name, func(t *testing.T) {
			ex, ok := readCase(t, c.file, c.text, lookupTask(t, c.task), c.wantErr)
			if !ok {
				return
			}
			if len(ex) != c.n {
				t.Fatalf("got %d examples; want %d", len(ex), c.n)
			}
		})
	}
}

func TestUnreadable(t *testing.T) {
	if _, err := ReadFile("/nonexistent/train.tsv", Tasks["sst2"]); err == nil {
		t.Fatal("want an error")
	}
}

func TestSST2Shared(t *testing.T) {
	p := "../../../shared/data/sst2/dev.tsv"
	testenv.NeedFile(t, p)
	ex, err := ReadFile(p, Tasks["sst2"])
	if err != nil || len(ex) != 872 {
		t.Fatalf("%d examples, %v", len(ex), err)
	}
}

func TestMetrics(t *testing.T) {
	near := func(a, b float64) bool { return math.Abs(a-b) < 1e-9 }
	pred := []float64{1, 1, 0, 0, 1, 0}
	gold := []float64{1, 0, 0, 1, 1, 0}
	if v := Accuracy(pred, gold); !near(v, 4.0/6) {
		t.Errorf("accuracy %v", v)
	}
	if v := F1(pred, gold); !near(v, 2*2.0/(2*2+1+1)) {
		t.Errorf("f1 %v", v)
	}
	// tp=2 fp=1 fn=1 tn=2: (4-1)/sqrt(3·3·3·3) = 1/3.
	if v := Matthews(pred, gold); !near(v, 1.0/3) {
		t.Errorf("matthews %v", v)
	}
	if v := Matthews([]float64{1, 1}, []float64{1, 0}); v != 0 {
		t.Errorf("undefined matthews %v, want 0", v)
	}
	if v := Pearson([]float64{1, 2, 3}, []float64{2, 4, 6}); !near(v, 1) {
		t.Errorf("pearson %v", v)
	}
	// Monotone but not linear: spearman 1, with ties averaged.
	if v := Spearman([]float64{1, 2, 3, 4}, []float64{1, 10, 100, 1000}); !near(v, 1) {
		t.Errorf("spearman %v", v)
	}
	if r := ranks([]float64{3, 1, 3}); r[0] != 2.5 || r[1] != 1 || r[2] != 2.5 {
		t.Errorf("ranks %v", r)
	}
}

func TestSyntheticDeterministic(t *testing.T) {
	a, b := Synthetic(50, 3), Synthetic(50, 3)
	for i := range a {
		if a[i] != b[i] {
			t.Fatal("not deterministic")
		}
	}
	if _, err := SyntheticVocab(120); err != nil {
		t.Fatal(err)
	}
}
