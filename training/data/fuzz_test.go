package data

import (
	"bytes"
	"math"
	"path/filepath"
	"strings"
	"testing"
)

// readers are the three file formats ReadFile dispatches on, by extension.
var readers = []struct {
	ext  string
	read func(r *bytes.Reader, path string, task *Task) ([]Example, error)
}{
	{".tsv", func(r *bytes.Reader, p string, t *Task) ([]Example, error) { return readTSV(r, p, t) }},
	{".csv", func(r *bytes.Reader, p string, t *Task) ([]Example, error) { return readCSV(r, p, t) }},
	{".jsonl", func(r *bytes.Reader, p string, t *Task) ([]Example, error) { return readJSONL(r, p, t) }},
}

// fuzzTasks: single-sentence, pair, named labels and regression; three
// classes (mnli); custom tasks with named columns, numeric label
// spellings and unbounded regression. New tasks go at the end, so that a
// seed's task index keeps its meaning.
var fuzzTasks = []*Task{Tasks["sst2"], Tasks["cola"], Tasks["mrpc"], Tasks["qnli"], Tasks["stsb"],
	Tasks["mnli"], Tasks["qqp"], Tasks["wnli"],
	mustCustom(Custom{Name: "reviews", Labels: []string{"neg", "pos"}, TextColumns: []string{"review"}, LabelColumn: "sentiment"}),
	mustCustom(Custom{Labels: []string{"1", "2", "3", "4", "5"}, TextColumns: []string{"q", "a"}}),
	mustCustom(Custom{Regression: true, LabelColumn: "price"}),
}

func mustCustom(c Custom) *Task {
	t, err := CustomTask(c)
	if err != nil {
		panic(err)
	}
	return t
}

// FuzzRead feeds arbitrary bytes to the TSV, CSV and JSONL readers under
// every kind of task. A read must never panic; an error is one line that
// names the file; what is accepted is well formed (text present, labels
// in range, indexes in file order). The seeds run in plain go test.
func FuzzRead(f *testing.F) {
	for _, s := range []struct {
		format, task uint8
		text         string
	}{
		{0, 0, "sentence\tlabel\nit 's good \t1\nbad .\t0\n"},
		{0, 1, "gj04\t1\t\tthe sailors rode .\n"},
		{0, 2, "Quality\t#1 ID\t#2 ID\t#1 String\t#2 String\n1\t1\t2\ta\tb\n"},
		{0, 3, "index\tquestion\tsentence\tlabel\n0\twhy?\tbecause.\tentailment\n"},
		{0, 4, "index\tsentence1\tsentence2\tscore\n0\ta\tb\t3.8\n"},
		{0, 0, "\ufeffsentence\tlabel\r\ngood\t1\r\n"},
		{1, 0, "text,label\n\"good, really\",1\n"},
		{1, 0, "text,label\n\"good,1\nbad,0\n"},
		{1, 4, "sentence1,sentence2,score\n\"a\nb\",c,1e0\n"},
		{2, 0, "{\"text\": \"good\", \"label\": 1}\n\n{\"text\": \"bad\", \"label\": \"0\"}\n"},
		{2, 3, "{\"question\": \"q\", \"sentence\": \"s\", \"label\": \"entailment\"}\n"},
		{2, 4, "{\"sentence1\": \"a\", \"sentence2\": \"b\", \"label\": 1e400}\n"},
		{2, 0, "{\"text\": null, \"label\": [1]}\n"},
		{0, 4, "sentence1\tsentence2\tscore\na\tb\tnan\nc\td\t3.8abc\n"},
		{0, 5, "index\tgenre\tsentence1\tsentence2\tlabel1\tgold_label\n0\tgov\ta\tb\tneutral\tneutral\n"},
		{2, 5, "{\"premise\": \"p\", \"hypothesis\": \"h\", \"label\": 2}\n{\"premise\": \"p\", \"hypothesis\": \"h\", \"label\": -1}\n"},
		{0, 6, "id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate\n0\t1\t2\tHow?\tHow so?\t1\n"},
		{1, 6, "question1,question2,is_duplicate\n\"a, b\",c,duplicate\n"},
		{0, 7, "index\tsentence1\tsentence2\tlabel\n0\ta\tb\t1\n"},
		{1, 8, "id,review,sentiment\n1,great,pos\n2,bad,1\n"},
		{2, 8, "{\"review\": \"a\", \"label\": \"pos\"}\n"},
		{2, 9, "{\"q\": \"a\", \"a\": \"b\", \"label\": 5}\n{\"q\": \"a\", \"a\": \"b\", \"label\": 0}\n"},
		{1, 10, "text,price\nhouse,-250000.5\nflat,1e400\n"},
	} {
		f.Add(s.format, s.task, []byte(s.text))
	}
	f.Fuzz(func(t *testing.T, format, taskIdx uint8, in []byte) {
		rd := readers[int(format)%len(readers)]
		task := fuzzTasks[int(taskIdx)%len(fuzzTasks)]
		path := filepath.Join("fuzz", "in"+rd.ext)
		ex, err := rd.read(bytes.NewReader(in), path, task)
		if err != nil {
			msg := err.Error()
			if !strings.HasPrefix(msg, path+":") || strings.ContainsAny(msg, "\n\r") {
				t.Fatalf("error %q: want one line starting with %q", msg, path+":")
			}
			return
		}
		if len(ex) == 0 {
			t.Fatal("no examples and no error")
		}
		for i, e := range ex {
			switch {
			case e.Index != i:
				t.Fatalf("example %d has index %d", i, e.Index)
			case e.Line < 1 || (i > 0 && e.Line <= ex[i-1].Line):
				t.Fatalf("example %d is on line %d, after line %d", i, e.Line, ex[max(i-1, 0)].Line)
			case strings.TrimSpace(e.TextA) == "":
				t.Fatalf("example %d (line %d) has no text", i, e.Line)
			case !task.Pair && e.TextB != "":
				t.Fatalf("example %d (line %d) has a second text for single-sentence task %s", i, e.Line, task.Name)
			case task.Regression && (math.IsNaN(e.Target) || math.IsInf(e.Target, 0)):
				t.Fatalf("example %d (line %d) has target %v", i, e.Line, e.Target)
			case task.Regression && task.TargetRange != nil && !(e.Target >= task.TargetRange[0] && e.Target <= task.TargetRange[1]):
				t.Fatalf("example %d (line %d) has target %v", i, e.Line, e.Target)
			case !task.Regression && (e.Class < 0 || e.Class >= task.NumClasses()):
				t.Fatalf("example %d (line %d) has class %d", i, e.Line, e.Class)
			}
		}
	})
}

