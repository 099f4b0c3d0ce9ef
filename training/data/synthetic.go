package data

import (
	"fmt"
	"math/rand"
	"strings"
)

// A small sentiment task the project makes itself, so a demo run needs
// nothing downloaded: sentences of neutral words with a few sentiment
// words, some negated ("not great" counts as negative). The label is 1
// when the (negation-aware) sentiment sum is positive.
var (
	synthPositive = strings.Fields("good great excellent wonderful superb delightful charming brilliant lovely moving funny clever fresh beautiful gripping touching smart stunning warm fun")
	synthNegative = strings.Fields("bad awful terrible boring dull weak messy bland tedious clumsy stupid ugly flat lame painful poor silly dreary hollow tired")
	synthNegators = strings.Fields("not never hardly")
	synthNeutral  = strings.Fields(`the a an this that movie film story plot actor actress cast director script
		scene scenes music ending start middle characters dialogue camera it is was are were and but with
		of to in on for its his her their very quite rather really so as by at from one
		some many most every year time people world life city night day house family friend man
		woman book screen drama comedy`)
)

// SyntheticVocab is the WordPiece vocabulary of the synthetic task:
// BERT's special tokens, then every word the generator uses, padded with
// filler tokens to size entries (size must be at least the words needed).
func SyntheticVocab(size int) ([]string, error) {
	vocab := []string{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "."}
	for _, ws := range [][]string{synthPositive, synthNegative, synthNegators, synthNeutral} {
		vocab = append(vocab, ws...)
	}
	if len(vocab) > size {
		return nil, fmt.Errorf("synthetic vocab needs %d entries, the model has %d", len(vocab), size)
	}
	for i := 0; len(vocab) < size; i++ {
		vocab = append(vocab, fmt.Sprintf("[unused%d]", i))
	}
	return vocab, nil
}

// Synthetic generates n labelled sentences deterministically from seed.
func Synthetic(n int, seed int64) []Example {
	r := rand.New(rand.NewSource(seed))
	out := make([]Example, 0, n)
	for len(out) < n {
		words := make([]string, 4+r.Intn(9))
		for i := range words {
			words[i] = synthNeutral[r.Intn(len(synthNeutral))]
		}
		score := 0
		for k := 1 + r.Intn(3); k > 0; k-- {
			pos := r.Intn(len(words))
			sign := 1
			w := synthPositive[r.Intn(len(synthPositive))]
			if r.Intn(2) == 0 {
				sign, w = -1, synthNegative[r.Intn(len(synthNegative))]
			}
			words[pos] = w
			if pos > 0 && r.Intn(4) == 0 {
				words[pos-1] = synthNegators[r.Intn(len(synthNegators))]
				sign = -sign
			}
			score += sign
		}
		// Recount: later words may have overwritten earlier ones.
		score = 0
		for i, w := range words {
			s := 0
			switch {
			case contains(synthPositive, w):
				s = 1
			case contains(synthNegative, w):
				s = -1
			}
			if i > 0 && contains(synthNegators, words[i-1]) {
				s = -s
			}
			score += s
		}
		if score == 0 {
			continue
		}
		label := 0
		if score > 0 {
			label = 1
		}
		out = append(out, Example{Index: len(out), TextA: strings.Join(words, " ") + " .", Class: label, Line: len(out) + 1})
	}
	return out
}

func contains(ws []string, w string) bool {
	for _, x := range ws {
		if x == w {
			return true
		}
	}
	return false
}
