package gpu

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
