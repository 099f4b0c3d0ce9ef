package train

import (
	"crsc/data"
	"crsc/runtime/device"
	"crsc/runtime/engine"
	"crsc/tokenize"
)

// EvalConfig says what Evaluate scores.
type EvalConfig struct {
	Model, Task, Data, Vocab string
	TokenizerFile            string // a tokenizer.json (T5)
	MaxLen, Batch, Threads   int
	TgtLen                   int                 // T5's target length (0: the label words')
	Tokenizer                *tokenize.WordPiece // instead of Vocab
	Unigram                  *tokenize.Unigram   // instead of TokenizerFile
	Device                   *device.Device      // nil: the CPU
}

// Evaluate runs an exported model (Dropout off) over a labelled file and
// returns the task's metrics.
func Evaluate(e EvalConfig) (map[string]float64, error) {
	task, err := data.LookupTask(e.Task)
	if err != nil {
		return nil, err
	}
	c := &Config{Model: e.Model, Task: e.Task, MaxLen: e.MaxLen, Batch: e.Batch, Threads: e.Threads, TgtLen: e.TgtLen,
		Vocab: e.Vocab, TokenizerFile: e.TokenizerFile, Tokenizer: e.Tokenizer, Unigram: e.Unigram, Device: e.Device}
	c.Defaults()
	targets, err := loadTokenizer(c, task)
	if err != nil {
		return nil, err
	}
	examples, err := data.ReadFile(e.Data, task)
	if err != nil {
		return nil, err
	}
	m, err := loadModel(c, task)
	if err != nil {
		return nil, err
	}
	if err := checkVocab(c, m); err != nil {
		return nil, err
	}
	t := &trainer{cfg: c, task: task, m: m, eval: m.forward}
	if t.sess, err = engine.New(c.Device, c.Threads); err != nil {
		return nil, err
	}
	defer t.sess.Close()
	if _, err := t.sess.AddEval(t.eval); err != nil {
		return nil, err
	}
	set := t.encode(examples, targets)
	preds, err := t.predict(set)
	if err != nil {
		return nil, err
	}
	return task.Metrics(preds, gold(set, task.Regression)), nil
}
