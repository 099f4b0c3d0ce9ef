package engine

import (
	"os"
	goruntime "runtime"
	"runtime/debug"
)

// LimitHeap returns the loading and compiling garbage to the system before a
// run's big allocations, so that they reuse its pages, and caps the Go heap
// at planned + 5 % + 16 MiB: planned counts every big buffer of the run
// (weights, optimizer state, arena, data); the rest (graphs, tokenizer, a
// step's small garbage) fits in the margin, and past it the collector runs
// instead of the heap growing to twice what is live (GOGC's default). A
// GOMEMLIMIT set by the user wins.
func LimitHeap(planned int64) {
	goruntime.GC()
	debug.FreeOSMemory()
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(planned + planned/20 + 16<<20)
	}
}
