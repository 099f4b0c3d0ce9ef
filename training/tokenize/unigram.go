package tokenize

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"reflect"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Unigram is a SentencePiece unigram tokenizer as Hugging Face's
// tokenizer.json describes it (T5's): text is NFKC-normalized, split on
// whitespace, each word gets the "▁" prefix, and each word is segmented by
// Viterbi into the pieces of highest total log-probability.
type Unigram struct {
	pieces   []string
	scores   []float64
	vocab    map[string]int
	maxBytes int     // longest piece, in bytes: bounds the Viterbi window
	unkScore float64 // score of an <unk> edge: the lowest score minus 10, as HF and SentencePiece
	space    string  // the Metaspace replacement, "▁"
	added    []addedToken
	special  map[int]bool
	// Ids of the special tokens (T5: pad 0, eos 1, unk 2).
	UNK, EOS, PAD int
}

// addedToken is a token matched in the raw text before normalization
// (HF's added_tokens: </s>, <pad>, <unk>, <extra_id_N> for T5).
type addedToken struct {
	content string
	id      int
}

// unkPenalty is how much less likely an unknown character is than the least
// likely piece (SentencePiece's kUnkPenalty).
const unkPenalty = 10

// tokenizerJSON is the part of a Hugging Face tokenizer.json we read.
type tokenizerJSON struct {
	AddedTokens []struct {
		ID      *int   `json:"id"`
		Content string `json:"content"`
		Special bool   `json:"special"`
	} `json:"added_tokens"`
	PreTokenizer json.RawMessage `json:"pre_tokenizer"`
	Model        *struct {
		Type  string          `json:"type"`
		UnkID *int            `json:"unk_id"`
		Vocab json.RawMessage `json:"vocab"`
	} `json:"model"`
}

// LoadUnigram reads a Hugging Face tokenizer.json whose model is Unigram
// (t5-small's, for one).
func LoadUnigram(path string) (*Unigram, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	u, err := ParseUnigram(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	return u, nil
}

// ParseUnigram parses the contents of a tokenizer.json. Every error is one
// line naming the field at fault.
func ParseUnigram(b []byte) (*Unigram, error) {
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, fmt.Errorf("empty file, not a tokenizer.json")
	}
	var tj tokenizerJSON
	if err := json.Unmarshal(b, &tj); err != nil {
		return nil, fmt.Errorf("not a tokenizer.json: %s", jsonProblem("", err))
	}
	if tj.Model == nil {
		return nil, fmt.Errorf("no \"model\" object")
	}
	// Older exports (t5-small's) leave out model.type; a vocab of
	// [piece, score] pairs with an unk_id is what makes a Unigram then.
	if tj.Model.Type != "Unigram" && tj.Model.Type != "" {
		return nil, fmt.Errorf("model.type is %q, want \"Unigram\" (LoadTokenizerJSON reads a WordPiece tokenizer.json too)", tj.Model.Type)
	}
	var vocab []json.RawMessage
	if err := json.Unmarshal(tj.Model.Vocab, &vocab); err != nil {
		return nil, fmt.Errorf("model.vocab is not a list of [piece, score] pairs (not a Unigram model?)")
	}
	if len(vocab) == 0 {
		return nil, fmt.Errorf("model.vocab is empty")
	}
	pieces := make([]string, len(vocab))
	scores := make([]float64, len(vocab))
	for i, raw := range vocab {
		var pair []any
		if err := json.Unmarshal(raw, &pair); err != nil || len(pair) != 2 {
			return nil, fmt.Errorf("model.vocab[%d] is %s, want [piece, score]", i, clip(string(raw)))
		}
		p, ok1 := pair[0].(string)
		s, ok2 := pair[1].(float64)
		if !ok1 || !ok2 || p == "" {
			return nil, fmt.Errorf("model.vocab[%d] is %s, want [\"piece\", score]", i, clip(string(raw)))
		}
		pieces[i], scores[i] = p, s
	}
	if tj.Model.UnkID == nil {
		return nil, fmt.Errorf("model.unk_id is missing (an unknown character would have no id)")
	}
	u, err := NewUnigram(pieces, scores, *tj.Model.UnkID)
	if err != nil {
		return nil, err
	}
	for i, a := range tj.AddedTokens {
		if a.ID == nil || *a.ID < 0 || *a.ID >= len(pieces) || a.Content == "" {
			return nil, fmt.Errorf("added_tokens[%d] (%q) has no id inside the vocabulary of %d", i, a.Content, len(pieces))
		}
		if pieces[*a.ID] != a.Content {
			return nil, fmt.Errorf("added_tokens[%d]: id %d is %q in model.vocab, not %q", i, *a.ID, pieces[*a.ID], a.Content)
		}
		u.added = append(u.added, addedToken{a.Content, *a.ID})
		if a.Special {
			u.special[*a.ID] = true
		}
	}
	if rep, err := metaspace(tj.PreTokenizer, "pre_tokenizer"); err != nil {
		return nil, err
	} else if rep != "" {
		u.space = rep
	}
	return u, nil
}

