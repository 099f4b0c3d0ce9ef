package tokenize

import (
	"reflect"
	"strings"
	"testing"

	"crsc/internal/testenv"
)

const t5Tokenizer = "../../../shared/tokenizers/t5-small.tokenizer.json"

// loadT5 loads the real t5-small tokenizer.json from ../shared.
func loadT5(t *testing.T) *Unigram { return testenv.Load(t, t5Tokenizer, LoadUnigram) }

func TestT5Tokenizations(t *testing.T) {
	u := loadT5(t)
	if u.VocabSize() != 32100 || u.PAD != 0 || u.EOS != 1 || u.UNK != 2 {
		t.Fatalf("vocab %d, pad %d eos %d unk %d", u.VocabSize(), u.PAD, u.EOS, u.UNK)
	}
	// The first five are Hugging Face's T5Tokenizer output as its T5
	// documentation prints it (without the final </s>, which EncodeText
	// adds). The rest were checked by hand against the vocabulary's pieces
	// and scores (HF cannot run here).
	for _, c := range []struct {
		in  string
		ids []int
	}{
		{"Hello world", []int{8774, 296}},
		{"translate English to German: The house is wonderful.", []int{13959, 1566, 12, 2968, 10, 37, 629, 19, 1627, 5}},
		// "▁a" loses to "▁" + "a": Viterbi, not greedy longest match.
		{"Studies have been shown that owning a dog is good for you", []int{6536, 43, 118, 2008, 24, 293, 53, 3, 9, 1782, 19, 207, 21, 25}},
		// Added tokens are matched verbatim before normalization.
		{"The <extra_id_0> walks in <extra_id_1> park", []int{37, 32099, 10681, 16, 32098, 2447}},
		{"<extra_id_0> cute dog <extra_id_1> the <extra_id_2>", []int{32099, 5295, 1782, 32098, 8, 32097}},
		{"sst2 sentence: it 's a charming", []int{3, 7, 7, 17, 357, 7142, 10, 34, 3, 31, 7, 3, 9, 12216}},
		// The label words of the GLUE tasks are single pieces (sst2, cola).
		{"negative", []int{2841}},
		{"positive", []int{1465}},
		{"unacceptable", []int{29452}},
		{"acceptable", []int{9961}},
		// Whitespace runs collapse, ends are stripped, NFKC folds "ﬁ".
		{"  Hello \t\n world  ", []int{8774, 296}},
		{"ﬁ", []int{361}},
		{"", nil},
	} {
		if got := u.IDs(c.in); !reflect.DeepEqual(got, c.ids) {
			t.Errorf("IDs(%q) = %v %q, want %v", c.in, got, u.Tokenize(c.in), c.ids)
		}
	}
	if got := strings.Join(u.Tokenize("Hello world"), " "); got != "▁Hello ▁world" {
		t.Errorf("Tokenize = %q", got)
	}
}

func TestT5Unknown(t *testing.T) {
	u := loadT5(t)
	// T5's vocabulary has no "{", "}" or "~": each becomes <unk>, and a run
	// of unknown characters is one <unk> (HF's fuse_unk).
	if got, want := u.Tokenize("{x}"), []string{"▁", "<unk>", "x", "<unk>"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Tokenize({x}) = %q, want %q", got, want)
	}
	if got, want := u.IDs("~~~"), []int{3, 2}; !reflect.DeepEqual(got, want) {
		t.Errorf("IDs(~~~) = %v, want %v", got, want)
	}
	if got := u.Decode(u.IDs("a {b}")); got != "a <unk>b<unk>" {
		t.Errorf("Decode = %q", got)
	}
}

func TestT5RoundTrip(t *testing.T) {
	u := loadT5(t)
	for _, s := range []string{
		"one long string of cliches .",
		"if you 've ever entertained the notion of doing what the title implies",
		"Hello world",
		"The <extra_id_0> walks",
		"café 1999: 3.14%",
	} {
		ids, mask, trunc := u.EncodeText(s, 64)
		n := 0
		for _, m := range mask {
			n += int(m)
		}
		if trunc || ids[n-1] != int64(u.EOS) || (n < 64 && ids[n] != int64(u.PAD)) {
			t.Errorf("EncodeText(%q): ids %v mask %v truncated %v", s, ids, mask, trunc)
		}
		back := make([]int, n)
		for i := range back {
			back[i] = int(ids[i])
		}
		want := strings.ReplaceAll(s, " <extra_id_0>", "<extra_id_0>") // the Metaspace decoder drops the space before an added token
		if got := u.Decode(back); got != want {
			t.Errorf("Decode(Encode(%q)) = %q", s, got)
		}
	}
	// Truncation keeps </s> last.
	ids, mask, trunc := u.EncodeText("Hello world again", 3)
	if !trunc || !reflect.DeepEqual(ids, []int64{8774, 296, 1}) || !reflect.DeepEqual(mask, []int64{1, 1, 1}) {
		t.Errorf("truncated: %v %v %v", ids, mask, trunc)
	}
}

