package hfconfig

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Family is the architecture family of a model type: what decides how
// crsc trains it. Several model types share one ("xlm-roberta" and
// "camembert" are RoBERTa; "mt5" is T5).
type Family string

// The families crsc knows.
const (
	BERT       Family = "bert"
	RoBERTa    Family = "roberta"
	DistilBERT Family = "distilbert"
	ALBERT     Family = "albert"
	ELECTRA    Family = "electra"
	DeBERTa    Family = "deberta"
	T5         Family = "t5"
)

// families maps Hugging Face's model_type values to their family.
var families = map[string]Family{
	"bert": BERT, "roberta": RoBERTa, "xlm-roberta": RoBERTa, "camembert": RoBERTa,
	"distilbert": DistilBERT, "albert": ALBERT, "electra": ELECTRA,
	"deberta": DeBERTa, "deberta-v2": DeBERTa,
	"t5": T5, "mt5": T5, "umt5": T5,
}

// TextToText reports whether the family is an encoder-decoder trained
// text to text (label words as targets) rather than with a classifier
// head.
func (f Family) TextToText() bool { return f == T5 }

// Config is what crsc reads from a config.json.
type Config struct {
	// ModelType is model_type as written; Family is its family, "" when
	// the file has no model_type or crsc does not know it.
	ModelType     string
	Family        Family
	Architectures []string // e.g. DistilBertForSequenceClassification
	// Labels are id2label's names in class order (label2id's when only it
	// is given); nil when the file names none. NumLabels is their number,
	// or num_labels when the file gives only that; 0 when it gives
	// neither (Hugging Face would then assume 2).
	Labels    []string
	NumLabels int
	// ProblemType is problem_type: "regression",
	// "single_label_classification", "multi_label_classification" or "".
	ProblemType string
	// MaxPositions is max_position_embeddings, the learned positions an
	// input may use; 0 when absent (T5's relative positions have no such
	// limit). VocabSize is vocab_size, 0 when absent.
	MaxPositions, VocabSize int
	// PadTokenID and DecoderStartTokenID are nil when absent or null.
	PadTokenID, DecoderStartTokenID *int
}

// Load reads a config.json; a folder means its config.json. Errors start
// with the path.
func Load(path string) (*Config, error) {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		path = filepath.Join(path, "config.json")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	c, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	return c, nil
}

// Beside finds the file called name ("config.json", "tokenizer.json")
// that belongs to a model file: <stem>.<name> next to it (as
// model.config.json beside model.onnx), else <name> in its folder (the
// layout Hugging Face and optimum save). ok is false when there is none.
func Beside(modelPath, name string) (path string, ok bool) {
	dir, base := filepath.Split(modelPath)
	stem := strings.TrimSuffix(base, filepath.Ext(base))
	for _, p := range []string{filepath.Join(dir, stem+"."+name), filepath.Join(dir, name)} {
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, true
		}
	}
	return "", false
}

// Parse reads the contents of a config.json. Every error is one line
// naming the field at fault.
func Parse(b []byte) (*Config, error) {
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, fmt.Errorf("empty file, not a config.json")
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(b, &fields); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return nil, fmt.Errorf("not a config.json: invalid JSON at byte %d: %v", se.Offset, se)
		}
		return nil, fmt.Errorf("not a config.json: the document is not a JSON object")
	}
	if fields == nil {
		return nil, fmt.Errorf("not a config.json: the document is null, not a JSON object")
	}
	f := reader(fields)
	c := &Config{}
	var err error
	if c.ModelType, err = f.str("model_type"); err != nil {
		return nil, err
	}
	c.Family = families[c.ModelType]
	if c.Architectures, err = f.strs("architectures"); err != nil {
		return nil, err
	}
	if c.ProblemType, err = f.str("problem_type"); err != nil {
		return nil, err
	}
	switch c.ProblemType {
	case "", "regression", "single_label_classification", "multi_label_classification":
	default:
		return nil, fmt.Errorf("problem_type is %q, want regression, single_label_classification or multi_label_classification", c.ProblemType)
	}
	for _, n := range []struct {
		name string
		dst  *int
	}{{"max_position_embeddings", &c.MaxPositions}, {"vocab_size", &c.VocabSize}} {
		v, err := f.int(n.name, 1)
		if err != nil {
			return nil, err
		}
		if v != nil {
			*n.dst = *v
		}
	}
	if c.PadTokenID, err = f.int("pad_token_id", 0); err != nil {
		return nil, err
	}
	if c.DecoderStartTokenID, err = f.int("decoder_start_token_id", 0); err != nil {
		return nil, err
	}
	for _, id := range []struct {
		name string
		v    *int
	}{{"pad_token_id", c.PadTokenID}, {"decoder_start_token_id", c.DecoderStartTokenID}} {
		if id.v != nil && c.VocabSize > 0 && *id.v >= c.VocabSize {
			return nil, fmt.Errorf("%s %d is outside vocab_size %d", id.name, *id.v, c.VocabSize)
		}
	}
	if err := c.labels(f); err != nil {
		return nil, err
	}
	return c, nil
}

