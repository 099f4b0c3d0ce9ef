package train

import (
	"fmt"

	"crsc/data"
	"crsc/tokenize"
)

// EvalConfig says what Evaluate scores.
type EvalConfig struct {
	Model, Task, Data, Vocab string
	MaxLen, Batch, Threads   int
	Tokenizer                *tokenize.WordPiece // instead of Vocab
}

// Evaluate runs an exported model (Dropout off) over a labelled file and
// returns the task's metrics.
func Evaluate(e EvalConfig) (map[string]float64, error) {
	task, err := data.LookupTask(e.Task)
	if err != nil {
		return nil, err
	}
	c := &Config{Model: e.Model, Task: e.Task, MaxLen: e.MaxLen, Batch: e.Batch, Threads: e.Threads, Tokenizer: e.Tokenizer}
	c.Defaults()
	if c.Tokenizer == nil {
		if e.Vocab == "" {
			return nil, fmt.Errorf("no tokenizer: give --vocab vocab.txt")
		}
		if c.Tokenizer, err = tokenize.LoadVocab(e.Vocab); err != nil {
			return nil, err
		}
	}
	examples, err := data.ReadFile(e.Data, task)
	if err != nil {
		return nil, err
	}
	m, err := loadModel(c, task.NumClasses())
	if err != nil {
		return nil, err
	}
	if m.vocab != 0 && m.vocab != c.Tokenizer.VocabSize() {
		return nil, fmt.Errorf("the tokenizer has %d tokens but the model's word embedding has %d rows: wrong vocab for this model", c.Tokenizer.VocabSize(), m.vocab)
	}
	t := &trainer{cfg: c, task: task, m: m, eval: m.forward}
	set := encode(c.Tokenizer, examples, c.MaxLen)
	preds, err := t.predict(set)
	if err != nil {
		return nil, err
	}
	return task.Metrics(preds, gold(set, task.Regression)), nil
}
