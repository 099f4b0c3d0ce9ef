// Package optim builds the optimizer step of a training run as an ordinary
// IR graph, the graph that optimizer_model.onnx holds, and runs it.
//
// The step is written with standard ONNX ops only (Mul, Add, Sub, Div, Sqrt,
// Pow, Cast), so the same graph runs on crsc's CPU kernels and, once
// exported, in ONNX Runtime. AdamW wraps the graph in a stepper that keeps
// the moment estimates and the step count, updates the parameters in place
// and hands its state to the checkpoint package.
package optim
