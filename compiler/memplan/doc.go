// Package memplan plans where every intermediate tensor of a graph lives
// before the graph runs, the way TFLite's and ONNX Runtime's arena planners
// do, and reports what a training step keeps alive for its backward pass.
//
// A plan needs static shapes: every node output becomes a buffer of known
// size with a lifetime [producing node, last reading node]. Shape-only ops
// (Reshape, Flatten, Squeeze, Unsqueeze, Identity) return views in crsc's
// CPU kernels, so their outputs take no space of their own and stretch their
// base buffer's lifetime instead. Buffers are then packed into one arena
// with the "greedy by size" heuristic: largest first, each at the lowest
// aligned offset that overlaps no already placed buffer alive at the same
// time. The arena size is the planned peak; the largest sum of bytes alive
// at one moment is a lower bound no placement can beat, so the ratio of the
// two measures fragmentation.
//
// The "kept for backward" report answers the question users of JAX
// (print_saved_residuals) and ORT (memory insight) ask: which activations
// produced by the forward pass are still needed by the backward pass, and
// how big they are. Backward nodes are recognized by ir.Node.IsBackward
// (the "grad/" name prefix the autodiff pass gives them; see ForwardEnd).
//
// memplan depends only on ir, so that the runtime can import it and
// allocate from a plan (runtime.Options.Plan) without an import cycle.
package memplan
