package data

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"crsc/internal/testutil"
)

// TestNewTasks reads each new GLUE task in the layouts it comes in: GLUE's
// TSV (MNLI's gold_label words, QQP's is_duplicate) and Hugging Face
// datasets' JSON Lines (premise/hypothesis, label as an index).
func TestNewTasks(t *testing.T) {
	mnliTSV := "index\tpromptID\tpairID\tgenre\tsentence1_binary_parse\tsentence2_binary_parse\tsentence1_parse\tsentence2_parse\tsentence1\tsentence2\tlabel1\tgold_label\n" +
		"0\t1\t1n\tgov\t( a )\t( b )\t(ROOT a)\t(ROOT b)\tThe cat sat.\tA cat sat.\tentailment\tentailment\n" +
		"1\t2\t2c\tgov\t( a )\t( b )\t(ROOT a)\t(ROOT b)\tIt rained.\tIt was dry.\tcontradiction\tcontradiction\n"
	for _, c := range []struct {
		name, file, task, text string
		classes                []int
		a, b                   string // the first example's texts
		wantErr                string
	}{
		{"mnli tsv", "dev_matched.tsv", "mnli", mnliTSV, []int{0, 2}, "The cat sat.", "A cat sat.", ""},
		{"mnli jsonl", "x.jsonl", "mnli", `{"premise": "p", "hypothesis": "h", "label": 1, "idx": 0}` + "\n", []int{1}, "p", "h", ""},
		{"mnli bad word", "x.jsonl", "mnli", `{"premise": "p", "hypothesis": "h", "label": "maybe"}` + "\n", nil, "", "", "x.jsonl:1: label \"maybe\" is not one of task mnli's labels entailment, neutral, contradiction"},
		{"mnli test label", "x.jsonl", "mnli", `{"premise": "p", "hypothesis": "h", "label": -1}` + "\n", nil, "", "", "x.jsonl:1: label \"-1\""},
		{"mnli index 3", "x.jsonl", "mnli", `{"premise": "p", "hypothesis": "h", "label": 3}` + "\n", nil, "", "", "x.jsonl:1: label \"3\""},
		{"qqp tsv", "train.tsv", "qqp", "id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate\n0\t1\t2\tHow?\tHow so?\t1\n1\t3\t4\tWhy?\tWhen?\t0\n", []int{1, 0}, "How?", "How so?", ""},
		{"qqp no second question", "train.tsv", "qqp", "id\tquestion1\tis_duplicate\n0\ta\t1\n", nil, "", "", "train.tsv:1: task qqp takes sentence pairs"},
		{"wnli tsv", "dev.tsv", "wnli", "index\tsentence1\tsentence2\tlabel\n0\tI stuck a pin.\tThe pin had a hole.\t1\n", []int{1}, "I stuck a pin.", "The pin had a hole.", ""},
		{"wnli word", "x.jsonl", "wnli", `{"sentence1": "a", "sentence2": "b", "label": "not_entailment"}` + "\n", []int{0}, "a", "b", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			ex, ok := readCase(t, c.file, c.text, lookupTask(t, c.task), c.wantErr)
			if !ok {
				return
			}
			classes := classesOf(ex)
			if !reflect.DeepEqual(classes, c.classes) || ex[0].TextA != c.a || ex[0].TextB != c.b {
				t.Fatalf("classes %v, first %q / %q; want %v, %q / %q", classes, ex[0].TextA, ex[0].TextB, c.classes, c.a, c.b)
			}
		})
	}
}

// TestTaskWordsAndInputs: the text-to-text form of each task is T5's.
func TestTaskWordsAndInputs(t *testing.T) {
	for _, c := range []struct {
		task, want string
		words      []string
	}{
		{"mnli", "mnli hypothesis: H premise: P", []string{"entailment", "neutral", "contradiction"}},
		{"qqp", "qqp question1: P question2: H", []string{"not_duplicate", "duplicate"}},
		{"wnli", "wnli sentence1: P sentence2: H", []string{"not_entailment", "entailment"}},
		{"rte", "rte sentence1: P sentence2: H", []string{"entailment", "not_entailment"}},
	} {
		task := Tasks[c.task]
		if got := task.TextInput("P", "H"); got != c.want {
			t.Errorf("%s: TextInput = %q, want %q", c.task, got, c.want)
		}
		if !reflect.DeepEqual(task.Words, c.words) || len(task.Words) != task.NumClasses() {
			t.Errorf("%s: words %v, want %v", c.task, task.Words, c.words)
		}
	}
	if m := Tasks["qqp"].Metrics([]float64{1, 0, 1}, []float64{1, 1, 1}); len(m) != 2 || m["f1"] != 0.8 {
		t.Errorf("qqp metrics %v, want accuracy and f1 0.8", m)
	}
}

