// Package runtime executes IR graphs: it checks the caller's inputs against
// the graph's declared types, runs each node on a Backend in order, and
// frees every intermediate value after its last use so that a step holds
// only what is still needed.
//
// The CPU backend (package runtime/cpu) is the default; the CUDA backend
// implements the same interface.
package runtime
