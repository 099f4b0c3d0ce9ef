// Package tokenize turns text into the integer inputs a BERT-family or T5
// model takes: a WordPiece tokenizer read from a vocab.txt or a Hugging
// Face tokenizer.json (BERT's basic tokenizer followed by greedy
// longest-match word pieces; the tokenizer.json's normalizer decides
// lower-casing and accent stripping), T5's Unigram from its tokenizer.json,
// and Encode, which adds [CLS]/[SEP], truncates, pads and builds the
// attention mask and token types of single sentences and pairs.
// LoadTokenizerJSON returns whichever of the two a tokenizer.json holds.
//
// It is pure Go and needs nothing but the tokenizer's file.
package tokenize
