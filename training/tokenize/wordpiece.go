package tokenize

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// WordPiece is BERT's tokenizer: a basic tokenizer (clean up, optional
// lower-casing and accent stripping, split on whitespace and punctuation,
// CJK characters on their own) followed by greedy longest-match-first word
// pieces, continuation pieces prefixed with "##".
type WordPiece struct {
	vocab  map[string]int
	tokens []string
	// Lower lower-cases text and StripAccents drops its combining marks
	// (after NFD). NewWordPiece sets both from its lower argument, as
	// BERT's uncased models have them; a tokenizer.json sets them apart
	// (cased models have neither).
	Lower, StripAccents bool
	// cleanText drops NUL, U+FFFD and control characters and reads every
	// whitespace character as a space; chineseChars makes each CJK
	// ideograph a word of its own. Both are on for a vocab.txt, as in
	// BERT's basic tokenizer; a tokenizer.json's BertNormalizer may turn
	// them off.
	cleanText, chineseChars bool
	prefix                  string       // of a word's continuation pieces: "##"
	maxWordChars            int          // longer words become [UNK]
	added                   []addedToken // matched verbatim in the raw text first (tokenizer.json's added_tokens)
	// Ids of the special tokens.
	UNK, CLS, SEP, PAD int
}

// maxWordChars: longer words become [UNK], as in BERT.
const maxWordChars = 100

// LoadVocab reads a vocab.txt (one token per line; the line number is the
// id). Lower-casing is on (uncased models), as for bert-base-uncased.
// A token listed twice is an error naming it and both lines: the two
// lines would be two ids for one token, and which one text maps to would
// differ between tokenizers.
func LoadVocab(path string) (*WordPiece, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	tokens, err := readVocab(f, path)
	if err != nil {
		return nil, err
	}
	w, err := NewWordPiece(tokens, true)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	return w, nil
}

// readVocab reads the tokens of a vocab.txt, one per line (a trailing \r
// is dropped), rejecting duplicates with both line numbers. Errors start
// with "path:line:".
func readVocab(r io.Reader, path string) ([]string, error) {
	var tokens []string
	lineOf := map[string]int{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		t := strings.TrimRight(sc.Text(), "\r")
		line := len(tokens) + 1
		if line == 1 && strings.HasPrefix(strings.TrimSpace(t), "{") {
			return nil, fmt.Errorf("%s:1: starts with \"{\": a JSON file (a tokenizer.json?), not a vocab.txt of one token a line", path)
		}
		if first, dup := lineOf[t]; dup {
			return nil, fmt.Errorf("%s:%d: token %q is already on line %d (each token must be listed once)", path, line, t, first)
		}
		lineOf[t] = line
		tokens = append(tokens, t)
	}
	if err := sc.Err(); errors.Is(err, bufio.ErrTooLong) {
		return nil, fmt.Errorf("%s:%d: token too long (over %d bytes): not a vocab.txt", path, len(tokens)+1, bufio.MaxScanTokenSize)
	} else if err != nil {
		return nil, fmt.Errorf("%s:%d: %v", path, len(tokens)+1, err)
	}
	if len(tokens) == 0 {
		return nil, fmt.Errorf("%s: empty vocabulary", path)
	}
	return tokens, nil
}

// NewWordPiece builds a tokenizer from its vocabulary, which must contain
// [UNK], [CLS], [SEP] and [PAD] and list each token once.
func NewWordPiece(tokens []string, lower bool) (*WordPiece, error) {
	w, err := newWordPiece(tokens)
	if err != nil {
		return nil, err
	}
	w.Lower, w.StripAccents = lower, lower
	for _, s := range []struct {
		name string
		id   *int
	}{{"[UNK]", &w.UNK}, {"[CLS]", &w.CLS}, {"[SEP]", &w.SEP}, {"[PAD]", &w.PAD}} {
		id, ok := w.vocab[s.name]
		if !ok {
			return nil, fmt.Errorf("vocabulary has no %s token", s.name)
		}
		*s.id = id
	}
	return w, nil
}

// newWordPiece indexes a vocabulary, with BERT's basic tokenizer
// settings (clean-up and CJK splitting on, no lower-casing) and no
// special tokens yet.
func newWordPiece(tokens []string) (*WordPiece, error) {
	w := &WordPiece{vocab: make(map[string]int, len(tokens)), tokens: tokens,
		cleanText: true, chineseChars: true, prefix: "##", maxWordChars: maxWordChars}
	for i, t := range tokens {
		if first, dup := w.vocab[t]; dup {
			return nil, fmt.Errorf("token %q has ids %d and %d (each token must be listed once)", t, first, i)
		}
		w.vocab[t] = i
	}
	return w, nil
}