// labels reads id2label, label2id and num_labels, which must agree.
func (c *Config) labels(f reader) error {
	id2label, err := f.id2label()
	if err != nil {
		return err
	}
	label2id, err := f.label2id()
	if err != nil {
		return err
	}
	num, err := f.int("num_labels", 1)
	if err != nil {
		return err
	}
	switch {
	case id2label != nil:
		c.Labels = id2label
	case label2id != nil:
		// Only label2id: its ids must then be the classes 0 … n-1.
		names := make([]string, len(label2id))
		set := make([]bool, len(label2id))
		for _, name := range slices.Sorted(maps.Keys(label2id)) {
			id := label2id[name]
			if id >= len(names) {
				return fmt.Errorf("label2id[%q] is %d: the %d labels need ids 0 … %d", name, id, len(names), len(names)-1)
			}
			if set[id] {
				return fmt.Errorf("label2id gives id %d to both %q and %q", id, names[id], name)
			}
			names[id], set[id] = name, true
		}
		c.Labels = names
	}
	if id2label != nil && label2id != nil {
		if len(label2id) != len(id2label) {
			return fmt.Errorf("label2id has %d labels, id2label %d", len(label2id), len(id2label))
		}
		for i, name := range id2label {
			if id, ok := label2id[name]; !ok {
				return fmt.Errorf("label2id has no %q (id2label[\"%d\"])", name, i)
			} else if id != i {
				return fmt.Errorf("label2id[%q] is %d, but id2label[\"%d\"] is %q", name, id, i, name)
			}
		}
	}
	c.NumLabels = len(c.Labels)
	if num != nil {
		if c.Labels != nil && *num != len(c.Labels) {
			return fmt.Errorf("num_labels is %d but id2label names %d labels", *num, len(c.Labels))
		}
		c.NumLabels = *num
	}
	return nil
}

// GenericLabels reports whether the labels are Hugging Face's
// placeholders LABEL_0, LABEL_1, … (a config saved without real names),
// which say nothing about what each class means.
func (c *Config) GenericLabels() bool {
	for i, l := range c.Labels {
		if l != "LABEL_"+strconv.Itoa(i) {
			return false
		}
	}
	return true
}

// CheckClasses says, in one line, when the model's labels do not fit a
// task of n classes (1 for a regression); a config without labels fits
// any.
func (c *Config) CheckClasses(n int) error {
	if c.NumLabels == 0 || c.NumLabels == n {
		return nil
	}
	names := ""
	if len(c.Labels) > 0 && !c.GenericLabels() {
		names = " (" + strings.Join(c.Labels, ", ") + ")"
	}
	return fmt.Errorf("config.json has %d labels%s, the task has %d", c.NumLabels, names, n)
}

// reader reads the fields of a config.json's top-level object.
type reader map[string]json.RawMessage

// present reports a field given a non-null value.
func (f reader) present(name string) (json.RawMessage, bool) {
	raw, ok := f[name]
	if !ok || string(bytes.TrimSpace(raw)) == "null" {
		return nil, false
	}
	return raw, true
}

func (f reader) str(name string) (string, error) {
	raw, ok := f.present(name)
	if !ok {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", fmt.Errorf("%s is %s, want a string", name, kind(raw))
	}
	return s, nil
}

