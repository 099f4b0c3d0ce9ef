// Package hfconfig reads the config.json Hugging Face saves beside a model
// (and transformers.onnx / optimum exports keep beside their .onnx): the
// model family, the label names in class order, and the sizes a trainer
// must respect (learned positions, vocabulary, pad and decoder-start ids).
//
// It reads only what crsc uses and checks it: a malformed field is a
// one-line error naming it, never a silently defaulted value. Fields a
// file leaves out stay unset (zero or nil) so that the caller can tell
// "absent" from a value.
package hfconfig
