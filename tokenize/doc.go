// Package tokenize turns text into the integer inputs a BERT-family model
// takes: a WordPiece tokenizer read from a vocab.txt (BERT's basic
// tokenizer followed by greedy longest-match word pieces), and Encode,
// which adds [CLS]/[SEP], truncates, pads and builds the attention mask and
// token types of single sentences and pairs.
//
// It is pure Go and needs nothing but the vocabulary file.
package tokenize
