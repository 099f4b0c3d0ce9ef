package data

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// Task describes one GLUE-style task: its label set (or regression), whether
// examples are sentence pairs, and which metric picks the best checkpoint.
type Task struct {
	Name string
	// Labels are the accepted label spellings, in class-index order; a
	// label in a file may also be given as its index ("0", "1").
	Labels     []string
	Regression bool // the label is a real number (STS-B), trained with MSE
	Pair       bool // examples have two texts
	// Metric is the key of Metrics' result that selects the best
	// checkpoint (higher is better).
	Metric string
	// Words are the target words of each class when a text-to-text model
	// (T5) is trained on the task, and Fields the names that introduce
	// each text in its input ("sst2 sentence: …"): both as T5's own GLUE
	// preprocessing spells them, so a pretrained T5 sees the format it
	// was trained on.
	Words  []string
	Fields []string
	// TextBFirst: T5's input names the second text first, as its MNLI
	// preprocessing does ("mnli hypothesis: <b> premise: <a>": it sorts
	// the feature names).
	TextBFirst bool
	// TargetRange is the {min, max} a regression target must lie in
	// (STS-B: 0 to 5); nil takes any finite number.
	TargetRange []float64
	// TextColumns and LabelColumn, when set, are the exact column (or
	// JSON field) names to read, instead of the usual names GLUE and
	// common exports use: a custom task's file says what it calls them.
	TextColumns []string
	LabelColumn string
	// DevSplits are the evaluation files' split names, in the order they
	// are reported; nil means "dev" (MNLI has a matched and a mismatched
	// dev set).
	DevSplits []string
}

// Tasks are the tasks crsc knows, by name.
var Tasks = map[string]*Task{
	"sst2": {Name: "sst2", Labels: []string{"0", "1"}, Metric: "accuracy",
		Words: []string{"negative", "positive"}, Fields: []string{"sentence"}},
	"cola": {Name: "cola", Labels: []string{"0", "1"}, Metric: "matthews",
		Words: []string{"unacceptable", "acceptable"}, Fields: []string{"sentence"}},
	"mrpc": {Name: "mrpc", Labels: []string{"0", "1"}, Pair: true, Metric: "f1",
		Words: []string{"not_equivalent", "equivalent"}, Fields: []string{"sentence1", "sentence2"}},
	"qnli": {Name: "qnli", Labels: []string{"entailment", "not_entailment"}, Pair: true, Metric: "accuracy",
		Words: []string{"entailment", "not_entailment"}, Fields: []string{"question", "sentence"}},
	"rte": {Name: "rte", Labels: []string{"entailment", "not_entailment"}, Pair: true, Metric: "accuracy",
		Words: []string{"entailment", "not_entailment"}, Fields: []string{"sentence1", "sentence2"}},
	// T5 trains STS-B as text too ("3.8"), which needs generation or 26
	// scored classes; crsc does not do it yet (no Words).
	"stsb": {Name: "stsb", Regression: true, Pair: true, Metric: "pearson", Fields: []string{"sentence1", "sentence2"},
		TargetRange: []float64{0, 5}},
	// MNLI's label order is GLUE's and T5's (0 entailment, 1 neutral, 2
	// contradiction); files spell the label as the word (GLUE TSV's
	// gold_label) or its index (Hugging Face datasets).
	"mnli": {Name: "mnli", Labels: []string{"entailment", "neutral", "contradiction"}, Pair: true, Metric: "accuracy",
		Words: []string{"entailment", "neutral", "contradiction"}, Fields: []string{"premise", "hypothesis"}, TextBFirst: true,
		DevSplits: []string{"dev_matched", "dev_mismatched"}},
	// QQP and WNLI label 1 as the positive class (is_duplicate,
	// entailment); the words are the class names T5 was trained on.
	"qqp": {Name: "qqp", Labels: []string{"not_duplicate", "duplicate"}, Pair: true, Metric: "f1",
		Words: []string{"not_duplicate", "duplicate"}, Fields: []string{"question1", "question2"}},
	"wnli": {Name: "wnli", Labels: []string{"not_entailment", "entailment"}, Pair: true, Metric: "accuracy",
		Words: []string{"not_entailment", "entailment"}, Fields: []string{"sentence1", "sentence2"}},
}

// LookupTask returns the named task (case-insensitive; "sst-2" and "sts-b"
// spellings work too).
func LookupTask(name string) (*Task, error) {
	key := strings.ReplaceAll(strings.ToLower(name), "-", "")
	if t, ok := Tasks[key]; ok {
		return t, nil
	}
	var names []string
	for n := range Tasks {
		names = append(names, n)
	}
	sort.Strings(names)
	return nil, fmt.Errorf("unknown task %q (known: %s)", name, strings.Join(names, ", "))
}

// NumClasses is the number of labels, or 1 for a regression task (one
// output).
func (t *Task) NumClasses() int {
	if t.Regression {
		return 1
	}
	return len(t.Labels)
}

// ParseLabel maps a label as written in a file to its class index, or to
// the regression target. It accepts the label's spelling or its index.
func (t *Task) ParseLabel(s string) (class int, target float64, err error) {
	s = strings.TrimSpace(s)
	if t.Regression {
		// ParseFloat takes the whole string ("3.8abc" is no number) and
		// reports overflow as ±Inf, which the range check refuses; NaN
		// ("nan") is no score.
		target, err := strconv.ParseFloat(s, 64)
		if err != nil && !errors.Is(err, strconv.ErrRange) || math.IsNaN(target) {
			return 0, 0, fmt.Errorf("label %q is not a number (task %s is a regression)", s, t.Name)
		}
		if r := t.TargetRange; len(r) == 2 && (target < r[0] || target > r[1]) {
			return 0, 0, fmt.Errorf("label %g is outside [%g, %g] (task %s)", target, r[0], r[1], t.Name)
		}
		if math.IsInf(target, 0) {
			return 0, 0, fmt.Errorf("label %q is not a finite number (task %s)", s, t.Name)
		}
		return 0, target, nil
	}
	for i, l := range t.Labels {
		if s == l {
			return i, 0, nil
		}
	}
	if i, err := strconv.Atoi(s); err == nil && i >= 0 && i < len(t.Labels) && s == strconv.Itoa(i) && t.indexesAccepted() {
		return i, 0, nil
	}
	return 0, 0, fmt.Errorf("label %q is not one of task %s's labels %s", s, t.Name, strings.Join(t.Labels, ", "))
}

// indexesAccepted: a label may be given as its class index unless some
// label is spelled as a number other than its own index (a custom task's
// star ratings "1" … "5"): "1" must then mean its spelling, and "0" is no
// label at all rather than a hidden alias of "1".
func (t *Task) indexesAccepted() bool {
	for i, l := range t.Labels {
		if _, err := strconv.Atoi(l); err == nil && l != strconv.Itoa(i) {
			return false
		}
	}
	return true
}

// TextInput is the input text of a text-to-text model for one example:
// "<task> <field1>: a" or "<task> <field1>: a <field2>: b", as T5's GLUE
// preprocessing writes it.
func (t *Task) TextInput(a, b string) string {
	f1, f2 := "sentence", "sentence2"
	if len(t.Fields) > 0 {
		f1 = t.Fields[0]
	}
	if len(t.Fields) > 1 {
		f2 = t.Fields[1]
	}
	if !t.Pair {
		return t.Name + " " + f1 + ": " + a
	}
	if t.TextBFirst {
		return t.Name + " " + f2 + ": " + b + " " + f1 + ": " + a
	}
	return t.Name + " " + f1 + ": " + a + " " + f2 + ": " + b
}
