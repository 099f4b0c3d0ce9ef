package train

import (
	"fmt"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"regexp"

	"crsc/compiler/ir"
	"crsc/compiler/models"
	"crsc/training/data"
	"crsc/training/hfconfig"
	"crsc/training/tokenize"
)

// Text-to-text training (T5): the input is the task's text with its
// prefix ("sst2 sentence: …"), the target the class's label word
// ("negative"/"positive") and </s>; the model computes its own LM
// cross-entropy. Prediction scores each class's label sequence and picks
// the most likely, which is exact for a closed label set and needs no
// generation loop.

// loadTokenizer resolves c's tokenizer: a tokenizer.json (WordPiece for a
// classifier, Unigram for a text-to-text model) or a WordPiece vocab.txt;
// with neither given, the tokenizer.json or vocab.txt beside the model.
// With the Unigram it returns each class's target sequence and sets
// c.TgtLen to its length. optional says the data is pre-tokenized: no
// tokenizer is then needed.
func loadTokenizer(c *Config, task *data.Task, optional bool) (targets [][]int64, err error) {
	if c.Tokenizer == nil && c.Unigram == nil && c.Vocab == "" && c.TokenizerFile == "" && c.Model != "" {
		if p, ok := besideModel(c.Model, "tokenizer.json"); ok {
			c.TokenizerFile = p
		} else if p, ok := besideModel(c.Model, "vocab.txt"); ok {
			c.Vocab = p
		}
		if p := c.TokenizerFile + c.Vocab; p != "" {
			c.notes = append(c.notes, "tokenizer "+p+" (beside the model)")
		}
	}
	if c.Tokenizer == nil && c.Unigram == nil && c.TokenizerFile != "" {
		if c.Tokenizer, c.Unigram, err = tokenize.LoadTokenizerJSON(c.TokenizerFile); err != nil {
			return nil, err
		}
	}
	if c.Unigram != nil {
		targets, c.TgtLen, err = labelTargets(c.Unigram, task, c.TgtLen)
		return targets, err
	}
	if c.Tokenizer == nil {
		if c.Vocab == "" {
			if optional {
				return nil, nil
			}
			return nil, fmt.Errorf("no tokenizer: give --vocab vocab.txt or --tokenizer tokenizer.json (BERT family: WordPiece; T5: Unigram), or pre-tokenized JSON Lines data")
		}
		if c.Tokenizer, err = tokenize.LoadVocab(c.Vocab); err != nil {
			return nil, err
		}
	}
	return nil, nil
}

// besideModel finds a file that belongs to the model argument: in its
// folder when it is one, else beside the .onnx file.
func besideModel(model, name string) (string, bool) {
	if st, err := os.Stat(model); err == nil && st.IsDir() {
		p := filepath.Join(model, name)
		st, err := os.Stat(p)
		return p, err == nil && !st.IsDir()
	}
	return hfconfig.Beside(model, name)
}

// checkVocab checks that the tokenizer suits the model: the kind (Unigram
// for a text-to-text model, WordPiece for a classifier) and the size. A
// T5's embedding may have more rows than the tokenizer has pieces (t5-small:
// 32128 for 32100), never fewer: an id past the table would be out of range.
func checkVocab(c *Config, m *model) error {
	if m.t5 {
		if c.Unigram == nil {
			return fmt.Errorf("a text-to-text (T5) model needs its tokenizer.json (--tokenizer), not a WordPiece vocab")
		}
		if m.vocab != 0 && c.Unigram.VocabSize() > m.vocab {
			return fmt.Errorf("the tokenizer has %d pieces but the model's embedding has only %d rows: wrong tokenizer for this model", c.Unigram.VocabSize(), m.vocab)
		}
		return nil
	}
	if c.Tokenizer == nil {
		if c.Unigram != nil {
			return fmt.Errorf("a BERT-family classifier needs a WordPiece tokenizer (--vocab vocab.txt, or --tokenizer with a WordPiece tokenizer.json), not a Unigram tokenizer.json")
		}
		return nil // pre-tokenized data
	}
	if m.vocab != 0 && m.vocab != c.Tokenizer.VocabSize() {
		return fmt.Errorf("the tokenizer has %d tokens but the model's word embedding has %d rows: wrong vocab for this model", c.Tokenizer.VocabSize(), m.vocab)
	}
	return nil
}

// encode tokenizes examples for t's model (pre-tokenized ones are packed
// as they are, truncated to --max-len).
func (t *trainer) encode(ex examples, targets [][]int64) *encoded {
	switch {
	case ex.tokens != nil:
		e, cut := encodeTokenized(ex.tokens, t.cfg.MaxLen, t.padID())
		if cut > 0 {
			t.m.notes = append(t.m.notes, fmt.Sprintf("%d pre-tokenized examples longer than --max-len %d truncated", cut, t.cfg.MaxLen))
		}
		return e
	case t.m.t5:
		return encodeT5(t.cfg.Unigram, t.task, ex.text, t.cfg.MaxLen, targets)
	}
	return encode(t.cfg.Tokenizer, ex.text, t.cfg.MaxLen)
}

