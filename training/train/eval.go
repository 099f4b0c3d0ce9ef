package train

import (
	"crsc/runtime/device"
	"crsc/runtime/engine"
	"crsc/training/data"
	"crsc/training/tokenize"
)

// EvalConfig says what Evaluate scores.
type EvalConfig struct {
	Model, Task, Data, Vocab string
	TokenizerFile            string // a tokenizer.json (WordPiece, or T5's Unigram)
	MaxLen, Batch, Threads   int
	TgtLen                   int                 // T5's target length (0: the label words')
	Tokenizer                *tokenize.WordPiece // instead of Vocab
	Unigram                  *tokenize.Unigram   // instead of TokenizerFile
	Device                   *device.Device      // nil: the CPU
	Custom                   *data.Custom        // Task "custom"
	Export                   ExportOptions       // how to read the model (input roles, --output)
}

// Evaluate runs an exported model (Dropout off) over a labelled file (text,
// or pre-tokenized JSON Lines) and returns the task's metrics.
func Evaluate(e EvalConfig) (map[string]float64, error) {
	c := &Config{Model: e.Model, Task: e.Task, MaxLen: e.MaxLen, Batch: e.Batch, Threads: e.Threads, TgtLen: e.TgtLen,
		Vocab: e.Vocab, TokenizerFile: e.TokenizerFile, Tokenizer: e.Tokenizer, Unigram: e.Unigram, Device: e.Device,
		Custom: e.Custom, Export: e.Export, TrainFile: e.Data}
	c.Export.Head = "none" // an exported classifier has its logits
	c.Defaults()
	in, err := c.resolveInputs()
	if err != nil {
		return nil, err
	}
	task, pre, targets := in.task, in.pre, in.targets
	m, err := loadModel(c, task)
	if err != nil {
		return nil, err
	}
	if err := checkVocab(c, m); err != nil {
		return nil, err
	}
	ex, err := readExamples(e.Data, task, pre, m.vocab)
	if err != nil {
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
	set := t.encode(ex, targets)
	preds, err := t.predict(set)
	if err != nil {
		return nil, err
	}
	return task.Metrics(preds, gold(set, task.Regression)), nil
}
