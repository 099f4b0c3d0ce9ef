// Package cpu holds crsc's reference CPU kernels: one Kernel per ONNX
// operator, following ONNX semantics (opsets 11–17) exactly so that the
// executor can run imported BERT/T5 graphs, their derived backward graphs and
// the ONNX node conformance suite on the host.
//
// Kernels are pure functions of their inputs (plus Ctx for threading and
// Dropout randomness), always allocate fresh outputs, and report bad inputs
// as errors naming the node instead of panicking. The registry is an explicit
// table (see Lookup and Ops), not something assembled by init functions.
package cpu
