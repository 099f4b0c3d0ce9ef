// Package onnx converts between ONNX ModelProto files and crsc's IR.
//
// Import reads a model (with external data), sorts its nodes, turns Constant
// nodes into initializers and normalizes opset differences into one
// canonical form, so that passes and kernels see a single spelling of each
// op: constant `axes`/`split` inputs become attributes, Clip's min/max become
// inputs. Export writes the IR back as a model that ONNX Runtime runs;
// crsc's own ops go into the ai.crsc domain.
package onnx
