package data

import (
	"bytes"
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

// fuzzTasks: single-sentence, pair, named labels and regression.
var fuzzTasks = []string{"sst2", "cola", "mrpc", "qnli", "stsb"}

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
	} {
		f.Add(s.format, s.task, []byte(s.text))
	}
	f.Fuzz(func(t *testing.T, format, taskIdx uint8, in []byte) {
		rd := readers[int(format)%len(readers)]
		task := Tasks[fuzzTasks[int(taskIdx)%len(fuzzTasks)]]
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
			case task.Regression && !(e.Target >= 0 && e.Target <= 5):
				t.Fatalf("example %d (line %d) has target %v", i, e.Line, e.Target)
			case !task.Regression && (e.Class < 0 || e.Class >= task.NumClasses()):
				t.Fatalf("example %d (line %d) has class %d", i, e.Line, e.Class)
			}
		}
	})
}
