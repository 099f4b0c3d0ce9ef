package tokenize

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzVocab reads arbitrary bytes as a vocab.txt and, when they are a
// vocabulary, tokenizes a text with it. Reading never panics and fails in
// one line naming the file; an accepted vocabulary lists each token once
// and encodes any text to exactly the asked length, with ids inside it.
// The seeds run in plain go test.
func FuzzVocab(f *testing.F) {
	for _, s := range []struct{ vocab, text string }{
		{"[PAD]\n[UNK]\n[CLS]\n[SEP]\na\nb\n##s\n", "a bs"},
		{"[PAD]\r\n[UNK]\r\n[CLS]\r\n[SEP]\r\nthe\r\nthe\r\n", "the"},
		{"[PAD]\n[UNK]\n[CLS]\n[SEP]\n中\n##文\nun\n##aff\n##able\n", "中文 unaffable Héllo, it's"},
		{"[PAD]\n\n[UNK]\n[CLS]\n[SEP]\n\n", "\x00\xff tabs\tand\nnewlines"},
		{"", ""},
	} {
		f.Add([]byte(s.vocab), s.text)
	}
	f.Fuzz(func(t *testing.T, vocab []byte, text string) {
		const path = "fuzz/vocab.txt"
		tokens, err := readVocab(bytes.NewReader(vocab), path)
		var w *WordPiece
		if err == nil {
			w, err = NewWordPiece(tokens, true)
		}
		if err != nil {
			if msg := err.Error(); strings.ContainsAny(msg, "\n\r") || (!strings.HasPrefix(msg, path) && !strings.HasPrefix(msg, "vocabulary has no")) {
				t.Fatalf("error %q: want one line naming the file", msg)
			}
			return
		}
		seen := map[string]bool{}
		for _, tok := range tokens {
			if seen[tok] {
				t.Fatalf("token %q accepted twice", tok)
			}
			seen[tok] = true
		}
		for _, maxLen := range []int{2, 5, 16} {
			for _, b := range []string{"", text} {
				e := w.Encode(text, b, maxLen)
				if len(e.IDs) != maxLen || len(e.Mask) != maxLen || len(e.Types) != maxLen {
					t.Fatalf("Encode(%q, %q, %d): lengths %d %d %d", text, b, maxLen, len(e.IDs), len(e.Mask), len(e.Types))
				}
				for _, id := range e.IDs {
					if id < 0 || int(id) >= w.VocabSize() {
						t.Fatalf("Encode(%q): id %d outside the vocabulary of %d", text, id, w.VocabSize())
					}
				}
			}
		}
	})
}

// FuzzUnigram parses arbitrary bytes as a tokenizer.json and, when they
// are one, tokenizes a text with it: errors are one line, ids stay inside
// the vocabulary, EncodeText gives exactly the asked length ending in
// </s> or padding, and decoding never panics. The seeds run in plain go
// test.
func FuzzUnigram(f *testing.F) {
	small := `{"added_tokens": [{"id": 1, "content": "</s>", "special": true}],
		"pre_tokenizer": {"type": "Sequence", "pretokenizers": [{"type": "WhitespaceSplit"}, {"type": "Metaspace", "replacement": "▁"}]},
		"model": {"type": "Unigram", "unk_id": 2, "vocab": [["<pad>", 0], ["</s>", 0], ["<unk>", 0], ["▁", -1], ["▁a", -1], ["b", -1.5], ["bc", -2]]}}`
	for _, s := range []struct{ json, text string }{
		{small, "abc ab </s> x"},
		{`{"model": {"unk_id": 0, "vocab": [["<unk>", 0], ["</s>", 0], ["<pad>", 0]]}}`, "héllo"},
		{`{"model": {"type": "Unigram", "vocab": [["<pad>", 0], ["</s>", 1e999]], "unk_id": 0}}`, ""},
		{`{"model": []}`, ""},
		{`{"pre_tokenizer": {"type": "Metaspace", "replacement": "_"}, "model": {"unk_id": 0, "vocab": [["<unk>", 0], ["</s>", 0], ["<pad>", 0], ["_x", -1]]}}`, "x x"},
	} {
		f.Add([]byte(s.json), s.text)
	}
	f.Fuzz(func(t *testing.T, in []byte, text string) {
		u, err := ParseUnigram(in)
		if err != nil {
			if strings.ContainsAny(err.Error(), "\n\r") {
				t.Fatalf("multi-line error %q", err)
			}
			return
		}
		ids := u.IDs(text)
		for _, id := range ids {
			if id < 0 || id >= u.VocabSize() {
				t.Fatalf("IDs(%q): id %d outside the vocabulary of %d", text, id, u.VocabSize())
			}
		}
		if !utf8.ValidString(u.Decode(ids)) && utf8.ValidString(text) {
			t.Fatalf("Decode of valid text %q is not valid UTF-8", text)
		}
		for _, maxLen := range []int{1, 4, 32} {
			enc, mask, _ := u.EncodeText(text, maxLen)
			if len(enc) != maxLen || len(mask) != maxLen {
				t.Fatalf("EncodeText(%q, %d): lengths %d, %d", text, maxLen, len(enc), len(mask))
			}
		}
	})
}

