package tokenize

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"slices"
	"sort"
	"strings"
)

// LoadTokenizerJSON reads a Hugging Face tokenizer.json and returns the
// tokenizer it holds: a WordPiece (BERT's, model.type "WordPiece") or a
// Unigram (T5's); the other result is nil. Any other model (BPE,
// WordLevel) is a one-line error naming model.type. Errors start with the
// path.
func LoadTokenizerJSON(path string) (*WordPiece, *Unigram, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	w, u, err := ParseTokenizerJSON(b)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %v", path, err)
	}
	return w, u, nil
}

// ParseTokenizerJSON is LoadTokenizerJSON on a file's contents.
func ParseTokenizerJSON(b []byte) (*WordPiece, *Unigram, error) {
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, nil, fmt.Errorf("empty file, not a tokenizer.json")
	}
	var head struct {
		Model *struct {
			Type string `json:"type"`
		} `json:"model"`
	}
	if err := json.Unmarshal(b, &head); err != nil {
		return nil, nil, fmt.Errorf("not a tokenizer.json: %s", jsonProblem("", err))
	}
	if head.Model == nil {
		return nil, nil, fmt.Errorf("no \"model\" object")
	}
	switch t := head.Model.Type; t {
	case "WordPiece":
		w, err := ParseWordPieceJSON(b)
		return w, nil, err
	case "Unigram", "": // older T5 exports leave the type out
		u, err := ParseUnigram(b)
		return nil, u, err
	case "BPE":
		return nil, nil, fmt.Errorf("model.type is \"BPE\" (GPT-2, RoBERTa): BPE tokenizers are not supported yet (crsc reads WordPiece and Unigram)")
	default:
		return nil, nil, fmt.Errorf("model.type is %q: not a tokenizer crsc reads (WordPiece, Unigram)", t)
	}
}

// wordPieceJSON is the part of a WordPiece tokenizer.json crsc reads.
type wordPieceJSON struct {
	AddedTokens []struct {
		ID      *int   `json:"id"`
		Content string `json:"content"`
	} `json:"added_tokens"`
	Normalizer    json.RawMessage `json:"normalizer"`
	PreTokenizer  json.RawMessage `json:"pre_tokenizer"`
	PostProcessor json.RawMessage `json:"post_processor"`
	Padding       *struct {
		PadID    *int   `json:"pad_id"`
		PadToken string `json:"pad_token"`
	} `json:"padding"`
	Model struct {
		Type                    string          `json:"type"`
		Vocab                   json.RawMessage `json:"vocab"`
		UnkToken                string          `json:"unk_token"`
		ContinuingSubwordPrefix *string         `json:"continuing_subword_prefix"`
		MaxInputCharsPerWord    *int            `json:"max_input_chars_per_word"`
	} `json:"model"`
}

