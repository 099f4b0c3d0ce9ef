// Package engine is how every command that trains or evaluates runs its
// graphs: a Session binds compiled graphs (one per padded length, plus the
// eval graph) to one backend for a whole run.
//
// On the CPU every node output of every graph is placed in one arena laid
// out by the graph's memory plan (memplan), allocated once and sized for
// the largest graph; the trained parameters are the graphs' initializers,
// the gradients are read where the plan put them (or summed in place into
// one accumulator per parameter across micro-batches), and clipping and
// the AdamW update run as one fused in-place pass (optim). A step
// allocates nothing that grows with the model.
//
// On a GPU (runtime/gpu) the session keeps one backend for the run: the
// arena on the device, parameters and AdamW moments resident there,
// gradients accumulated and the update applied by device kernels, so a
// step moves only the batch in and the loss (and logged scalars) out; the
// parameters come back to the host only when Sync is called (checkpoint,
// export).
package engine