// FuzzReadTokenized feeds arbitrary bytes to the pre-tokenized JSON Lines
// reader: it never panics, fails in one line naming file:line, and what it
// accepts has ids inside the vocabulary, masks and types as long as the
// ids, and a label or target ids. The seeds run in plain go test.
func FuzzReadTokenized(f *testing.F) {
	for _, s := range []struct {
		task uint8
		text string
	}{
		{0, `{"input_ids": [101, 2307, 102], "attention_mask": [1, 1, 1], "token_type_ids": [0, 0, 0], "label": 1}` + "\n"},
		{5, `{"input_ids": [1, 2], "label": "neutral"}` + "\n\n" + `{"input_ids": [3], "label": 2}` + "\n"},
		{8, `{"input_ids": [37, 1], "labels": [1465, 1, -100]}` + "\n"},
		{4, `{"input_ids": [5], "label": 3.5}` + "\n" + `{"input_ids": [5], "label": 9}` + "\n"},
		{0, `{"input_ids": [1, 99], "attention_mask": [1], "label": 1}` + "\n"},
		{0, `{"input_ids": [1.5, -1], "label": [1]}` + "\n"},
		{10, `{"input_ids": [1], "price": 2, "label": -7.25}` + "\n"},
	} {
		f.Add(s.task, []byte(s.text))
	}
	const vocab = 64
	f.Fuzz(func(t *testing.T, taskIdx uint8, in []byte) {
		task := fuzzTasks[int(taskIdx)%len(fuzzTasks)]
		path := filepath.Join("fuzz", "in.jsonl")
		ex, err := readTokenized(bytes.NewReader(in), path, task, vocab)
		if err != nil {
			if msg := err.Error(); !strings.HasPrefix(msg, path+":") || strings.ContainsAny(msg, "\n\r") {
				t.Fatalf("error %q: want one line starting with %q", msg, path+":")
			}
			return
		}
		for i, e := range ex {
			if e.Index != i || len(e.InputIDs) == 0 || (!e.HasLabel && e.Labels == nil) {
				t.Fatalf("example %d: %+v", i, e)
			}
			if e.AttentionMask != nil && len(e.AttentionMask) != len(e.InputIDs) || e.TokenTypeIDs != nil && len(e.TokenTypeIDs) != len(e.InputIDs) {
				t.Fatalf("example %d: lengths %d %d %d", i, len(e.InputIDs), len(e.AttentionMask), len(e.TokenTypeIDs))
			}
			for _, id := range e.InputIDs {
				if id < 0 || id >= vocab {
					t.Fatalf("example %d: id %d", i, id)
				}
			}
			if e.HasLabel && !task.Regression && (e.Class < 0 || e.Class >= task.NumClasses()) {
				t.Fatalf("example %d: class %d", i, e.Class)
			}
		}
	})
}