// ParseWordPieceJSON reads a tokenizer.json whose model is WordPiece:
// the vocabulary and unknown token from model, lower-casing, accent
// stripping, clean-up and CJK splitting from the normalizer, [CLS] and
// [SEP] from the post-processor and [PAD] from padding (or the vocabulary).
// What crsc's WordPiece would tokenize differently from Hugging Face (a
// pre-tokenizer other than BertPreTokenizer, a template other than
// BERT's) is an error naming the field, never a silently different id.
func ParseWordPieceJSON(b []byte) (*WordPiece, error) {
	var tj wordPieceJSON
	if err := json.Unmarshal(b, &tj); err != nil {
		return nil, fmt.Errorf("not a tokenizer.json: %s", jsonProblem("", err))
	}
	if tj.Model.Type != "WordPiece" {
		return nil, fmt.Errorf("model.type is %q, want \"WordPiece\"", tj.Model.Type)
	}
	tokens, err := wordPieceVocab(tj.Model.Vocab)
	if err != nil {
		return nil, err
	}
	// Added tokens normally repeat vocabulary entries ([CLS] …); one past
	// the end extends the vocabulary, as Hugging Face gives it the next id.
	added := make([]addedToken, 0, len(tj.AddedTokens))
	for i, a := range tj.AddedTokens {
		if a.ID == nil || *a.ID < 0 || a.Content == "" {
			return nil, fmt.Errorf("added_tokens[%d] (%q) has no id or no content", i, a.Content)
		}
		added = append(added, addedToken{a.Content, *a.ID})
	}
	sort.SliceStable(added, func(i, j int) bool { return added[i].id < added[j].id })
	for _, a := range added {
		switch {
		case a.id < len(tokens) && tokens[a.id] != a.content:
			return nil, fmt.Errorf("added token %q has id %d, which is %q in model.vocab", a.content, a.id, tokens[a.id])
		case a.id == len(tokens):
			tokens = append(tokens, a.content)
		case a.id > len(tokens):
			return nil, fmt.Errorf("added token %q has id %d, past the vocabulary's %d ids (the ids between have no token)", a.content, a.id, len(tokens))
		}
	}
	w, err := newWordPiece(tokens)
	if err != nil {
		return nil, fmt.Errorf("model.vocab: %v", err)
	}
	w.added = added
	if w.UNK, err = w.special("model.unk_token", tj.Model.UnkToken); err != nil {
		return nil, err
	}
	if p := tj.Model.ContinuingSubwordPrefix; p != nil {
		w.prefix = *p
	}
	if m := tj.Model.MaxInputCharsPerWord; m != nil {
		if *m < 1 {
			return nil, fmt.Errorf("model.max_input_chars_per_word is %d, want at least 1", *m)
		}
		w.maxWordChars = *m
	}
	if err := w.normalizer(tj.Normalizer); err != nil {
		return nil, err
	}
	if err := bertPreTokenizer(tj.PreTokenizer, "pre_tokenizer"); err != nil {
		return nil, err
	}
	if err := w.postProcessor(tj.PostProcessor, "post_processor"); err != nil {
		return nil, err
	}
	// [PAD] is not part of the tokenizer's model; padding names it when
	// the file was saved with padding on, and BERT's vocabularies have it.
	switch p := tj.Padding; {
	case p != nil && p.PadID != nil:
		if *p.PadID < 0 || *p.PadID >= len(tokens) {
			return nil, fmt.Errorf("padding.pad_id %d is outside the vocabulary of %d", *p.PadID, len(tokens))
		}
		if p.PadToken != "" && tokens[*p.PadID] != p.PadToken {
			return nil, fmt.Errorf("padding.pad_id %d is %q, not padding.pad_token %q", *p.PadID, tokens[*p.PadID], p.PadToken)
		}
		w.PAD = *p.PadID
	case p != nil && p.PadToken != "":
		if w.PAD, err = w.special("padding.pad_token", p.PadToken); err != nil {
			return nil, err
		}
	default:
		if w.PAD, err = w.special("the padding token", "[PAD]"); err != nil {
			return nil, fmt.Errorf("%v (and the file has no padding.pad_id)", err)
		}
	}
	return w, nil
}

// wordPieceVocab reads model.vocab, a map of token to id whose ids must
// be 0 … n-1, each once.
func wordPieceVocab(raw json.RawMessage) ([]string, error) {
	var vocab map[string]int
	if err := json.Unmarshal(raw, &vocab); err != nil || vocab == nil {
		return nil, fmt.Errorf("model.vocab is not an object of token: id")
	}
	if len(vocab) == 0 {
		return nil, fmt.Errorf("model.vocab is empty")
	}
	tokens := make([]string, len(vocab))
	set := make([]bool, len(vocab))
	// Sorted, so that a file with several faults always names the same.
	for _, t := range slices.Sorted(maps.Keys(vocab)) {
		id := vocab[t]
		if id < 0 || id >= len(vocab) {
			return nil, fmt.Errorf("model.vocab[%q] is %d, outside 0 … %d (ids must run from 0 without gaps)", t, id, len(vocab)-1)
		}
		if set[id] {
			return nil, fmt.Errorf("model.vocab gives id %d to both %q and %q", id, tokens[id], t)
		}
		tokens[id], set[id] = t, true
	}
	return tokens, nil
}

// special returns the id of a named token, which must be in the
// vocabulary.
func (w *WordPiece) special(field, token string) (int, error) {
	if token == "" {
		return 0, fmt.Errorf("%s is missing", field)
	}
	id, ok := w.vocab[token]
	if !ok {
		return 0, fmt.Errorf("%s %q is not in model.vocab", field, token)
	}
	return id, nil
}

