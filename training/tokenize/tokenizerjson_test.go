package tokenize

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"crsc/internal/testenv"
)

const (
	casedJSON  = "testdata/cased.tokenizer.json"
	tribuoJSON = "../../../shared/models/hf_bert_tiny_tribuo.tokenizer.json"
)

// patched returns the cased test tokenizer.json with edit applied to its
// decoded form: each case below changes one part of a real layout.
func patched(t *testing.T, edit func(m map[string]any)) []byte {
	t.Helper()
	b, err := os.ReadFile(casedJSON)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(m)
	}
	if b, err = json.Marshal(m); err != nil {
		t.Fatal(err)
	}
	return b
}

func bertNormalizer(lower bool, strip any) map[string]any {
	return map[string]any{"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true, "lowercase": lower, "strip_accents": strip}
}

func setNormalizer(n any) func(map[string]any) {
	return func(m map[string]any) { m["normalizer"] = n }
}

// TestWordPieceJSON tokenizes with the cased test tokenizer and with its
// normalizer changed: what each switch of Hugging Face's normalizers does
// to text, as BertNormalizer documents it.
func TestWordPieceJSON(t *testing.T) {
	for _, c := range []struct {
		name string
		edit func(map[string]any)
		in   string
		want []int
	}{
		// Cased: case and accents stay.
		{"cased", nil, "Héllo, World!", []int{7, 10, 8, 11}},
		{"cased lower", nil, "hello world", []int{6, 9}},
		{"cased caps unknown", nil, "HELLO", []int{1}},
		{"cased accents kept", nil, "café naïve", []int{12, 19}},
		{"cased pieces", nil, "Cafés", []int{15, 16, 14}},
		{"cased decomposed stays decomposed", nil, "e\u0301", []int{1}},
		{"chinese chars", nil, "中文", []int{17, 18}},
		{"added token in text", nil, "a [MASK] e.", []int{1, 4, 22, 21}},
		{"clean text", nil, "\x01Hello\u200b", []int{5}},
		// strip_accents null follows lowercase.
		{"uncased", setNormalizer(bertNormalizer(true, nil)), "Héllo, World! naïve", []int{6, 10, 9, 11, 20}},
		{"strip only", setNormalizer(bertNormalizer(false, true)), "Héllo café", []int{5, 13}},
		{"lower only", setNormalizer(bertNormalizer(true, false)), "CAFÉ naïve Héllo", []int{12, 19, 1}},
		{"sequence", setNormalizer(map[string]any{"type": "Sequence", "normalizers": []any{
			map[string]any{"type": "NFD"}, map[string]any{"type": "Lowercase"}, map[string]any{"type": "StripAccents"}, map[string]any{"type": "Strip"}}}),
			"  CAFÉ Naïve ", []int{13, 20}},
		{"sequence with bert", setNormalizer(map[string]any{"type": "Sequence", "normalizers": []any{
			bertNormalizer(false, false), map[string]any{"type": "Lowercase"}}}), "HELLO 中文", []int{6, 17, 18}},
		{"no normalizer: no cjk split", setNormalizer(nil), "中文", []int{1}},
		{"no normalizer: control kept", setNormalizer(nil), "\x01Hello", []int{1}},
		{"no normalizer: cased", setNormalizer(nil), "Hello hello", []int{5, 6}},
		{"max chars", func(m map[string]any) { m["model"].(map[string]any)["max_input_chars_per_word"] = 4 }, "Hello café", []int{1, 12}},
		{"prefix", func(m map[string]any) {
			vocab := m["model"].(map[string]any)["vocab"].(map[string]any)
			vocab["@@s"] = vocab["##s"]
			delete(vocab, "##s")
			m["model"].(map[string]any)["continuing_subword_prefix"] = "@@"
		}, "Worlds", []int{8, 14}},
	} {
		t.Run(c.name, func(t *testing.T) {
			w, u, err := ParseTokenizerJSON(patched(t, c.edit))
			if err != nil || u != nil {
				t.Fatal(err)
			}
			if got := w.IDs(c.in); !reflect.DeepEqual(got, c.want) {
				t.Fatalf("IDs(%q) = %v (%q), want %v", c.in, got, w.Tokenize(c.in), c.want)
			}
		})
	}
	w, _, err := LoadTokenizerJSON(casedJSON)
	if err != nil {
		t.Fatal(err)
	}
	if w.VocabSize() != 25 || w.PAD != 0 || w.UNK != 1 || w.CLS != 2 || w.SEP != 3 || w.Lower || w.StripAccents {
		t.Fatalf("vocab %d pad %d unk %d cls %d sep %d lower %v strip %v", w.VocabSize(), w.PAD, w.UNK, w.CLS, w.SEP, w.Lower, w.StripAccents)
	}
	e := w.Encode("Hello", "World", 6)
	if want := []int64{2, 5, 3, 8, 3, 0}; !reflect.DeepEqual(e.IDs, want) || !reflect.DeepEqual(e.Types, []int64{0, 0, 0, 1, 1, 0}) {
		t.Fatalf("Encode = %v types %v, want %v", e.IDs, e.Types, want)
	}
}

// TestWordPieceJSONSpecials: [CLS]/[SEP] come from either post-processor
// form, [PAD] from padding when the file has it, and added tokens past
// the vocabulary extend it.
func TestWordPieceJSONSpecials(t *testing.T) {
	w, _, err := ParseTokenizerJSON(patched(t, func(m map[string]any) {
		m["post_processor"] = map[string]any{"type": "BertProcessing", "sep": []any{"World", 8}, "cls": []any{"Hello", 5}}
		m["padding"] = map[string]any{"pad_id": 4, "pad_token": "[MASK]"}
		m["added_tokens"] = append(m["added_tokens"].([]any), map[string]any{"id": 25, "content": "<new>", "special": true})
	}))
	if err != nil {
		t.Fatal(err)
	}
	if w.CLS != 5 || w.SEP != 8 || w.PAD != 4 || w.VocabSize() != 26 || w.Token(25) != "<new>" {
		t.Fatalf("cls %d sep %d pad %d vocab %d", w.CLS, w.SEP, w.PAD, w.VocabSize())
	}
	if got := w.IDs("Hello<new>World"); !reflect.DeepEqual(got, []int{5, 25, 8}) {
		t.Fatalf("IDs with an added token: %v", got)
	}
}

func TestTokenizerJSONErrors(t *testing.T) {
	model := func(edit func(mm map[string]any)) func(map[string]any) {
		return func(m map[string]any) { edit(m["model"].(map[string]any)) }
	}
	vocab := func(edit func(v map[string]any)) func(map[string]any) {
		return model(func(mm map[string]any) { edit(mm["vocab"].(map[string]any)) })
	}
	template := func(pair ...[2]any) func(map[string]any) {
		return func(m map[string]any) {
			var items []any
			for _, p := range pair {
				kind := "SpecialToken"
				if p[0] == "A" || p[0] == "B" {
					kind = "Sequence"
				}
				items = append(items, map[string]any{kind: map[string]any{"id": p[0], "type_id": p[1]}})
			}
			m["post_processor"].(map[string]any)["pair"] = items
		}
	}
	for _, c := range []struct {
		name string
		edit func(map[string]any)
		want string
	}{
		{"bpe", model(func(mm map[string]any) { mm["type"] = "BPE" }), `model.type is "BPE" (GPT-2, RoBERTa): BPE tokenizers are not supported yet`},
		{"wordlevel", model(func(mm map[string]any) { mm["type"] = "WordLevel" }), `model.type is "WordLevel": not a tokenizer crsc reads`},
		{"no model", func(m map[string]any) { delete(m, "model") }, `no "model" object`},
		{"vocab a list", model(func(mm map[string]any) { mm["vocab"] = []any{"a"} }), "model.vocab is not an object of token: id"},
		{"vocab empty", model(func(mm map[string]any) { mm["vocab"] = map[string]any{} }), "model.vocab is empty"},
		{"vocab gap", vocab(func(v map[string]any) { v["Hello"] = 99 }), `model.vocab["Hello"] is 99, outside 0 … 24`},
		{"vocab shared id", vocab(func(v map[string]any) { v["Hello"] = 6; v["x"] = 5 }), `model.vocab gives id 6 to both "Hello" and "hello"`},
		{"no unk", model(func(mm map[string]any) { delete(mm, "unk_token") }), "model.unk_token is missing"},
		{"unk not in vocab", model(func(mm map[string]any) { mm["unk_token"] = "<unk>" }), `model.unk_token "<unk>" is not in model.vocab`},
		{"max chars 0", model(func(mm map[string]any) { mm["max_input_chars_per_word"] = 0 }), "model.max_input_chars_per_word is 0"},
		{"prefix a number", model(func(mm map[string]any) { mm["continuing_subword_prefix"] = 2 }), "model.continuing_subword_prefix is a JSON number, want a string"},
		{"added token mismatch", func(m map[string]any) {
			m["added_tokens"] = append(m["added_tokens"].([]any), map[string]any{"id": 5, "content": "<x>"})
		}, `added token "<x>" has id 5, which is "Hello" in model.vocab`},
		{"added token gap", func(m map[string]any) {
			m["added_tokens"] = append(m["added_tokens"].([]any), map[string]any{"id": 30, "content": "<x>"})
		}, `added token "<x>" has id 30, past the vocabulary's 25 ids`},
		{"added token no id", func(m map[string]any) {
			m["added_tokens"] = append(m["added_tokens"].([]any), map[string]any{"content": "<x>"})
		}, `added_tokens[5] ("<x>") has no id`},
		{"normalizer nfc", setNormalizer(map[string]any{"type": "NFC"}), `normalizer is "NFC": crsc's WordPiece follows BertNormalizer or a Sequence`},
		{"normalizer replace in sequence", setNormalizer(map[string]any{"type": "Sequence", "normalizers": []any{map[string]any{"type": "Replace"}}}), `normalizer.normalizers[0] is "Replace"`},
		{"strip accents without nfd", setNormalizer(map[string]any{"type": "Sequence", "normalizers": []any{map[string]any{"type": "StripAccents"}}}), "normalizer.normalizers[0] is StripAccents without NFD before it"},
		{"nfd alone", setNormalizer(map[string]any{"type": "Sequence", "normalizers": []any{map[string]any{"type": "NFD"}}}), "normalizer has NFD without StripAccents"},
		{"lowercase a string", setNormalizer(map[string]any{"type": "BertNormalizer", "lowercase": "yes"}), "normalizer.lowercase is a JSON string, want true or false"},
		{"no pre-tokenizer", func(m map[string]any) { m["pre_tokenizer"] = nil }, "pre_tokenizer is null"},
		{"whitespace pre-tokenizer", func(m map[string]any) { m["pre_tokenizer"] = map[string]any{"type": "Whitespace"} }, `pre_tokenizer is "Whitespace"`},
		{"no post-processor", func(m map[string]any) { m["post_processor"] = nil }, "post_processor is null"},
		{"roberta processing", func(m map[string]any) { m["post_processor"] = map[string]any{"type": "RobertaProcessing"} }, `post_processor is "RobertaProcessing"`},
		{"bert processing id", func(m map[string]any) {
			m["post_processor"] = map[string]any{"type": "BertProcessing", "sep": []any{"[SEP]", 3}, "cls": []any{"[CLS]", 7}}
		}, `post_processor.cls is ["[CLS]", 7] but model.vocab gives "[CLS]" id 2`},
		{"bert processing shape", func(m map[string]any) {
			m["post_processor"] = map[string]any{"type": "BertProcessing", "sep": []any{"[SEP]"}, "cls": []any{"[CLS]", 2}}
		}, `post_processor.sep is not ["token", id]`},
		{"template types", template([2]any{"[CLS]", 0}, [2]any{"A", 0}, [2]any{"[SEP]", 0}, [2]any{"B", 0}, [2]any{"[SEP]", 0}),
			`post_processor (TemplateProcessing) is single "[CLS]:0 $A:0 [SEP]:0", pair "[CLS]:0 $A:0 [SEP]:0 $B:0 [SEP]:0"`},
		{"template roberta", template([2]any{"[CLS]", 0}, [2]any{"A", 0}, [2]any{"[SEP]", 0}, [2]any{"[SEP]", 0}, [2]any{"B", 1}, [2]any{"[SEP]", 1}), "pair \"[CLS]:0 $A:0 [SEP]:0 [SEP]:0 $B:1 [SEP]:1\""},
		{"template special missing", func(m map[string]any) {
			delete(m["post_processor"].(map[string]any)["special_tokens"].(map[string]any), "[SEP]")
		}, `post_processor.special_tokens["[SEP]"] is missing`},
		{"pad id mismatch", func(m map[string]any) { m["padding"] = map[string]any{"pad_id": 5, "pad_token": "[PAD]"} }, `padding.pad_id 5 is "Hello", not padding.pad_token "[PAD]"`},
		{"no pad", vocab(func(v map[string]any) { v["<pad>"] = v["[PAD]"]; delete(v, "[PAD]") }), `added token "[PAD]" has id 0, which is "<pad>"`},
		{"not json", func(m map[string]any) {}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := patched(t, c.edit)
			if c.want == "" {
				b = b[:len(b)/2]
				c.want = "not a tokenizer.json: invalid JSON"
			}
			_, _, err := ParseTokenizerJSON(b)
			if err == nil || !strings.Contains(err.Error(), c.want) || strings.ContainsAny(err.Error(), "\n\r") {
				t.Fatalf("got %v, want one line containing %q", err, c.want)
			}
		})
	}
	// [PAD] missing altogether (no added token of it either).
	_, _, err := ParseTokenizerJSON(patched(t, func(m map[string]any) {
		v := m["model"].(map[string]any)["vocab"].(map[string]any)
		v["<pad>"] = v["[PAD]"]
		delete(v, "[PAD]")
		m["added_tokens"] = m["added_tokens"].([]any)[1:]
	}))
	if err == nil || !strings.Contains(err.Error(), `the padding token "[PAD]" is not in model.vocab (and the file has no padding.pad_id)`) {
		t.Fatalf("no [PAD]: %v", err)
	}
	path := filepath.Join(t.TempDir(), "tokenizer.json")
	os.WriteFile(path, []byte("[PAD]\n[UNK]\n"), 0o644)
	if _, _, err := LoadTokenizerJSON(path); err == nil || !strings.HasPrefix(err.Error(), path+": not a tokenizer.json") {
		t.Fatalf("a vocab.txt: %v", err)
	}
}

