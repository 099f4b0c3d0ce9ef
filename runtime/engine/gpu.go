package engine

import (
	"fmt"

	"crsc/compiler/ir"
	"crsc/runtime"
	"crsc/runtime/device"
	"crsc/runtime/gpu"
	"crsc/training/optim"
)

// gpuState is a session's device side: one backend for the whole run.
// The parameters and AdamW moments are resident on the device; each
// micro-batch's gradients stay there (in the arena, or summed into device
// accumulators), and the update runs as device kernels.
type gpuState struct {
	b *gpu.Backend
	// params, expAvg, expAvgSq are the host tensors whose device copies
	// the optimizer updates; decay per parameter.
	params, expAvg, expAvgSq []*ir.Tensor
	decay                    []bool
	acc                      []*ir.Tensor // device accumulators (allocated on first need)
	grads                    []*ir.Tensor // device gradients of the step so far
	// Transfers at the start of the step, for the per-step counts.
	stepIn, stepOut int64
}

func newGPUState(dev *device.Device, threads int) (*gpuState, error) {
	b, err := gpu.New(dev.GPU, gpu.Options{})
	if err != nil {
		return nil, err
	}
	return &gpuState{b: b}, nil
}

func (g *gpuState) close() {
	for _, a := range g.acc {
		g.b.Release(a)
	}
	g.b.Close()
}

// pinParams makes the parameters and the moments resident.
func (g *gpuState) pinParams(params, m, v []*ir.Tensor) error {
	g.params, g.expAvg, g.expAvgSq = params, m, v
	for _, set := range [][]*ir.Tensor{params, m, v} {
		for _, t := range set {
			if err := g.b.Resident(t); err != nil {
				return fmt.Errorf("device: %v", err)
			}
		}
	}
	return nil
}

// run executes g on the backend with its plan, the arena sized for the
// largest graph of the session.
func (g *gpuState) run(s *Session, e *graph, gr *ir.Graph, feeds map[string]*ir.Tensor, opt runtime.Options) (map[string]*ir.Tensor, error) {
	if err := g.b.SetPlan(e.plan, s.stats.ArenaBytes); err != nil {
		return nil, err
	}
	g.b.SetRun(opt.Seed, opt.Step, opt.ForceEval)
	return runtime.Execute(gr, g.b, feeds, opt)
}

func (g *gpuState) train(s *Session, e *graph, gr *ir.Graph, feeds map[string]*ir.Tensor, seed, step uint64) (map[string]*ir.Tensor, error) {
	if s.micro == 0 {
		g.stepIn, g.stepOut = g.b.Transfers()
	}
	if s.micro == 1 {
		// The first micro-batch's gradients sit in the arena this run
		// overwrites: move them to the accumulators first.
		if err := g.ensureAcc(); err != nil {
			return nil, err
		}
		for i, t := range g.grads {
			if err := g.b.CopyInto(g.acc[i], t); err != nil {
				return nil, err
			}
		}
		g.grads = g.acc
	}
	onDevice := map[string]bool{}
	for _, name := range e.gradNames {
		onDevice[name] = true
	}
	out, err := g.run(s, e, gr, feeds, runtime.Options{Seed: seed, Step: step, DeviceOutputs: onDevice})
	if err != nil {
		return nil, err
	}
	grads := e.takeGradients(out)
	s.micro++
	if s.micro == 1 {
		g.grads = grads
	} else {
		for i, t := range grads {
			if err := g.b.AddInto(g.acc[i], t); err != nil {
				return nil, err
			}
			g.b.Release(t)
		}
	}
	return out, nil
}

func (g *gpuState) ensureAcc() error {
	if g.acc != nil {
		return nil
	}
	for _, t := range g.grads {
		a, err := g.b.NewTensor(t.Shape)
		if err != nil {
			return err
		}
		g.acc = append(g.acc, a)
	}
	return nil
}

// update is Session.Update on the device: the norm comes back (one
// double), the parameters and moments are updated where they are.
func (g *gpuState) update(s *Session, lr float32, opt optim.UpdateOptions) (float64, error) {
	if g.decay == nil {
		cfg := s.opt.Config()
		for _, info := range s.opt.Infos() {
			g.decay = append(g.decay, info.Decay && cfg.WeightDecay != 0)
		}
	}
	x := optim.GradTransform{AverageOver: float32(max(opt.AverageOver, 1))}
	sq, err := g.b.SumSquares(g.grads, x.AverageOver)
	if err != nil {
		return 0, err
	}
	x, norm := optim.ClipTransform(sq, opt)
	scalars := s.opt.Config().StepScalars(lr, s.opt.StepCount()+1)
	if err := g.b.AdamW(g.params, g.grads, g.expAvg, g.expAvgSq, g.decay, scalars, x); err != nil {
		return 0, err
	}
	s.opt.Advance()
	if g.grads[0] != nil && (g.acc == nil || g.grads[0] != g.acc[0]) {
		for _, t := range g.grads {
			g.b.Release(t)
		}
	}
	g.grads = nil
	in, out := g.b.Transfers()
	s.stats.LastStepUpload, s.stats.LastStepDownload = in-g.stepIn, out-g.stepOut
	return norm, nil
}

func (g *gpuState) eval(s *Session, e *graph, gr *ir.Graph, feeds map[string]*ir.Tensor) (map[string]*ir.Tensor, error) {
	return g.run(s, e, gr, feeds, runtime.Options{ForceEval: true})
}

// sync downloads the parameters and the moments into their host tensors.
func (g *gpuState) sync(s *Session) error {
	for _, set := range [][]*ir.Tensor{g.params, g.expAvg, g.expAvgSq} {
		for _, t := range set {
			if err := g.b.Download(t); err != nil {
				return err
			}
		}
	}
	return nil
}

func (g *gpuState) fillStats(st *Stats) {
	bs := g.b.Stats()
	st.DevicePeak = bs.PeakDeviceBytes
	st.ArenaHighWater = bs.ArenaBytes
	st.Fallbacks, st.Misplaced = bs.Fallbacks, bs.Misplaced
}
