// Package models knows the BERT and T5 families: it builds their graphs
// directly in the IR with the structure of their Hugging Face exports, for
// benchmarks and for planning memory without a model file.
package models
