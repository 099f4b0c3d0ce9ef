package tokenize

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"crsc/internal/testenv"
)

const bertVocab = "../../../shared/tokenizers/bert-base-uncased.vocab.txt"

// loadBert loads the real bert-base-uncased vocabulary from ../shared.
func loadBert(t *testing.T) *WordPiece { return testenv.Load(t, bertVocab, LoadVocab) }

func TestBertTokenizations(t *testing.T) {
	w := loadBert(t)
	if w.VocabSize() != 30522 || w.PAD != 0 || w.UNK != 100 || w.CLS != 101 || w.SEP != 102 {
		t.Fatalf("vocab %d, specials pad %d unk %d cls %d sep %d", w.VocabSize(), w.PAD, w.UNK, w.CLS, w.SEP)
	}
	// Expected outputs are Hugging Face's BertTokenizer (bert-base-uncased).
	for _, c := range []struct{ in, want string }{
		// BERT's README shows "un ##aff ##able" for an illustrative vocab; the
		// real bert-base-uncased vocab has "una", as Hugging Face agrees.
		{"unaffable", "una ##ffa ##ble"},
		{"Hello, World!", "hello , world !"},
		{"Héllo naïve café", "hello naive cafe"},
		{"it's a don't-miss", "it ' s a don ' t - miss"},
		{"  tabs\tand\nnewlines  ", "tab ##s and new ##lines"},
		{"embeddings", "em ##bed ##ding ##s"},
		{"xqzjxqzj", "x ##q ##z ##j ##x ##q ##z ##j"},
		{"中文", "中 文"},
		{"\u00e9\u0301t\u00e9", "et ##e"},
		{"", ""},
	} {
		got := strings.Join(w.Tokenize(c.in), " ")
		if got != c.want {
			t.Errorf("Tokenize(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	// The ids of a known sentence.
	if got, want := w.IDs("the movie was great"), []int{1996, 3185, 2001, 2307}; !reflect.DeepEqual(got, want) {
		t.Errorf("IDs = %v, want %v", got, want)
	}
}

func TestEncode(t *testing.T) {
	w, err := NewWordPiece(strings.Fields("[PAD] [UNK] [CLS] [SEP] a b c d ##s"), true)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, a, b      string
		max             int
		ids, mask, typs []int64
		truncated       bool
	}{
		{"single padded", "a b", "", 6, []int64{2, 4, 5, 3, 0, 0}, []int64{1, 1, 1, 1, 0, 0}, []int64{0, 0, 0, 0, 0, 0}, false},
		{"pair", "a", "bs", 7, []int64{2, 4, 3, 5, 8, 3, 0}, []int64{1, 1, 1, 1, 1, 1, 0}, []int64{0, 0, 0, 1, 1, 1, 0}, false},
		{"truncate single", "a b c d", "", 4, []int64{2, 4, 5, 3}, []int64{1, 1, 1, 1}, []int64{0, 0, 0, 0}, true},
		{"truncate longest first", "a b c", "d", 6, []int64{2, 4, 5, 3, 7, 3}, []int64{1, 1, 1, 1, 1, 1}, []int64{0, 0, 0, 0, 1, 1}, true},
		{"unknown word", "zz", "", 4, []int64{2, 1, 3, 0}, []int64{1, 1, 1, 0}, []int64{0, 0, 0, 0}, false},
	} {
		e := w.Encode(c.a, c.b, c.max)
		if !reflect.DeepEqual(e.IDs, c.ids) || !reflect.DeepEqual(e.Mask, c.mask) || !reflect.DeepEqual(e.Types, c.typs) || e.Truncated != c.truncated {
			t.Errorf("%s: got ids %v mask %v types %v truncated %v", c.name, e.IDs, e.Mask, e.Types, e.Truncated)
		}
	}
}

func TestMissingSpecial(t *testing.T) {
	if _, err := NewWordPiece([]string{"[PAD]", "a"}, true); err == nil || !strings.Contains(err.Error(), "[UNK]") {
		t.Fatalf("want an error naming [UNK], got %v", err)
	}
}

func TestLoadVocabErrors(t *testing.T) {
	for _, c := range []struct{ name, text, want string }{
		{"duplicate", "[PAD]\n[UNK]\n[CLS]\n[SEP]\nthe\nof\nthe\n", `:7: token "the" is already on line 5`},
		{"duplicate, CRLF", "[PAD]\r\n[UNK]\r\n[PAD]\r\n", `:3: token "[PAD]" is already on line 1`},
		{"two empty lines", "[PAD]\n\n[UNK]\n\n", `:4: token "" is already on line 2`},
		{"empty", "", "empty vocabulary"},
		{"a tokenizer.json", "{\n  \"version\": \"1.0\",\n", `:1: starts with "{": a JSON file (a tokenizer.json?)`},
		{"no [CLS]", "[PAD]\n[UNK]\n[SEP]\n", "no [CLS] token"},
		{"line too long", "[PAD]\n" + strings.Repeat("x", 70000) + "\n", ":2: token too long"},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "vocab.txt")
			if err := os.WriteFile(path, []byte(c.text), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := LoadVocab(path)
			if err == nil || !strings.HasPrefix(err.Error(), path) || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("got %v, want one line starting with the path and containing %q", err, c.want)
			}
		})
	}
	if _, err := NewWordPiece([]string{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[UNK]"}, true); err == nil || !strings.Contains(err.Error(), `token "[UNK]" has ids 1 and 4`) {
		t.Fatalf("NewWordPiece with a duplicate: %v", err)
	}
}