// VocabSize is the number of ids.
func (w *WordPiece) VocabSize() int { return len(w.tokens) }

// Token returns the string of id.
func (w *WordPiece) Token(id int) string { return w.tokens[id] }

// Tokenize splits text into word pieces.
func (w *WordPiece) Tokenize(text string) []string {
	var out []string
	for _, word := range w.basic(text) {
		out = append(out, w.pieces(word)...)
	}
	return out
}

// IDs returns the ids of text's word pieces (no [CLS]/[SEP] added). The
// added tokens of a tokenizer.json ("[MASK]" written in the text) are
// matched first, verbatim, as Hugging Face does; a vocab.txt has none.
func (w *WordPiece) IDs(text string) []int {
	return withAdded(w.added, text, func(ids []int, s string) []int {
		for _, t := range w.Tokenize(s) {
			ids = append(ids, w.vocab[t]) // pieces only returns vocabulary tokens
		}
		return ids
	})
}

// basic is BERT's BasicTokenizer (Hugging Face's BertNormalizer and
// BertPreTokenizer).
func (w *WordPiece) basic(text string) []string {
	var b strings.Builder
	for _, r := range text {
		switch {
		case w.cleanText && (r == 0 || r == 0xFFFD || isControl(r)):
			continue
		case w.cleanText && unicode.IsSpace(r):
			b.WriteByte(' ')
		case w.chineseChars && isCJK(r):
			b.WriteByte(' ')
			b.WriteRune(r)
			b.WriteByte(' ')
		default:
			b.WriteRune(r)
		}
	}
	var words []string
	for _, word := range strings.Fields(b.String()) {
		if w.Lower {
			word = strings.ToLower(word)
		}
		if w.StripAccents {
			word = stripAccents(word)
		}
		// Split on punctuation: each punctuation rune is its own token.
		start := 0
		for i, r := range word {
			if isPunct(r) {
				if start < i {
					words = append(words, word[start:i])
				}
				words = append(words, string(r))
				start = i + len(string(r))
			}
		}
		if start < len(word) {
			words = append(words, word[start:])
		}
	}
	return words
}

// pieces is greedy longest-match-first WordPiece on one word.
func (w *WordPiece) pieces(word string) []string {
	runes := []rune(word)
	if len(runes) > w.maxWordChars {
		return []string{w.tokens[w.UNK]}
	}
	var out []string
	for start := 0; start < len(runes); {
		end := len(runes)
		found := ""
		for ; end > start; end-- {
			s := string(runes[start:end])
			if start > 0 {
				s = w.prefix + s
			}
			if _, ok := w.vocab[s]; ok {
				found = s
				break
			}
		}
		if found == "" {
			return []string{w.tokens[w.UNK]} // the whole word is unknown
		}
		out = append(out, found)
		start = end
	}
	return out
}

func stripAccents(s string) string {
	var b strings.Builder
	for _, r := range norm.NFD.String(s) {
		if !unicode.Is(unicode.Mn, r) {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// isControl: BERT treats \t \n \r as whitespace, other C* runes as control.
func isControl(r rune) bool {
	if r == '\t' || r == '\n' || r == '\r' {
		return false
	}
	return unicode.In(r, unicode.Cc, unicode.Cf, unicode.Co, unicode.Cs)
}

// isPunct: all non-alphanumeric ASCII (BERT counts "^$`" as punctuation)
// and Unicode P* categories.
func isPunct(r rune) bool {
	if (r >= 33 && r <= 47) || (r >= 58 && r <= 64) || (r >= 91 && r <= 96) || (r >= 123 && r <= 126) {
		return true
	}
	return unicode.IsPunct(r)
}

func isCJK(r rune) bool {
	return (r >= 0x4E00 && r <= 0x9FFF) || (r >= 0x3400 && r <= 0x4DBF) || (r >= 0x20000 && r <= 0x2A6DF) ||
		(r >= 0x2A700 && r <= 0x2B73F) || (r >= 0x2B740 && r <= 0x2B81F) || (r >= 0x2B820 && r <= 0x2CEAF) ||
		(r >= 0xF900 && r <= 0xFAFF) || (r >= 0x2F800 && r <= 0x2FA1F)
}