func TestFindDev(t *testing.T) {
	dir := t.TempDir()
	touch := func(name string) {
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	touch("dev_matched.tsv")
	if _, err := FindDev(dir, Tasks["mnli"]); err == nil || !strings.Contains(err.Error(), "no dev_mismatched.tsv") {
		t.Fatalf("mismatched missing: %v", err)
	}
	touch("dev_mismatched.jsonl")
	got, err := FindDev(dir, Tasks["mnli"])
	want := []Split{{"dev_matched", filepath.Join(dir, "dev_matched.tsv")}, {"dev_mismatched", filepath.Join(dir, "dev_mismatched.jsonl")}}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("FindDev = %v, %v; want %v", got, err, want)
	}
	// One evaluation file: Find's "dev" is MNLI's matched set.
	if p, err := Find(dir, "dev"); err != nil || p != want[0].Path {
		t.Fatalf("Find(dev) = %q, %v", p, err)
	}
	if _, err := FindDev(dir, Tasks["sst2"]); err == nil || !strings.Contains(err.Error(), "no dev.tsv") {
		t.Fatalf("sst2 without dev: %v", err)
	}
	touch("dev.csv")
	if got, err := FindDev(dir, Tasks["sst2"]); err != nil || len(got) != 1 || got[0].Name != "dev" {
		t.Fatalf("sst2: %v, %v", got, err)
	}
}

func TestCustomTask(t *testing.T) {
	for _, c := range []struct {
		name    string
		spec    Custom
		wantErr string
		labels  []string
		metric  string
	}{
		{"words", Custom{Labels: []string{"neg", "pos"}}, "", []string{"neg", "pos"}, "accuracy"},
		{"count", Custom{NumLabels: 3}, "", []string{"0", "1", "2"}, "accuracy"},
		{"both agree", Custom{Labels: []string{"a", "b"}, NumLabels: 2}, "", []string{"a", "b"}, "accuracy"},
		{"star ratings", Custom{Labels: []string{"1", "2", "3", "4", "5"}}, "", []string{"1", "2", "3", "4", "5"}, "accuracy"},
		{"regression", Custom{Regression: true}, "", nil, "pearson"},
		{"both disagree", Custom{Labels: []string{"a", "b"}, NumLabels: 3}, "2 label names (a, b) but 3 labels", nil, ""},
		{"one label", Custom{Labels: []string{"a"}}, "one label (a)", nil, ""},
		{"no labels", Custom{}, "0 labels; a classification needs at least 2", nil, ""},
		{"duplicate", Custom{Labels: []string{"a", "b", "a"}}, `label "a" is both class 0 and class 2`, nil, ""},
		{"reversed digits", Custom{Labels: []string{"1", "0"}}, "", []string{"1", "0"}, "accuracy"},
		{"empty label", Custom{Labels: []string{"a", " "}}, "label 1 is empty", nil, ""},
		{"regression labels", Custom{Regression: true, NumLabels: 2}, "a regression has no labels", nil, ""},
		{"three columns", Custom{NumLabels: 2, TextColumns: []string{"a", "b", "c"}}, "3 text columns", nil, ""},
		{"pair, one column", Custom{NumLabels: 2, TextColumns: []string{"a"}, Pair: true}, "needs two text columns", nil, ""},
		{"label is text", Custom{NumLabels: 2, TextColumns: []string{"y"}, LabelColumn: "y"}, `column "y" is both a text and the label`, nil, ""},
		{"bad name", Custom{Name: "my task", NumLabels: 2}, "has a space or colon", nil, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			task, err := CustomTask(c.spec)
			if testutil.WantErr(t, err, c.wantErr) {
				return
			}
			if !reflect.DeepEqual(task.Labels, c.labels) || task.Metric != c.metric {
				t.Fatalf("got %+v", task)
			}
		})
	}
}

