package data

import (
	"fmt"
	"strconv"
	"strings"
)

// Custom describes a task crsc does not know by name: any labelled file,
// with its own label spellings and column names.
type Custom struct {
	// Name is the task's name in messages and in a text-to-text model's
	// input ("<name> <column>: …"); "custom" when empty.
	Name string `json:"name,omitempty"`
	// Labels are the label spellings in class-index order (any strings:
	// "neg", "pos"). When empty, NumLabels classes spelled "0" … "n-1".
	Labels    []string `json:"labels,omitempty"`
	NumLabels int      `json:"num_labels,omitempty"`
	// TextColumns are the one or two columns (JSON fields) holding the
	// text; empty reads the usual names (sentence, text, sentence1, …),
	// one text unless Pair.
	TextColumns []string `json:"text_columns,omitempty"`
	Pair        bool     `json:"pair,omitempty"`
	// LabelColumn is the label's column; empty reads the usual names
	// (label, score, …).
	LabelColumn string `json:"label_column,omitempty"`
	// Regression: the label is a real number (any finite value), scored
	// by Pearson correlation; Labels and NumLabels must then be unset.
	Regression bool `json:"regression,omitempty"`
}

// CustomTask builds the Task of a custom data set: accuracy selects the
// best checkpoint of a classification, Pearson that of a regression. A
// text-to-text model's target words are the label spellings themselves.
func CustomTask(c Custom) (*Task, error) {
	t := &Task{Name: c.Name, Regression: c.Regression, LabelColumn: strings.TrimSpace(c.LabelColumn)}
	if t.Name == "" {
		t.Name = "custom"
	}
	if strings.ContainsAny(t.Name, " \t\n:") {
		return nil, fmt.Errorf("custom task name %q has a space or colon (it starts a text-to-text model's input)", t.Name)
	}
	switch n := len(c.TextColumns); {
	case n > 2:
		return nil, fmt.Errorf("custom task %s: %d text columns (%s); a task reads one text or a pair", t.Name, n, strings.Join(c.TextColumns, ", "))
	case n == 1 && c.Pair:
		return nil, fmt.Errorf("custom task %s: a pair task needs two text columns, not one (%s)", t.Name, c.TextColumns[0])
	case n > 0:
		for _, col := range c.TextColumns {
			if strings.TrimSpace(col) == "" {
				return nil, fmt.Errorf("custom task %s: an empty text column name", t.Name)
			}
			t.TextColumns = append(t.TextColumns, strings.TrimSpace(col))
		}
		if n == 2 && t.TextColumns[0] == t.TextColumns[1] {
			return nil, fmt.Errorf("custom task %s: text column %q given twice", t.Name, t.TextColumns[0])
		}
		t.Pair = n == 2
		t.Fields = t.TextColumns
	default:
		t.Pair = c.Pair
		t.Fields = []string{"sentence1", "sentence2"}
		if !t.Pair {
			t.Fields = []string{"sentence"}
		}
	}
	for _, col := range t.TextColumns {
		if col == t.LabelColumn {
			return nil, fmt.Errorf("custom task %s: column %q is both a text and the label", t.Name, col)
		}
	}
	if c.Regression {
		if len(c.Labels) > 0 || c.NumLabels != 0 {
			return nil, fmt.Errorf("custom task %s: a regression has no labels (got %d label names, %d labels)", t.Name, len(c.Labels), c.NumLabels)
		}
		t.Metric = "pearson"
		return t, nil
	}
	t.Metric = "accuracy"
	labels := c.Labels
	switch {
	case len(labels) > 0 && c.NumLabels != 0 && c.NumLabels != len(labels):
		return nil, fmt.Errorf("custom task %s: %d label names (%s) but %d labels", t.Name, len(labels), strings.Join(labels, ", "), c.NumLabels)
	case len(labels) == 0 && c.NumLabels < 2:
		return nil, fmt.Errorf("custom task %s: %d labels; a classification needs at least 2 (or label names), a real-valued label is a regression", t.Name, c.NumLabels)
	case len(labels) == 0:
		for i := range c.NumLabels {
			labels = append(labels, strconv.Itoa(i))
		}
	case len(labels) < 2:
		return nil, fmt.Errorf("custom task %s: one label (%s); a classification needs at least 2", t.Name, labels[0])
	}
	seen := map[string]int{}
	for i, l := range labels {
		l = strings.TrimSpace(l) // ParseLabel compares trimmed text
		if l == "" {
			return nil, fmt.Errorf("custom task %s: label %d is empty", t.Name, i)
		}
		if j, dup := seen[l]; dup {
			return nil, fmt.Errorf("custom task %s: label %q is both class %d and class %d", t.Name, l, j, i)
		}
		seen[l] = i
		t.Labels = append(t.Labels, l)
	}
	t.Words = t.Labels
	return t, nil
}

// names reports whether a column name is one the task reads by name.
func (t *Task) names(h string) bool {
	if h == t.LabelColumn {
		return h != ""
	}
	for _, c := range t.TextColumns {
		if c == h {
			return true
		}
	}
	return false
}

// customColumns locates a custom task's named columns (and the usual
// names for what it leaves unnamed) in a header.
func (t *Task) customColumns(index map[string]int, header []string) (columns, error) {
	c := columns{a: -1, b: -1, label: -1}
	have := func(name, what string) (int, error) {
		if i, ok := index[name]; ok {
			return i, nil
		}
		return -1, fmt.Errorf("no column %q (task %s's %s) in header %q", name, t.Name, what, strings.Join(header, " | "))
	}
	first := func(names []string) int {
		for _, n := range names {
			if i, ok := index[n]; ok {
				return i
			}
		}
		return -1
	}
	var err error
	switch len(t.TextColumns) {
	case 0:
		if c.a = first(textANames); c.a < 0 {
			return c, fmt.Errorf("no text column (want one of %s) in header %q", strings.Join(textANames, ", "), strings.Join(header, " | "))
		}
		if t.Pair {
			if c.b = first(textBNames); c.b < 0 {
				return c, fmt.Errorf("task %s takes sentence pairs but the header %q has no second text column", t.Name, strings.Join(header, " | "))
			}
		}
	default:
		if c.a, err = have(t.TextColumns[0], "text"); err != nil {
			return c, err
		}
		if len(t.TextColumns) == 2 {
			if c.b, err = have(t.TextColumns[1], "second text"); err != nil {
				return c, err
			}
		}
	}
	if t.LabelColumn != "" {
		c.label, err = have(t.LabelColumn, "label")
		return c, err
	}
	if c.label = first(labelNames); c.label < 0 {
		return c, fmt.Errorf("no label column (want one of %s) in header %q", strings.Join(labelNames, ", "), strings.Join(header, " | "))
	}
	return c, nil
}