// metaspace finds the Metaspace pre-tokenizer's replacement (alone or in a
// Sequence); "" when there is none. path names raw in the file, for errors.
func metaspace(raw json.RawMessage, path string) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	var p struct {
		Type          string            `json:"type"`
		Replacement   string            `json:"replacement"`
		PreTokenizers []json.RawMessage `json:"pretokenizers"`
	}
	if err := json.Unmarshal(raw, &p); err != nil {
		return "", fmt.Errorf("%s", jsonProblem(path, err))
	}
	switch p.Type {
	case "Metaspace":
		if utf8.RuneCountInString(p.Replacement) != 1 {
			return "", fmt.Errorf("%s (Metaspace): replacement %q is not one character", path, p.Replacement)
		}
		return p.Replacement, nil
	case "Sequence":
		for i, q := range p.PreTokenizers {
			if r, err := metaspace(q, fmt.Sprintf("%s.pretokenizers[%d]", path, i)); err != nil || r != "" {
				return r, err
			}
		}
	}
	return "", nil
}

// jsonProblem says what is wrong with a JSON document in the file's terms
// (the field and the JSON kind found and wanted) rather than Go's, whose
// type errors spell out the Go struct. base names the part of the file
// that was being decoded ("" for the whole file).
func jsonProblem(base string, err error) string {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te):
		field := strings.Trim(base+"."+te.Field, ".")
		if field == "" {
			field = "the document"
		}
		return fmt.Sprintf("%s is a JSON %s, want %s", field, te.Value, jsonKind(te.Type))
	case errors.As(err, &se):
		return fmt.Sprintf("invalid JSON at byte %d: %v", se.Offset, se)
	}
	return err.Error()
}

// jsonKind names the JSON kind a Go type decodes from.
func jsonKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	}
	return t.String()
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// NewUnigram builds a tokenizer from pieces and their log-probabilities;
// unk is the id of <unk>. Each piece must be listed once. </s> and <pad> must be pieces (T5 has them at 1
// and 0).
func NewUnigram(pieces []string, scores []float64, unk int) (*Unigram, error) {
	if len(pieces) != len(scores) {
		return nil, fmt.Errorf("%d pieces but %d scores", len(pieces), len(scores))
	}
	if unk < 0 || unk >= len(pieces) {
		return nil, fmt.Errorf("model.unk_id %d is outside the vocabulary of %d pieces", unk, len(pieces))
	}
	u := &Unigram{pieces: pieces, scores: scores, vocab: make(map[string]int, len(pieces)), space: "▁", special: map[int]bool{}, UNK: unk}
	low := math.Inf(1)
	for i, p := range pieces {
		if math.IsNaN(scores[i]) || math.IsInf(scores[i], 0) {
			return nil, fmt.Errorf("model.vocab[%d] (%q) has score %v", i, p, scores[i])
		}
		if first, dup := u.vocab[p]; dup {
			return nil, fmt.Errorf("model.vocab[%d] (%q) repeats model.vocab[%d] (each piece must be listed once)", i, p, first)
		}
		u.vocab[p] = i
		u.maxBytes = max(u.maxBytes, len(p))
		low = min(low, scores[i])
	}
	u.unkScore = low - unkPenalty
	for _, s := range []struct {
		name string
		id   *int
	}{{"</s>", &u.EOS}, {"<pad>", &u.PAD}} {
		id, ok := u.vocab[s.name]
		if !ok {
			return nil, fmt.Errorf("model.vocab has no %s piece", s.name)
		}
		*s.id = id
	}
	u.special[u.UNK], u.special[u.EOS], u.special[u.PAD] = true, true, true
	return u, nil
}

// VocabSize is the number of ids.
func (u *Unigram) VocabSize() int { return len(u.pieces) }

// Token returns the piece of id.
func (u *Unigram) Token(id int) string { return u.pieces[id] }

// ID returns the id of a piece.
func (u *Unigram) ID(piece string) (int, bool) { id, ok := u.vocab[piece]; return id, ok }

// Tokenize returns text's pieces (no </s>).
func (u *Unigram) Tokenize(text string) []string {
	ids := u.IDs(text)
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = u.pieces[id]
	}
	return out
}

// IDs returns the ids of text's pieces, without </s>. Added tokens
// (<extra_id_0>, </s>) written in the text are matched first, verbatim, as
// Hugging Face does; the text between them is normalized and segmented.
func (u *Unigram) IDs(text string) []int {
	return withAdded(u.added, text, func(ids []int, s string) []int {
		for _, word := range u.words(s) {
			ids = append(ids, u.viterbi(word)...)
		}
		return ids
	})
}