// FuzzTokenizerJSON parses arbitrary bytes as a tokenizer.json of any
// model type and, when they hold a WordPiece, encodes a text with it:
// errors are one line, ids stay inside the vocabulary and Encode gives
// exactly the asked length. The seeds run in plain go test.
func FuzzTokenizerJSON(f *testing.F) {
	small := `{"added_tokens": [{"id": 4, "content": "[MASK]", "special": true}],
		"normalizer": {"type": "BertNormalizer", "lowercase": true, "strip_accents": null},
		"pre_tokenizer": {"type": "BertPreTokenizer"},
		"post_processor": {"type": "BertProcessing", "sep": ["[SEP]", 3], "cls": ["[CLS]", 2]},
		"model": {"type": "WordPiece", "unk_token": "[UNK]", "vocab": {"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3, "[MASK]": 4, "a": 5, "##b": 6, "é": 7}}}`
	template := `{"normalizer": {"type": "Sequence", "normalizers": [{"type": "NFD"}, {"type": "StripAccents"}]},
		"pre_tokenizer": {"type": "Sequence", "pretokenizers": [{"type": "BertPreTokenizer"}]},
		"post_processor": {"type": "TemplateProcessing",
			"single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "</s>", "type_id": 0}}],
			"pair": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "</s>", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}, {"SpecialToken": {"id": "</s>", "type_id": 1}}],
			"special_tokens": {"<s>": {"ids": [1]}, "</s>": {"ids": [2]}}},
		"padding": {"pad_id": 0, "pad_token": "<pad>"},
		"model": {"type": "WordPiece", "unk_token": "<unk>", "continuing_subword_prefix": "", "max_input_chars_per_word": 3, "vocab": {"<pad>": 0, "<s>": 1, "</s>": 2, "<unk>": 3, "x": 4}}}`
	for _, s := range []struct{ json, text string }{
		{small, "AB a[MASK]b Éé"},
		{template, "xxxx xx"},
		{`{"model": {"type": "BPE", "vocab": {}, "merges": []}}`, ""},
		{`{"model": {"type": "WordPiece", "unk_token": "[UNK]", "vocab": {"[UNK]": 0, "a": 0}}}`, "a"},
		{`{"model": {"unk_id": 0, "vocab": [["<unk>", 0], ["</s>", 0], ["<pad>", 0]]}}`, "héllo"},
		{`{"model": {"type": "WordPiece", "vocab": []}}`, ""},
	} {
		f.Add([]byte(s.json), s.text)
	}
	f.Fuzz(func(t *testing.T, in []byte, text string) {
		w, u, err := ParseTokenizerJSON(in)
		if err != nil {
			if strings.ContainsAny(err.Error(), "\n\r") {
				t.Fatalf("multi-line error %q", err)
			}
			return
		}
		if (w == nil) == (u == nil) {
			t.Fatalf("WordPiece %v and Unigram %v: want exactly one", w != nil, u != nil)
		}
		if w == nil {
			return
		}
		for _, maxLen := range []int{2, 5, 16} {
			e := w.Encode(text, text, maxLen)
			if len(e.IDs) != maxLen || len(e.Mask) != maxLen || len(e.Types) != maxLen {
				t.Fatalf("Encode(%q, %d): lengths %d %d %d", text, maxLen, len(e.IDs), len(e.Mask), len(e.Types))
			}
			for _, id := range e.IDs {
				if id < 0 || int(id) >= w.VocabSize() {
					t.Fatalf("Encode(%q): id %d outside the vocabulary of %d", text, id, w.VocabSize())
				}
			}
		}
	})
}
