package data

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
)

// Tokenized is one pre-tokenized example: the ids a model takes, as a
// Hugging Face datasets .map(tokenizer) writes them, already with their
// special tokens. Nothing is added, truncated or padded when reading.
type Tokenized struct {
	Index int // position in its file (0-based)
	Line  int
	// InputIDs are the input tokens; AttentionMask and TokenTypeIDs have
	// the same length, or are nil when the file leaves them out (all ones,
	// all zeros).
	InputIDs, AttentionMask, TokenTypeIDs []int64
	// HasLabel says the example has a "label" (Class or Target, as the
	// task reads it); Labels are the target ids of a sequence-to-sequence
	// example ("labels"), nil when absent. Every example has one or both.
	HasLabel bool
	Class    int
	Target   float64
	Labels   []int64
}

// ReadTokenized reads pre-tokenized JSON Lines: one object per line with
// "input_ids" (a list of ids), optionally "attention_mask" (0 or 1 per
// id) and "token_type_ids", and "label" (read as task reads a label:
// spelling or index, or a number for a regression) and/or "labels" (the
// target ids of a text-to-text model; -100, PyTorch's ignored position, is
// kept as it is). Other fields (the text a tokenizer was mapped over) are
// ignored. vocabSize, when positive, bounds every id. Errors are one line
// naming file:line.
func ReadTokenized(path string, task *Task, vocabSize int) ([]Tokenized, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readTokenized(f, path, task, vocabSize)
}

// IsTokenized reports whether a JSON Lines file holds pre-tokenized
// examples: its first record has an "input_ids" field. Other formats (TSV,
// CSV) are never pre-tokenized.
func IsTokenized(path string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	l := newLines(f, path)
	text, ok := l.record()
	if !ok {
		return false, l.err()
	}
	if text[0] != '{' {
		return false, nil
	}
	keys, _, err := jsonObject(text)
	if err != nil {
		return false, l.errorf("%v", err)
	}
	return contains(keys, "input_ids"), nil
}

func readTokenized(r io.Reader, path string, task *Task, vocabSize int) ([]Tokenized, error) {
	l := newLines(r, path)
	var out []Tokenized
	for text, ok := l.record(); ok; text, ok = l.record() {
		ex, err := tokenizedRecord(text, task, vocabSize)
		if err != nil {
			return nil, l.errorf("%v", err)
		}
		ex.Index, ex.Line = len(out), l.n
		out = append(out, ex)
	}
	if err := l.err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no examples", path)
	}
	return out, nil
}

func tokenizedRecord(text []byte, task *Task, vocabSize int) (Tokenized, error) {
	var ex Tokenized
	keys, vals, err := jsonObject(text)
	if err != nil {
		return ex, err
	}
	field := map[string]json.RawMessage{}
	for i, k := range keys {
		field[k] = vals[i]
	}
	raw, ok := field["input_ids"]
	if !ok {
		return ex, fmt.Errorf("no \"input_ids\" field (fields: %s)", strings.Join(keys, ", "))
	}
	if ex.InputIDs, err = idList("input_ids", raw, 0, vocabSize); err != nil {
		return ex, err
	}
	if len(ex.InputIDs) == 0 {
		return ex, fmt.Errorf("\"input_ids\" is empty")
	}
	for _, side := range []struct {
		name string
		dst  *[]int64
		max  int // exclusive bound on a value
	}{{"attention_mask", &ex.AttentionMask, 2}, {"token_type_ids", &ex.TokenTypeIDs, 0}} {
		raw, ok := field[side.name]
		if !ok {
			continue
		}
		v, err := idList(side.name, raw, 0, side.max)
		if err != nil {
			return ex, err
		}
		if len(v) != len(ex.InputIDs) {
			return ex, fmt.Errorf("%q has %d entries, \"input_ids\" %d", side.name, len(v), len(ex.InputIDs))
		}
		*side.dst = v
	}
	if raw, ok := field["labels"]; ok {
		// -100 marks a target position the loss ignores (padding).
		if ex.Labels, err = idList("labels", raw, -100, vocabSize); err != nil {
			return ex, err
		}
		if len(ex.Labels) == 0 {
			return ex, fmt.Errorf("\"labels\" is empty")
		}
	}
	if raw, ok := field["label"]; ok {
		s, err := scalar(raw)
		if err != nil {
			return ex, fmt.Errorf("field \"label\" is %v", err)
		}
		if ex.Class, ex.Target, err = task.ParseLabel(s); err != nil {
			return ex, err
		}
		ex.HasLabel = true
	}
	if !ex.HasLabel && ex.Labels == nil {
		return ex, fmt.Errorf("neither \"label\" nor \"labels\" (fields: %s)", strings.Join(keys, ", "))
	}
	return ex, nil
}

// idList decodes a JSON list of integers, each ≥ 0 (or equal to
// allowNeg when that is negative) and below limit when limit > 0.
func idList(name string, raw json.RawMessage, allowNeg int64, limit int) ([]int64, error) {
	var nums []json.Number
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	if err := d.Decode(&nums); err != nil || nums == nil && string(raw) != "[]" {
		return nil, fmt.Errorf("%q is not a list of integers", name)
	}
	out := make([]int64, len(nums))
	for i, n := range nums {
		v, err := n.Int64()
		switch {
		case err != nil:
			return nil, fmt.Errorf("%q[%d] is %s, not an integer", name, i, clip(n.String()))
		case v < 0 && !(allowNeg < 0 && v == allowNeg):
			return nil, fmt.Errorf("%q[%d] is %d, negative", name, i, v)
		case limit > 0 && v >= int64(limit):
			return nil, fmt.Errorf("%q[%d] is %d, outside [0, %d)", name, i, v, limit)
		}
		out[i] = v
	}
	return out, nil
}

// scalar reads a JSON string or number as its text.
func scalar(raw json.RawMessage) (string, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, nil
	}
	var n json.Number
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	if err := d.Decode(&n); err != nil {
		return "", fmt.Errorf("neither a string nor a number")
	}
	return n.String(), nil
}

func clip(s string) string {
	if len(s) > 24 {
		return s[:24] + "…"
	}
	return s
}
