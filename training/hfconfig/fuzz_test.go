package hfconfig

import (
	"strings"
	"testing"
)

// FuzzParse feeds arbitrary bytes to Parse: it never panics, an error is
// one line, and an accepted config is consistent (labels and their count
// agree, sizes positive, ids inside the vocabulary). The seeds run in
// plain go test.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`{"model_type": "distilbert", "architectures": ["DistilBertForSequenceClassification"], "id2label": {"0": "NEGATIVE", "1": "POSITIVE"},
		  "label2id": {"NEGATIVE": 0, "POSITIVE": 1}, "max_position_embeddings": 512, "pad_token_id": 0, "vocab_size": 30522}`,
		`{"model_type": "t5", "vocab_size": 32128, "pad_token_id": 0, "decoder_start_token_id": 0, "eos_token_id": 1}`,
		`{"model_type": "roberta", "id2label": {"0": "contradiction", "1": "neutral", "2": "entailment"}, "problem_type": "single_label_classification"}`,
		`{"label2id": {"neg": 0, "pos": 1}, "num_labels": 2}`,
		`{"id2label": {"0": "a", "2": "b"}, "label2id": {"a": 0, "b": 2}}`,
		`{"num_labels": 3, "id2label": {"0": "LABEL_0"}, "pad_token_id": null}`,
		`{"max_position_embeddings": 512.0, "vocab_size": "10"}`,
		`[]`,
		``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		c, err := Parse(in)
		if err != nil {
			if strings.ContainsAny(err.Error(), "\n\r") {
				t.Fatalf("multi-line error %q", err)
			}
			return
		}
		if c.Labels != nil && len(c.Labels) != c.NumLabels || c.NumLabels < 0 || c.MaxPositions < 0 || c.VocabSize < 0 {
			t.Fatalf("inconsistent config %+v", c)
		}
		for _, id := range []*int{c.PadTokenID, c.DecoderStartTokenID} {
			if id != nil && (*id < 0 || c.VocabSize > 0 && *id >= c.VocabSize) {
				t.Fatalf("id %d outside vocab_size %d", *id, c.VocabSize)
			}
		}
		seen := map[string]bool{}
		for _, l := range c.Labels {
			if seen[l] {
				t.Fatalf("label %q twice", l)
			}
			seen[l] = true
		}
	})
}
