package data

import (
	"reflect"
	"strings"
	"testing"
)

func TestReadTokenized(t *testing.T) {
	t5, _ := CustomTask(Custom{NumLabels: 2})
	for _, c := range []struct {
		name, task, text string
		vocab            int
		want             []Tokenized
		wantErr          string
	}{
		{"classification", "sst2", `{"input_ids": [101, 2307, 102], "attention_mask": [1, 1, 1], "token_type_ids": [0, 0, 0], "label": 1, "sentence": "great"}` + "\n\n" +
			`{"input_ids": [101, 102], "label": "0"}` + "\n", 30522,
			[]Tokenized{
				{Index: 0, Line: 1, InputIDs: []int64{101, 2307, 102}, AttentionMask: []int64{1, 1, 1}, TokenTypeIDs: []int64{0, 0, 0}, HasLabel: true, Class: 1},
				{Index: 1, Line: 3, InputIDs: []int64{101, 102}, HasLabel: true},
			}, ""},
		{"mnli word label", "mnli", `{"input_ids": [1, 2], "label": "neutral"}` + "\n", 0,
			[]Tokenized{{Line: 1, InputIDs: []int64{1, 2}, HasLabel: true, Class: 1}}, ""},
		{"seq2seq", "custom", `{"input_ids": [37, 1], "labels": [1465, 1, -100]}` + "\n", 32100,
			[]Tokenized{{Line: 1, InputIDs: []int64{37, 1}, Labels: []int64{1465, 1, -100}}}, ""},
		{"regression", "stsb", `{"input_ids": [5], "label": 3.5}` + "\n", 0,
			[]Tokenized{{Line: 1, InputIDs: []int64{5}, HasLabel: true, Target: 3.5}}, ""},
		{"no input_ids", "sst2", `{"text": "a", "label": 1}` + "\n", 0, nil, `x.jsonl:1: no "input_ids" field (fields: text, label)`},
		{"no label", "sst2", `{"input_ids": [1]}` + "\n", 0, nil, `x.jsonl:1: neither "label" nor "labels"`},
		{"id too large", "sst2", "\n" + `{"input_ids": [1, 30522], "label": 1}` + "\n", 30522, nil, `x.jsonl:2: "input_ids"[1] is 30522, outside [0, 30522)`},
		{"negative id", "sst2", `{"input_ids": [-1], "label": 1}` + "\n", 0, nil, `x.jsonl:1: "input_ids"[0] is -1, negative`},
		{"fractional id", "sst2", `{"input_ids": [1.5], "label": 1}` + "\n", 0, nil, `x.jsonl:1: "input_ids"[0] is 1.5, not an integer`},
		{"ids not a list", "sst2", `{"input_ids": "1 2", "label": 1}` + "\n", 0, nil, `x.jsonl:1: "input_ids" is not a list of integers`},
		{"ids null", "sst2", `{"input_ids": null, "label": 1}` + "\n", 0, nil, `x.jsonl:1: "input_ids" is not a list of integers`},
		{"ids empty", "sst2", `{"input_ids": [], "label": 1}` + "\n", 0, nil, `x.jsonl:1: "input_ids" is empty`},
		{"mask length", "sst2", `{"input_ids": [1, 2], "attention_mask": [1], "label": 1}` + "\n", 0, nil, `x.jsonl:1: "attention_mask" has 1 entries, "input_ids" 2`},
		{"mask value", "sst2", `{"input_ids": [1, 2], "attention_mask": [1, 2], "label": 1}` + "\n", 0, nil, `x.jsonl:1: "attention_mask"[1] is 2, outside [0, 2)`},
		{"types length", "sst2", `{"input_ids": [1, 2], "token_type_ids": [0, 0, 1], "label": 1}` + "\n", 0, nil, `x.jsonl:1: "token_type_ids" has 3 entries`},
		{"labels -5", "custom", `{"input_ids": [1], "labels": [-5]}` + "\n", 0, nil, `x.jsonl:1: "labels"[0] is -5, negative`},
		{"bad label", "sst2", `{"input_ids": [1], "label": 2}` + "\n", 0, nil, `x.jsonl:1: label "2" is not one of task sst2's labels`},
		{"label a list", "sst2", `{"input_ids": [1], "label": [1]}` + "\n", 0, nil, `x.jsonl:1: field "label" is neither a string nor a number`},
		{"duplicate key", "sst2", `{"input_ids": [1], "input_ids": [2], "label": 1}` + "\n", 0, nil, `x.jsonl:1: field "input_ids" is given twice`},
		{"not an object", "sst2", "[1, 2]\n", 0, nil, "x.jsonl:1: not a JSON object"},
		{"empty file", "sst2", "\n", 0, nil, "x.jsonl: no examples"},
	} {
		t.Run(c.name, func(t *testing.T) {
			task := t5
			if c.task != "custom" {
				task = Tasks[c.task]
			}
			got, err := ReadTokenized(write(t, "x.jsonl", c.text), task, c.vocab)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) || strings.Contains(err.Error(), "\n") {
					t.Fatalf("got %v, want one line containing %q", err, c.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, c.want) {
				t.Fatalf("got %+v, %v; want %+v", got, err, c.want)
			}
		})
	}
}

func TestIsTokenized(t *testing.T) {
	if _, err := ReadFile(write(t, "x.jsonl", `{"input_ids": [1], "label": 0}`+"\n"), Tasks["sst2"]); err == nil || !strings.Contains(err.Error(), "x.jsonl:1: pre-tokenized") {
		t.Errorf("ReadFile of a pre-tokenized file: %v", err)
	}
	for _, c := range []struct {
		file, text string
		want       bool
	}{
		{"x.jsonl", "\n" + `{"input_ids": [1], "label": 0}` + "\n", true},
		{"x.jsonl", `{"text": "a", "label": 0}` + "\n", false},
		{"x.tsv", "sentence\tlabel\n", false},
		{"x.jsonl", "", false},
	} {
		if got, err := IsTokenized(write(t, c.file, c.text)); err != nil || got != c.want {
			t.Errorf("IsTokenized(%q) = %v, %v; want %v", c.text, got, err, c.want)
		}
	}
	if _, err := IsTokenized(write(t, "x.jsonl", "{oops\n")); err == nil || !strings.Contains(err.Error(), "x.jsonl:1: not a JSON object") {
		t.Errorf("broken first line: %v", err)
	}
}