// padID is the id padded positions get: the tokenizer's, else the
// config.json's pad_token_id, else 0 (the mask hides them anyway).
func (t *trainer) padID() int64 {
	switch {
	case t.cfg.Tokenizer != nil:
		return int64(t.cfg.Tokenizer.PAD)
	case t.m.hf != nil && t.m.hf.PadTokenID != nil:
		return int64(*t.m.hf.PadTokenID)
	}
	return 0
}

// predictT5 ranks the classes of every example by the log-likelihood of
// their label sequences, log p(word pieces, </s> | input), and returns
// the best class (ties go to the lower class).
func (t *trainer) predictT5(set *encoded) ([]float64, error) {
	var preds []float64
	for _, rows := range evalBatches(len(set.examples), t.cfg.Batch) {
		scores, err := t.scoreT5(set, rows)
		if err != nil {
			return nil, err
		}
		for r, idx := range rows {
			if idx >= 0 {
				preds = append(preds, float64(bestClass(scores, r)))
			}
		}
	}
	return preds, nil
}

// bestClass is the class of highest score in row r (the lowest on ties).
func bestClass(scores [][]float64, r int) int {
	best := 0
	for c := range scores {
		if scores[c][r] > scores[best][r] {
			best = c
		}
	}
	return best
}

// scoreT5 returns scores[class][row]: the summed log-probability of the
// class's label sequence for each row of a batch. It runs the eval graph
// once per class, teacher-forced on that class's decoder inputs (the
// decoder is causal, so each position's distribution depends only on the
// pieces before it, as in generation).
func (t *trainer) scoreT5(set *encoded, rows []int) ([][]float64, error) {
	scores := make([][]float64, len(set.targets))
	for c := range set.targets {
		b := set.makeBatchAs(rows, false, c, set.maxLen)
		out, err := t.sess.Eval(t.eval, t.m.feeds(b))
		if err != nil {
			return nil, fmt.Errorf("eval: %v", err)
		}
		logits := out[t.m.logits]
		if logits == nil {
			return nil, fmt.Errorf("eval: the model has no logits output")
		}
		scores[c] = sequenceLogProbs(logits, set.targets[c], len(rows))
	}
	return scores, nil
}

// sequenceLogProbs sums, for each of n rows of logits [n, T, V], the
// log-softmax at the target ids (positions with -100 skipped), in float64.
func sequenceLogProbs(logits *ir.Tensor, target []int64, n int) []float64 {
	T := len(target)
	V := len(logits.F32) / (n * T)
	out := make([]float64, n)
	for r := 0; r < n; r++ {
		for p, id := range target {
			if id < 0 {
				continue
			}
			row := logits.F32[(r*T+p)*V : (r*T+p+1)*V]
			m := float64(row[0])
			for _, v := range row {
				m = math.Max(m, float64(v))
			}
			var sum float64
			for _, v := range row {
				sum += math.Exp(float64(v) - m)
			}
			out[r] += float64(row[id]) - m - math.Log(sum)
		}
	}
	return out
}

// t5InitStd maps a T5 parameter name to the standard deviation Hugging
// Face's T5PreTrainedModel._init_weights draws it with (factor 1).
var t5InitStd = []struct {
	re  *regexp.Regexp
	std func(c models.T5Config) float64
}{
	{regexp.MustCompile(`^(shared|lm_head)\.weight$`), func(models.T5Config) float64 { return 1 }},
	{regexp.MustCompile(`\.q\.weight$`), func(c models.T5Config) float64 { return 1 / math.Sqrt(float64(c.DModel*c.DKV)) }},
	{regexp.MustCompile(`\.[kv]\.weight$|relative_attention_bias\.weight$|\.wi(_[01])?\.weight$`), func(c models.T5Config) float64 { return 1 / math.Sqrt(float64(c.DModel)) }},
	{regexp.MustCompile(`\.o\.weight$`), func(c models.T5Config) float64 { return 1 / math.Sqrt(float64(c.Heads*c.DKV)) }},
	{regexp.MustCompile(`\.wo\.weight$`), func(c models.T5Config) float64 { return 1 / math.Sqrt(float64(c.DFF)) }},
}

// t5Init redraws a built-in T5's weights as Hugging Face initializes a T5
// from scratch. models.BuildT5 draws everything with std 0.02 (a
// near-uniform untrained model, right for benchmarks); trained from there,
// the tied LM head (embedding rows of norm ~0.16, outputs scaled by
// d_model^-0.5) needs thousands of steps before its logits can single out
// a label word: 300 steps of SST-2 left the loss at 7. With HF's scales
// (unit-variance embedding, fan-in scaled projections, no 1/√d in
// attention) it trains like a T5. RMSNorm weights stay 1.
func t5Init(g *ir.Graph, c models.T5Config, seed int64) {
	r := rand.New(rand.NewSource(seed))
	for _, v := range g.Inits { // graph order: deterministic
		if v.Init == nil || v.Init.DType != ir.Float32 || len(v.Init.Shape) != 2 {
			continue
		}
		for _, rule := range t5InitStd {
			if rule.re.MatchString(v.Name) {
				std := rule.std(c)
				for i := range v.Init.F32 {
					v.Init.F32[i] = float32(r.NormFloat64() * std)
				}
				break
			}
		}
	}
}