// normalizer sets the basic tokenizer's switches from the normalizer: a
// BertNormalizer, or a Sequence of normalizers crsc can follow exactly.
// No normalizer (null) means text is used as it is.
func (w *WordPiece) normalizer(raw json.RawMessage) error {
	w.cleanText, w.chineseChars, w.Lower, w.StripAccents = false, false, false, false
	if isNull(raw) {
		return nil
	}
	var n struct {
		Type        string            `json:"type"`
		Normalizers []json.RawMessage `json:"normalizers"`
	}
	if err := json.Unmarshal(raw, &n); err != nil {
		return fmt.Errorf("%s", jsonProblem("normalizer", err))
	}
	if n.Type != "Sequence" {
		return w.normalizerStep(raw, "normalizer", false)
	}
	// A Sequence spells accent stripping as NFD then StripAccents (which
	// only drops the combining marks NFD split off): both or neither.
	decomposed := false
	for i, step := range n.Normalizers {
		path := fmt.Sprintf("normalizer.normalizers[%d]", i)
		var s struct {
			Type string `json:"type"`
		}
		if err := json.Unmarshal(step, &s); err != nil {
			return fmt.Errorf("%s", jsonProblem(path, err))
		}
		switch s.Type {
		case "NFD":
			decomposed = true
		case "StripAccents":
			if !decomposed {
				return fmt.Errorf("%s is StripAccents without NFD before it: accents of composed characters would stay, which crsc does not reproduce", path)
			}
			w.StripAccents = true
		default:
			if err := w.normalizerStep(step, path, true); err != nil {
				return err
			}
		}
	}
	if decomposed && !w.StripAccents {
		return fmt.Errorf("normalizer has NFD without StripAccents: decomposed text is not supported (the vocabulary's composed tokens would not match)")
	}
	return nil
}

// normalizerStep applies one normalizer that is not NFD or StripAccents.
func (w *WordPiece) normalizerStep(raw json.RawMessage, path string, inSequence bool) error {
	var n struct {
		Type               string `json:"type"`
		CleanText          *bool  `json:"clean_text"`
		HandleChineseChars *bool  `json:"handle_chinese_chars"`
		StripAccents       *bool  `json:"strip_accents"`
		Lowercase          *bool  `json:"lowercase"`
	}
	if err := json.Unmarshal(raw, &n); err != nil {
		return fmt.Errorf("%s", jsonProblem(path, err))
	}
	// Unset switches take Hugging Face's defaults.
	on := func(b *bool) bool { return b == nil || *b }
	switch n.Type {
	case "BertNormalizer":
		w.cleanText = w.cleanText || on(n.CleanText)
		w.chineseChars = w.chineseChars || on(n.HandleChineseChars)
		lower := on(n.Lowercase)
		w.Lower = w.Lower || lower
		// strip_accents null follows lowercase, as in Hugging Face (and
		// BERT's uncased models).
		strip := lower
		if n.StripAccents != nil {
			strip = *n.StripAccents
		}
		w.StripAccents = w.StripAccents || strip
	case "Lowercase":
		w.Lower = true
	case "Strip":
		// Whitespace at either end never reaches a word: nothing to do.
	default:
		what := "BertNormalizer or a Sequence of BertNormalizer, Lowercase, NFD + StripAccents and Strip"
		if inSequence {
			what = "BertNormalizer, Lowercase, NFD + StripAccents or Strip"
		}
		return fmt.Errorf("%s is %q: crsc's WordPiece follows %s", path, n.Type, what)
	}
	return nil
}

// bertPreTokenizer checks that words are split as BERT's basic tokenizer
// does (whitespace, then every punctuation character on its own).
func bertPreTokenizer(raw json.RawMessage, path string) error {
	if isNull(raw) {
		return fmt.Errorf("%s is null: crsc's WordPiece splits words as BertPreTokenizer does, which this file does not ask for", path)
	}
	var p struct {
		Type          string            `json:"type"`
		PreTokenizers []json.RawMessage `json:"pretokenizers"`
	}
	if err := json.Unmarshal(raw, &p); err != nil {
		return fmt.Errorf("%s", jsonProblem(path, err))
	}
	switch {
	case p.Type == "BertPreTokenizer":
		return nil
	case p.Type == "Sequence" && len(p.PreTokenizers) == 1:
		return bertPreTokenizer(p.PreTokenizers[0], path+".pretokenizers[0]")
	}
	return fmt.Errorf("%s is %q: crsc's WordPiece splits words as BertPreTokenizer does, and only that", path, p.Type)
}

// templateItem is one element of a TemplateProcessing template.
type templateItem struct {
	SpecialToken *struct {
		ID     string `json:"id"`
		TypeID int    `json:"type_id"`
	} `json:"SpecialToken"`
	Sequence *struct {
		ID     string `json:"id"`
		TypeID int    `json:"type_id"`
	} `json:"Sequence"`
}

func (t templateItem) String() string {
	switch {
	case t.SpecialToken != nil:
		return fmt.Sprintf("%s:%d", t.SpecialToken.ID, t.SpecialToken.TypeID)
	case t.Sequence != nil:
		return fmt.Sprintf("$%s:%d", t.Sequence.ID, t.Sequence.TypeID)
	}
	return "?"
}

