package engine

import (
	"crsc/compiler/ir"
	"crsc/runtime"
)

// Run runs graph g once, as it is: an inference pass, or a whole training
// graph whose outputs (gradients included) the caller reads itself (crsc
// grad, crsc run). It is bound to the session on first use — planned, in
// the session's one arena, on its backend — and its Dropout nodes do what
// the graph says, keyed by seed. The outputs are on the host; on the CPU
// they live in the arena until the next run.
func (s *Session) Run(g *ir.Graph, feeds map[string]*ir.Tensor, seed uint64) (map[string]*ir.Tensor, error) {
	e := s.graphs[g]
	if e == nil {
		var err error
		if _, err = s.add(g, &graph{forward: true}, false); err != nil {
			return nil, err
		}
		e = s.graphs[g]
	}
	opt := runtime.Options{Seed: seed}
	if s.gpu != nil {
		return s.gpu.run(s, e, g, feeds, opt)
	}
	return s.execute(g, e, feeds, opt)
}