// TestViterbiSmall checks the segmentation on a vocabulary small enough to
// work out by hand.
func TestViterbiSmall(t *testing.T) {
	pieces := []string{"<pad>", "</s>", "<unk>", "▁", "▁ab", "▁a", "b", "c", "bc", "▁abc"}
	scores := []float64{0, 0, 0, -1, -3, -1, -1, -1, -1.5, -6}
	u, err := NewUnigram(pieces, scores, 2)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		in   string
		want string
	}{
		{"abc", "▁a bc"}, // -2.5 beats ▁ab c (-4), ▁abc (-6), ▁a b c (-3)
		{"ab", "▁a b"},   // -2 beats ▁ab (-3)
		{"a zc", "▁a ▁ <unk> c"},
		{"zz", "▁ <unk>"}, // fused
	} {
		if got := strings.Join(u.Tokenize(c.in), " "); got != c.want {
			t.Errorf("Tokenize(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestUnigramMalformed(t *testing.T) {
	for _, c := range []struct{ json, want string }{
		{`{`, "not a tokenizer.json"},
		{`{"version": "1.0"}`, `no "model"`},
		{`{"model": {"type": "WordPiece", "vocab": {"a": 0}}}`, `model.type is "WordPiece"`},
		{`{"model": {"vocab": {"a": 0}, "unk_id": 0}}`, "not a list of [piece, score] pairs"},
		{`{"model": {"type": "Unigram", "vocab": [], "unk_id": 0}}`, "model.vocab is empty"},
		{`{"model": {"type": "Unigram", "vocab": [["<pad>", 0], ["</s>"]], "unk_id": 0}}`, "model.vocab[1]"},
		{`{"model": {"type": "Unigram", "vocab": [["<pad>", 0], [3, 0]], "unk_id": 0}}`, "model.vocab[1]"},
		{`{"model": {"type": "Unigram", "vocab": [["<pad>", 0], ["</s>", 0]]}}`, "model.unk_id is missing"},
		{`{"model": {"type": "Unigram", "vocab": [["<pad>", 0], ["</s>", 0]], "unk_id": 7}}`, "unk_id 7 is outside"},
		{`{"model": {"type": "Unigram", "vocab": [["<pad>", 0], ["<unk>", 0]], "unk_id": 1}}`, "no </s> piece"},
		{`{"added_tokens": [{"id": 9, "content": "<x>"}], "model": {"type": "Unigram", "vocab": [["<pad>", 0], ["</s>", 0], ["<unk>", 0]], "unk_id": 2}}`, "added_tokens[0]"},
		{``, "empty file"},
		{`[1, 2]`, "the document is a JSON array, want an object"},
		{`{"model": []}`, "model is a JSON array, want an object"},
		{`{"model": {"type": 5}}`, "model.type is a JSON number, want a string"},
		{`{"model": {"unk_id": "2", "vocab": []}}`, "model.unk_id is a JSON string, want an integer"},
		{`{"model": {"unk_id": 0.5, "vocab": []}}`, "model.unk_id is a JSON number 0.5, want an integer"},
		{`{"added_tokens": {}, "model": {}}`, "added_tokens is a JSON object, want a list"},
		{`{"model": {"type": "Unigram"}} trailing`, "invalid JSON at byte"},
		{`{"model": {"type": "Unigram", "vocab": [["<pad>", 0], ["</s>", 0], ["<unk>", 0], ["</s>", -1]], "unk_id": 2}}`, `model.vocab[3] ("</s>") repeats model.vocab[1]`},
		{`{"model": {"type": "Unigram", "vocab": [["<pad>", 0], ["</s>", 1e999], ["<unk>", 0]], "unk_id": 2}}`, "model.vocab[1]"},
		{`{"pre_tokenizer": 5, "model": {"type": "Unigram", "vocab": [["<pad>", 0], ["</s>", 0], ["<unk>", 0]], "unk_id": 2}}`, "pre_tokenizer is a JSON number, want an object"},
		{`{"pre_tokenizer": {"type": "Sequence", "pretokenizers": [{"type": "Metaspace", "replacement": "ab"}]}, "model": {"type": "Unigram", "vocab": [["<pad>", 0], ["</s>", 0], ["<unk>", 0]], "unk_id": 2}}`, `pre_tokenizer.pretokenizers[0] (Metaspace): replacement "ab"`},
		{`{"pre_tokenizer": {"type": "Sequence", "pretokenizers": [{"type": 3}]}, "model": {"type": "Unigram", "vocab": [["<pad>", 0], ["</s>", 0], ["<unk>", 0]], "unk_id": 2}}`, "pre_tokenizer.pretokenizers[0].type is a JSON number"},
	} {
		_, err := ParseUnigram([]byte(c.json))
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: got %v, want one line containing %q", c.json, err, c.want)
		}
	}
	if _, err := LoadUnigram("/nonexistent/tokenizer.json"); err == nil {
		t.Error("a missing file loaded")
	}
}