// withAdded returns the ids of text: its added tokens matched first,
// verbatim, as Hugging Face does, and the text between them appended to
// the ids by segment.
func withAdded(added []addedToken, text string, segment func(ids []int, s string) []int) []int {
	var ids []int
	for text != "" {
		at, tok := nextAdded(added, text)
		ids = segment(ids, text[:at])
		if tok == nil {
			break
		}
		ids = append(ids, tok.id)
		text = text[at+len(tok.content):]
	}
	return ids
}

// nextAdded finds the first of the added tokens in text (the longest at
// that position); it returns len(text), nil when there is none.
func nextAdded(added []addedToken, text string) (int, *addedToken) {
	at, found := len(text), (*addedToken)(nil)
	for i := range added {
		a := &added[i]
		j := strings.Index(text, a.content)
		if j >= 0 && (j < at || j == at && found != nil && len(a.content) > len(found.content)) {
			at, found = j, a
		}
	}
	return at, found
}

// words normalizes text and returns its words with the Metaspace prefix.
// T5's Precompiled normalizer is SentencePiece's nmt_nfkc: NFKC, control
// characters dropped; the WhitespaceSplit pre-tokenizer then collapses runs
// of whitespace and strips both ends.
func (u *Unigram) words(text string) []string {
	text = strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return ' '
		}
		if unicode.IsControl(r) || r == 0xFFFD || r == 0x200B || r == 0xFEFF {
			return -1
		}
		return r
	}, norm.NFKC.String(text))
	fields := strings.Fields(text)
	for i, f := range fields {
		fields[i] = u.space + f
	}
	return fields
}

// viterbi segments one word into the pieces of maximal total score. Where
// no single-character piece starts at a position, an <unk> edge of one
// character (score: lowest − 10) keeps the lattice connected; consecutive
// <unk>s are fused into one, as Hugging Face's Unigram (fuse_unk) does.
func (u *Unigram) viterbi(word string) []int {
	n := len(word)
	best := make([]float64, n+1) // best score of word[:i]
	from := make([]int, n+1)     // start of the last piece of that path
	piece := make([]int, n+1)    // its id
	for i := 1; i <= n; i++ {
		best[i] = math.Inf(-1)
	}
	for start := 0; start < n; start++ {
		if math.IsInf(best[start], -1) {
			continue // not a character boundary
		}
		_, size := utf8.DecodeRuneInString(word[start:])
		single := false
		for end := start + size; end <= n && end-start <= u.maxBytes; {
			if id, ok := u.vocab[word[start:end]]; ok && !u.special[id] {
				single = single || end == start+size
				// Strictly greater: on ties the earlier (shorter) path wins,
				// as in HF's encode_optimized.
				if s := best[start] + u.scores[id]; s > best[end] {
					best[end], from[end], piece[end] = s, start, id
				}
			}
			if end == n {
				break
			}
			_, sz := utf8.DecodeRuneInString(word[end:])
			end += sz
		}
		if !single {
			end := start + size
			if s := best[start] + u.unkScore; s > best[end] {
				best[end], from[end], piece[end] = s, start, u.UNK
			}
		}
	}
	var rev []int
	for i := n; i > 0; i = from[i] {
		if piece[i] == u.UNK && len(rev) > 0 && rev[len(rev)-1] == u.UNK {
			continue // fuse with the <unk> after it
		}
		rev = append(rev, piece[i])
	}
	for i, j := 0, len(rev)-1; i < j; i, j = i+1, j-1 {
		rev[i], rev[j] = rev[j], rev[i]
	}
	return rev
}

// EncodeText returns text's ids followed by </s>, truncated (keeping </s>)
// to maxLen and padded with <pad> to maxLen, with its attention mask; as
// T5's tokenizer does with truncation and padding to max_length.
func (u *Unigram) EncodeText(text string, maxLen int) (ids, mask []int64, truncated bool) {
	toks := u.IDs(text)
	if len(toks)+1 > maxLen {
		toks, truncated = toks[:max(maxLen-1, 0)], true
	}
	ids, mask = make([]int64, maxLen), make([]int64, maxLen)
	for i, id := range append(toks, u.EOS) {
		if i < maxLen {
			ids[i], mask[i] = int64(id), 1
		}
	}
	for i := len(toks) + 1; i < maxLen; i++ {
		ids[i] = int64(u.PAD)
	}
	return ids, mask, truncated
}

// Decode turns ids back into text as the Metaspace decoder does: pieces
// concatenated, "▁" read as a space, the leading space dropped. <pad> and
// </s> are skipped (skip_special_tokens); <unk> shows as "<unk>" so that
// lost characters stay visible. Ids outside the vocabulary show as <unk>.
func (u *Unigram) Decode(ids []int) string {
	var b strings.Builder
	for _, id := range ids {
		if id == u.PAD || id == u.EOS {
			continue
		}
		if id < 0 || id >= len(u.pieces) {
			id = u.UNK
		}
		b.WriteString(u.pieces[id])
	}
	return strings.TrimPrefix(strings.ReplaceAll(b.String(), u.space, " "), " ")
}