// TestTribuoTokenizerJSON reads the Tribuo BERT's tokenizer.json: the
// README's ids are those of "It is a truth universally acknowledged,", and
// the same vocabulary as a vocab.txt tokenizes alike.
func TestTribuoTokenizerJSON(t *testing.T) {
	testenv.NeedFile(t, tribuoJSON)
	w, u, err := LoadTokenizerJSON(tribuoJSON)
	if err != nil || u != nil {
		t.Fatal(err)
	}
	if w.VocabSize() != 1656 || w.UNK != 0 || w.SEP != 1 || w.PAD != 2 || w.CLS != 3 || !w.Lower || !w.StripAccents {
		t.Fatalf("vocab %d unk %d sep %d pad %d cls %d lower %v strip %v", w.VocabSize(), w.UNK, w.SEP, w.PAD, w.CLS, w.Lower, w.StripAccents)
	}
	e := w.Encode("It is a truth universally acknowledged,", "", 13)
	if want := []int64{3, 114, 134, 18, 1528, 269, 297, 55, 66, 385, 1599, 6, 1}; !reflect.DeepEqual(e.IDs, want) || e.Truncated {
		t.Fatalf("ids %v, want the README's %v", e.IDs, want)
	}
	// The vocabulary as a vocab.txt, one token a line in id order.
	var tj struct {
		Model struct {
			Vocab map[string]int `json:"vocab"`
		} `json:"model"`
	}
	b, _ := os.ReadFile(tribuoJSON)
	if err := json.Unmarshal(b, &tj); err != nil {
		t.Fatal(err)
	}
	tokens := make([]string, 0, len(tj.Model.Vocab))
	for tok := range tj.Model.Vocab {
		tokens = append(tokens, tok)
	}
	sort.Slice(tokens, func(i, j int) bool { return tj.Model.Vocab[tokens[i]] < tj.Model.Vocab[tokens[j]] })
	vocabTxt := filepath.Join(t.TempDir(), "vocab.txt")
	if err := os.WriteFile(vocabTxt, []byte(strings.Join(tokens, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	v, err := LoadVocab(vocabTxt)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range [][2]string{
		{"It is a truth universally acknowledged, that a single man in possession of a good fortune, must be in want of a wife.", ""},
		{"Héllo WORLD!  Naïve café-society; don't (stop) 1984?", "However little known the feelings or views of such a man may be…"},
		{"中文 ünïcödé\ttabs\nnewlines", "zzzzqqqq xyzzy"},
		{"", "The second text only."},
	} {
		a, b := w.Encode(s[0], s[1], 64), v.Encode(s[0], s[1], 64)
		if !reflect.DeepEqual(a, b) {
			t.Errorf("%q / %q: tokenizer.json %v, vocab.txt %v", s[0], s[1], a.IDs, b.IDs)
		}
	}
}

// TestTokenizerJSONUnigram: T5's tokenizer.json comes back as the Unigram.
func TestTokenizerJSONUnigram(t *testing.T) {
	testenv.NeedFile(t, t5Tokenizer)
	w, u, err := LoadTokenizerJSON(t5Tokenizer)
	if err != nil || w != nil || u == nil || u.VocabSize() != 32100 {
		t.Fatalf("%v %v %v", w, u, err)
	}
}