// postProcessor takes [CLS] and [SEP] from the post-processor, which must
// build what Encode builds: [CLS] A [SEP] and [CLS] A [SEP] B [SEP] with
// token types 0 for A's part and 1 for B's.
func (w *WordPiece) postProcessor(raw json.RawMessage, path string) error {
	if isNull(raw) {
		return fmt.Errorf("%s is null: the file adds no [CLS]/[SEP], and crsc's Encode always adds them", path)
	}
	var p struct {
		Type          string            `json:"type"`
		Sep           []json.RawMessage `json:"sep"`
		Cls           []json.RawMessage `json:"cls"`
		Single        []templateItem    `json:"single"`
		Pair          []templateItem    `json:"pair"`
		SpecialTokens map[string]struct {
			IDs []int `json:"ids"`
		} `json:"special_tokens"`
		Processors []json.RawMessage `json:"processors"`
	}
	if err := json.Unmarshal(raw, &p); err != nil {
		return fmt.Errorf("%s", jsonProblem(path, err))
	}
	switch p.Type {
	case "BertProcessing":
		var err error
		if w.CLS, err = w.tokenAndID(p.Cls, path+".cls"); err != nil {
			return err
		}
		w.SEP, err = w.tokenAndID(p.Sep, path+".sep")
		return err
	case "TemplateProcessing":
		return w.template(p.Single, p.Pair, p.SpecialTokens, path)
	case "Sequence":
		if len(p.Processors) == 1 {
			return w.postProcessor(p.Processors[0], path+".processors[0]")
		}
	}
	return fmt.Errorf("%s is %q: crsc's Encode adds [CLS]/[SEP] as BertProcessing or BERT's TemplateProcessing does, and only that", path, p.Type)
}

// tokenAndID reads BertProcessing's ["[CLS]", 101], which must agree
// with the vocabulary.
func (w *WordPiece) tokenAndID(pair []json.RawMessage, path string) (int, error) {
	var tok string
	var id int
	if len(pair) != 2 || json.Unmarshal(pair[0], &tok) != nil || json.Unmarshal(pair[1], &id) != nil {
		return 0, fmt.Errorf("%s is not [\"token\", id]", path)
	}
	if got, ok := w.vocab[tok]; !ok {
		return 0, fmt.Errorf("%s is [%q, %d] but %q is not in model.vocab", path, tok, id, tok)
	} else if got != id {
		return 0, fmt.Errorf("%s is [%q, %d] but model.vocab gives %q id %d", path, tok, id, tok, got)
	}
	return id, nil
}

func (w *WordPiece) template(single, pair []templateItem, specials map[string]struct {
	IDs []int `json:"ids"`
}, path string) error {
	str := func(items []templateItem) string {
		s := make([]string, len(items))
		for i, it := range items {
			s[i] = it.String()
		}
		return strings.Join(s, " ")
	}
	tok := func(it templateItem, typ int) (string, bool) {
		if it.SpecialToken == nil || it.SpecialToken.TypeID != typ {
			return "", false
		}
		return it.SpecialToken.ID, true
	}
	seq := func(it templateItem, id string, typ int) bool {
		return it.Sequence != nil && it.Sequence.ID == id && it.Sequence.TypeID == typ
	}
	const want = "[CLS]:0 $A:0 [SEP]:0, pair [CLS]:0 $A:0 [SEP]:0 $B:1 [SEP]:1"
	ok := len(single) == 3 && len(pair) == 5
	var cls, sep string
	if ok {
		var ok1, ok2, ok3, ok4, ok5 bool
		cls, ok1 = tok(single[0], 0)
		sep, ok2 = tok(single[2], 0)
		c2, ok3 := tok(pair[0], 0)
		s2, ok4 := tok(pair[2], 0)
		s3, ok5 := tok(pair[4], 1)
		ok = ok1 && ok2 && ok3 && ok4 && ok5 && seq(single[1], "A", 0) && seq(pair[1], "A", 0) && seq(pair[3], "B", 1) &&
			c2 == cls && s2 == sep && s3 == sep
	}
	if !ok {
		return fmt.Errorf("%s (TemplateProcessing) is single %q, pair %q: crsc's Encode builds BERT's, single %s", path, str(single), str(pair), want)
	}
	for _, s := range []struct {
		name string
		dst  *int
	}{{cls, &w.CLS}, {sep, &w.SEP}} {
		sp, found := specials[s.name]
		if !found || len(sp.IDs) != 1 {
			return fmt.Errorf("%s.special_tokens[%q] is missing or not one id", path, s.name)
		}
		id := sp.IDs[0]
		if id < 0 || id >= len(w.tokens) {
			return fmt.Errorf("%s.special_tokens[%q] has id %d, outside the vocabulary of %d", path, s.name, id, len(w.tokens))
		}
		*s.dst = id
	}
	return nil
}

func isNull(raw json.RawMessage) bool {
	return len(raw) == 0 || string(bytes.TrimSpace(raw)) == "null"
}
