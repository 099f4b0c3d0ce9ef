package gpu

// sources lists every kernel file of the backend, so that a self-test can
// compile them all up front instead of discovering a broken one when the
// first node that needs it runs.
var sources = []*kernelSource{elementwiseSrc, movementSrc, reduceSrc, nnSrc, nnElemSrc, gradSrc, sampleSrc, optimSrc}

// Source is one kernel file: its name and CUDA C code (without the prelude).
type Source struct{ Name, Code string }

// Sources returns every kernel file of the backend.
func Sources() []Source {
	out := make([]Source, len(sources))
	for i, s := range sources {
		out[i] = Source{s.name, s.code}
	}
	return out
}