func (f reader) strs(name string) ([]string, error) {
	raw, ok := f.present(name)
	if !ok {
		return nil, nil
	}
	var s []string
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, fmt.Errorf("%s is %s, want a list of strings", name, kind(raw))
	}
	return s, nil
}

// int reads an integer of at least low; nil when the field is absent or
// null.
func (f reader) int(name string, low int) (*int, error) {
	raw, ok := f.present(name)
	if !ok {
		return nil, nil
	}
	v, err := integer(raw)
	if err != nil {
		return nil, fmt.Errorf("%s is %v", name, err)
	}
	if v < low {
		return nil, fmt.Errorf("%s is %d, want at least %d", name, v, low)
	}
	return &v, nil
}

// integer decodes a JSON integer that fits an int.
func integer(raw json.RawMessage) (int, error) {
	var n json.Number
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	if err := d.Decode(&n); err != nil || raw[0] == '"' {
		return 0, fmt.Errorf("%s, want an integer", kind(raw))
	}
	v, err := strconv.Atoi(n.String())
	if err != nil {
		return 0, fmt.Errorf("%s, want an integer", clip(n.String()))
	}
	return v, nil
}

// id2label reads {"0": "NEGATIVE", "1": "POSITIVE"} into names in class
// order; the keys must be the classes 0 … n-1, each name given once.
func (f reader) id2label() ([]string, error) {
	m, keys, err := f.object("id2label", `"index": name`)
	if m == nil {
		return nil, err
	}
	// Keys are distinct canonical integers inside 0 … n-1, so they are
	// exactly the classes.
	names := make([]string, len(m))
	for _, k := range keys {
		i, err := strconv.Atoi(k)
		if err != nil || strconv.Itoa(i) != k {
			return nil, fmt.Errorf("id2label key %q is not a class index", clip(k))
		}
		if i < 0 || i >= len(m) {
			return nil, fmt.Errorf("id2label key %q: the %d labels need ids 0 … %d", k, len(m), len(m)-1)
		}
		var name string
		if err := json.Unmarshal(m[k], &name); err != nil {
			return nil, fmt.Errorf("id2label[%q] is %s, want a string", k, kind(m[k]))
		}
		names[i] = name
	}
	seen := map[string]int{}
	for i, name := range names {
		if j, dup := seen[name]; dup {
			return nil, fmt.Errorf("id2label gives %q to ids %d and %d", clip(name), j, i)
		}
		seen[name] = i
	}
	return names, nil
}

// label2id reads {"NEGATIVE": 0, …}; ids must be non-negative and
// distinct (their range is checked against the labels).
func (f reader) label2id() (map[string]int, error) {
	m, keys, err := f.object("label2id", "name: index")
	if m == nil {
		return nil, err
	}
	out := make(map[string]int, len(m))
	for _, k := range keys {
		v, err := integer(m[k])
		if err != nil {
			return nil, fmt.Errorf("label2id[%q] is %v", clip(k), err)
		}
		if v < 0 {
			return nil, fmt.Errorf("label2id[%q] is %d, want a class index", clip(k), v)
		}
		out[k] = v
	}
	return out, nil
}

// object reads field name as a non-empty JSON object (of entries, for
// the message) with its keys sorted: a fixed order, so that a bad file
// names the same key each time. An absent field is nil, nil, nil.
func (f reader) object(name, entries string) (map[string]json.RawMessage, []string, error) {
	raw, ok := f.present(name)
	if !ok {
		return nil, nil, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, nil, fmt.Errorf("%s is %s, want an object of %s", name, kind(raw), entries)
	}
	if len(m) == 0 {
		return nil, nil, fmt.Errorf("%s is empty", name)
	}
	return m, slices.Sorted(maps.Keys(m)), nil
}

// kind names the JSON kind of a value, for messages.
func kind(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "empty"
	}
	switch raw[0] {
	case '{':
		return "a JSON object"
	case '[':
		return "a JSON list"
	case '"':
		return "a JSON string"
	case 't', 'f':
		return "true or false"
	case 'n':
		return "null"
	}
	return "a JSON number (" + clip(string(raw)) + ")"
}

func clip(s string) string {
	if len(s) > 32 {
		return s[:32] + "…"
	}
	return s
}
