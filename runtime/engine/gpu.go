package engine

import (
	"crsc/ir"
	"crsc/optim"
	"crsc/runtime"
	"crsc/runtime/device"
)

// gpuState is a session's device side.
type gpuState struct {
	dev     *device.Device
	threads int
}

func newGPUState(dev *device.Device, threads int) (*gpuState, error) {
	return &gpuState{dev: dev, threads: threads}, nil
}

func (g *gpuState) close() {}

func (g *gpuState) pinParams(params, m, v []*ir.Tensor) error { return nil }

func (g *gpuState) train(s *Session, e *graph, gr *ir.Graph, feeds map[string]*ir.Tensor, seed, step uint64) (map[string]*ir.Tensor, error) {
	out, err := g.dev.Run(gr, feeds, runtime.Options{Threads: g.threads, Seed: seed, Step: step})
	if err != nil {
		return nil, err
	}
	grads := make([]*ir.Tensor, len(e.gradNames))
	for i, name := range e.gradNames {
		grads[i] = out[name]
		delete(out, name)
	}
	if s.micro == 1 {
		s.beforeRunHost()
	}
	s.accumulate(grads)
	return out, nil
}

func (g *gpuState) update(s *Session, lr float32, opt optim.UpdateOptions) (float64, error) {
	norm, err := s.opt.Update(s.grads, lr, opt)
	s.grads = nil
	return norm, err
}

func (g *gpuState) eval(s *Session, e *graph, gr *ir.Graph, feeds map[string]*ir.Tensor) (map[string]*ir.Tensor, error) {
	return g.dev.Run(gr, feeds, runtime.Options{Threads: g.threads, ForceEval: true})
}

func (g *gpuState) sync(s *Session) error { return nil }

func (g *gpuState) fillStats(st *Stats) {}