// TestCustomRead reads files through custom tasks: named columns, label
// spellings that are words or numbers, regression without STS-B's range.
func TestCustomRead(t *testing.T) {
	reviews, _ := CustomTask(Custom{Name: "reviews", Labels: []string{"neg", "pos"}, TextColumns: []string{"review"}, LabelColumn: "sentiment"})
	stars, _ := CustomTask(Custom{Labels: []string{"1", "2", "3", "4", "5"}, TextColumns: []string{"body"}, LabelColumn: "stars"})
	pairs, _ := CustomTask(Custom{NumLabels: 2, TextColumns: []string{"left", "right"}})
	price, _ := CustomTask(Custom{Regression: true, LabelColumn: "price"})
	reversed, _ := CustomTask(Custom{Labels: []string{"1", "0"}})
	plain, _ := CustomTask(Custom{Labels: []string{"no", "yes"}})
	for _, c := range []struct {
		name, file string
		task       *Task
		text       string
		classes    []int
		target     float64
		wantErr    string
	}{
		{"words", "x.csv", reviews, "id,review,sentiment\n1,great,pos\n2,\"bad, really\",neg\n", []int{1, 0}, 0, ""},
		{"index spelling", "x.csv", reviews, "review,sentiment\ngreat,1\n", []int{1}, 0, ""},
		{"wrong word", "x.tsv", reviews, "review\tsentiment\ngreat\tpositive\n", nil, 0, "x.tsv:2: label \"positive\" is not one of task reviews's labels neg, pos"},
		{"missing label column", "x.tsv", reviews, "review\tlabel\ngreat\tpos\n", nil, 0, "x.tsv:1: no column \"sentiment\" (task reviews's label)"},
		{"missing text column", "x.jsonl", reviews, `{"text": "a", "sentiment": "pos"}` + "\n", nil, 0, "x.jsonl:1: no column \"review\" (task reviews's text)"},
		{"stars: spelling wins", "x.jsonl", stars, `{"body": "ok", "stars": 1}` + "\n" + `{"body": "top", "stars": "5"}` + "\n", []int{0, 4}, 0, ""},
		{"stars: no index", "x.jsonl", stars, `{"body": "ok", "stars": 0}` + "\n", nil, 0, "x.jsonl:1: label \"0\" is not one of task custom's labels 1, 2, 3, 4, 5"},
		{"reversed digits", "x.tsv", reversed, "sentence\tlabel\na\t0\nb\t1\n", []int{1, 0}, 0, ""},
		{"pair columns", "x.tsv", pairs, "left\tright\tlabel\na\tb\t1\n", []int{1}, 0, ""},
		{"regression unbounded", "x.csv", price, "text,price\nhouse,250000.5\n", []int{0}, 250000.5, ""},
		{"regression negative", "x.csv", price, "text,price\nloss,-3\n", []int{0}, -3, ""},
		{"regression inf", "x.csv", price, "text,price\nhouse,1e400\n", nil, 0, "x.csv:2: label \"1e400\" is not a finite number"},
		{"usual names", "x.tsv", plain, "sentence\tlabel\nis it?\tyes\n", []int{1}, 0, ""},
		{"named column twice", "x.csv", reviews, "review,review,sentiment\na,b,pos\n", nil, 0, "x.csv:1: column \"review\" is in the header twice"},
	} {
		t.Run(c.name, func(t *testing.T) {
			ex, ok := readCase(t, c.file, c.text, c.task, c.wantErr)
			if !ok {
				return
			}
			classes := classesOf(ex)
			if !reflect.DeepEqual(classes, c.classes) || ex[0].Target != c.target {
				t.Fatalf("classes %v target %v; want %v, %v", classes, ex[0].Target, c.classes, c.target)
			}
		})
	}
	if got := reviews.TextInput("fine", ""); got != "reviews review: fine" {
		t.Errorf("TextInput = %q", got)
	}
	if !reflect.DeepEqual(stars.Words, stars.Labels) {
		t.Errorf("words %v", stars.Words)
	}
}
