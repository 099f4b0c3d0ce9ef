package train

import (
	"fmt"
	"strings"

	"crsc/training/data"
	"crsc/training/hfconfig"
)

// lookupTask is the run's task: a known one by name, or --task custom as
// Custom describes it (labels from the model's config.json when neither
// --labels nor --num-labels says).
func (c *Config) lookupTask() (*data.Task, error) {
	if !strings.EqualFold(c.Task, "custom") {
		if c.Custom != nil {
			return nil, fmt.Errorf("--labels, --num-labels, --text-columns, --label-column and --regression describe --task custom, not %s", c.Task)
		}
		return data.LookupTask(c.Task)
	}
	cu := data.Custom{}
	if c.Custom != nil {
		cu = *c.Custom
	}
	if len(cu.Labels) == 0 && cu.NumLabels == 0 && !cu.Regression && c.Model != "" {
		if p, ok := besideModel(c.Model, "config.json"); ok {
			hf, err := hfconfig.Load(p)
			if err != nil {
				return nil, err
			}
			if len(hf.Labels) > 0 && !hf.GenericLabels() {
				cu.Labels = hf.Labels
				c.notes = append(c.notes, fmt.Sprintf("labels %s (id2label of %s)", strings.Join(hf.Labels, ", "), p))
			}
		}
	}
	if len(cu.Labels) == 0 && cu.NumLabels == 0 && !cu.Regression {
		return nil, fmt.Errorf("--task custom: give the labels (--labels a,b,c in class order, or --num-labels N for labels 0…N-1) or --regression")
	}
	return data.CustomTask(cu)
}

// examples are a data file's examples: text to tokenize, or pre-tokenized
// ids (JSON Lines with input_ids).
type examples struct {
	text   []data.Example
	tokens []data.Tokenized
}

func (e examples) len() int { return max(len(e.text), len(e.tokens)) }

// preTokenized says whether the run's training file holds token ids.
func (c *Config) preTokenized() (bool, error) {
	if c.TrainExamples != nil || c.TrainFile == "" {
		return false, nil
	}
	return data.IsTokenized(c.TrainFile)
}

// readExamples reads a data file as text, or as token ids bounded by the
// model's vocabulary when pre.
func readExamples(path string, task *data.Task, pre bool, vocab int) (examples, error) {
	if pre {
		toks, err := data.ReadTokenized(path, task, vocab)
		return examples{tokens: toks}, err
	}
	if ok, err := data.IsTokenized(path); err == nil && ok {
		return examples{}, fmt.Errorf("%s is pre-tokenized but the training file is text: give both as text or both as token ids", path)
	}
	text, err := data.ReadFile(path, task)
	return examples{text: text}, err
}

// encodeTokenized packs pre-tokenized examples, truncated to maxLen (the
// last id kept is the sequence's own: a [SEP] cut off is not put back, as
// a tokenizer would; the count is said at the run's start).
func encodeTokenized(toks []data.Tokenized, maxLen int, pad int64) (e *encoded, truncated int) {
	exs := make([]data.Example, len(toks))
	for i, t := range toks {
		exs[i] = data.Example{Index: t.Index, Line: t.Line, Class: t.Class, Target: t.Target}
	}
	e = newEncoded(exs, maxLen, pad, nil)
	for _, t := range toks {
		n := len(t.InputIDs)
		if n > maxLen {
			n, truncated = maxLen, truncated+1
		}
		mask := make([]int64, n)
		for j := range mask {
			mask[j] = 1
			if t.AttentionMask != nil {
				mask[j] = t.AttentionMask[j]
			}
		}
		var types []int64
		if t.TokenTypeIDs != nil {
			types = t.TokenTypeIDs[:n]
		}
		e.add(t.InputIDs[:n], mask, types) // the mask's leading ones are the tokens
	}
	return e, truncated
}
