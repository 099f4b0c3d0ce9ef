// Package passes holds crsc's graph-to-graph passes and the pipelines that
// order them. A pipeline is data: a list of named passes, each run in turn
// with the IR verified after it (as the Go compiler's SSA backend does), so a
// broken invariant is reported by the pass that broke it.
package passes
