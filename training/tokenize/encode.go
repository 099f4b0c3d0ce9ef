package tokenize

// Encoding is one example ready for a BERT-family model: all slices have
// the padded length.
type Encoding struct {
	IDs, Mask, Types []int64
	Truncated        bool
}

// Encode builds [CLS] a [SEP] (or [CLS] a [SEP] b [SEP] when b is not
// empty) with token types 0 for a's part and 1 for b's, truncates the
// longer text first until it fits maxLen, and pads with [PAD] (mask 0)
// to exactly maxLen.
func (w *WordPiece) Encode(a, b string, maxLen int) Encoding {
	ta := w.IDs(a)
	var tb []int
	special := 2
	if b != "" {
		tb = w.IDs(b)
		special = 3
	}
	enc := Encoding{}
	// Longest-first truncation, as Hugging Face's default.
	for len(ta)+len(tb)+special > maxLen && len(ta)+len(tb) > 0 {
		enc.Truncated = true
		if len(ta) >= len(tb) {
			ta = ta[:len(ta)-1]
		} else {
			tb = tb[:len(tb)-1]
		}
	}
	enc.IDs = make([]int64, 0, maxLen)
	enc.Types = make([]int64, 0, maxLen)
	add := func(id, typ int) {
		enc.IDs = append(enc.IDs, int64(id))
		enc.Types = append(enc.Types, int64(typ))
	}
	add(w.CLS, 0)
	for _, id := range ta {
		add(id, 0)
	}
	add(w.SEP, 0)
	if b != "" {
		for _, id := range tb {
			add(id, 1)
		}
		add(w.SEP, 1)
	}
	enc.IDs = enc.IDs[:min(len(enc.IDs), maxLen)]
	enc.Types = enc.Types[:len(enc.IDs)]
	enc.Mask = make([]int64, maxLen)
	for i := range enc.IDs {
		enc.Mask[i] = 1
	}
	for len(enc.IDs) < maxLen {
		enc.IDs = append(enc.IDs, int64(w.PAD))
		enc.Types = append(enc.Types, 0)
	}
	return enc
}
