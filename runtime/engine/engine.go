package engine

import (
	"fmt"
	"math"
	goruntime "runtime"
	"sync"

	"crsc/compiler/ir"
	"crsc/compiler/memplan"
	"crsc/runtime"
	"crsc/runtime/device"
	"crsc/training/optim"
)

// Session runs one training (or evaluation) run's graphs on one backend.
// It is not safe for concurrent use: one graph runs at a time.
type Session struct {
	dev     *device.Device
	threads int
	arena   *runtime.Arena // CPU: every graph's node outputs, reused by every run
	gpu     *gpuState      // GPU: one backend for the run (nil on the CPU)
	graphs  map[*ir.Graph]*graph

	opt    *optim.AdamW
	params []*ir.Tensor // trained parameters, in optimizer order
	// acc holds the sum of the micro-batches' gradients when a step has
	// more than one (allocated at the second micro-batch of the first
	// step, kept); grads are the gradients the next update reads.
	acc   []*ir.Tensor
	grads []*ir.Tensor
	micro int

	stats   Stats
	profile *runtime.Profile
}

// SetProfile makes the following runs add their per-op times to p (nil:
// none).
func (s *Session) SetProfile(p *runtime.Profile) { s.profile = p }

// graph is one bound graph: its memory plan and, for a training graph,
// the output names of the gradients in optimizer order.
type graph struct {
	plan      *memplan.MemPlan
	gradNames []string
	forward   bool // an eval graph: no backward part
}

// Stats is what the session measured.
type Stats struct {
	// ArenaBytes is the arena (the largest plan); ArenaHighWater the
	// highest arena byte a kernel received; Workspace the most heap
	// scratch one node held; Unplanned the most bytes of outputs that
	// missed their planned slot (0 when every kernel allocates from the
	// plan).
	ArenaBytes, ArenaHighWater, Workspace, Unplanned int64
	// AccumulatorBytes is the gradient accumulators' size (0 with one
	// micro-batch per step).
	AccumulatorBytes int64
	// Device: the most device memory held at once, and the host↔device
	// bytes of the last training micro-batch and optimizer step.
	DevicePeak                       int64
	LastStepUpload, LastStepDownload int64
	// Fallbacks counts the nodes, per op, that ran on the CPU for want of
	// a device kernel; Misplaced the planned outputs a kernel put outside
	// their slot (both device only).
	Fallbacks, Misplaced map[string]int
}

// New opens a session on dev (nil: the CPU) with threads CPU threads (0:
// all cores).
func New(dev *device.Device, threads int) (*Session, error) {
	if dev == nil {
		dev = &device.Device{Name: "cpu"}
	}
	s := &Session{dev: dev, threads: threads, arena: &runtime.Arena{}, graphs: map[*ir.Graph]*graph{}}
	if dev.GPU != nil {
		var err error
		if s.gpu, err = newGPUState(dev, threads); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Close releases the device backend, if any.
func (s *Session) Close() {
	if s.gpu != nil {
		s.gpu.close()
	}
}

// Device is the device the session runs on.
func (s *Session) Device() *device.Device { return s.dev }

// AddTraining binds a training graph whose outputs include the gradients
// named gradNames (in the optimizer's parameter order). It rewrites the
// graph for execution (see lower), plans its memory and grows the arena to
// the largest plan.
func (s *Session) AddTraining(g *ir.Graph, gradNames []string) (*memplan.MemPlan, error) {
	for _, name := range gradNames {
		if !isOutput(g, name) {
			return nil, fmt.Errorf("internal error: gradient %q is not an output of the training graph", name)
		}
	}
	return s.add(g, &graph{gradNames: gradNames}, true)
}

// AddEval binds a forward-only graph (evaluation, inference).
func (s *Session) AddEval(g *ir.Graph) (*memplan.MemPlan, error) {
	return s.add(g, &graph{forward: true}, false)
}

func (s *Session) add(g *ir.Graph, e *graph, training bool) (*memplan.MemPlan, error) {
	if prev, ok := s.graphs[g]; ok {
		return prev.plan, nil
	}
	if err := lower(g, s.gpu == nil); err != nil {
		return nil, err
	}
	forwardEnd := -1
	if training {
		forwardEnd = memplan.ForwardEnd(g)
	}
	p, err := memplan.Plan(g, memplan.Options{ForwardEnd: forwardEnd})
	if err != nil {
		return nil, err
	}
	e.plan = p
	s.graphs[g] = e
	// The arena is allocated at the first run, for the largest plan bound
	// by then: a caller checks the plans against the machine first.
	s.stats.ArenaBytes = max(s.stats.ArenaBytes, p.PlannedPeak)
	return p, nil
}

// Plan is the memory plan of a bound graph (nil if g is not bound).
func (s *Session) Plan(g *ir.Graph) *memplan.MemPlan {
	if e := s.graphs[g]; e != nil {
		return e.plan
	}
	return nil
}

// SetOptimizer makes opt update params (its parameters, in its order)
// after each step's micro-batches.
func (s *Session) SetOptimizer(opt *optim.AdamW, params map[string]*ir.Tensor) error {
	s.opt = opt
	s.params = s.params[:0]
	for _, info := range opt.Infos() {
		p := params[info.Name]
		if p == nil {
			return fmt.Errorf("internal error: no parameter %q for the optimizer", info.Name)
		}
		s.params = append(s.params, p)
	}
	if s.gpu != nil {
		m, v := opt.Moments()
		return s.gpu.pinParams(s.params, m, v)
	}
	return nil
}

// Train runs one micro-batch of training graph g (bound by AddTraining)
// and adds its gradients to the step's. It returns the graph's other
// outputs (the loss, gnorm estimates) on the host; on the CPU they live in
// the arena until the next run.
func (s *Session) Train(g *ir.Graph, feeds map[string]*ir.Tensor, seed, step uint64) (map[string]*ir.Tensor, error) {
	e := s.graphs[g]
	if e == nil || e.forward {
		return nil, fmt.Errorf("internal error: Train on a graph not bound for training")
	}
	if s.gpu != nil {
		return s.gpu.train(s, e, g, feeds, seed, step)
	}
	out, err := s.execute(g, e, feeds, runtime.Options{Seed: seed, Step: step})
	if err != nil {
		return nil, err
	}
	s.accumulate(e.takeGradients(out))
	return out, nil
}

// takeGradients moves the gradients out of a training run's outputs, in
// optimizer order, leaving the other outputs.
func (e *graph) takeGradients(out map[string]*ir.Tensor) []*ir.Tensor {
	grads := make([]*ir.Tensor, len(e.gradNames))
	for i, name := range e.gradNames {
		grads[i] = out[name]
		delete(out, name)
	}
	return grads
}

// accumulate adds one micro-batch's gradients to the step's, in the
// order a host loop would: the first micro-batch's as they are (read in
// place, in the arena), each later one added element by element into the
// accumulators (which beforeRun filled with the first one's).
func (s *Session) accumulate(grads []*ir.Tensor) {
	s.micro++
	if s.micro == 1 {
		s.grads = grads
		return
	}
	for i, g := range grads {
		addInto(s.acc[i].F32, g.F32, s.threads)
	}
}

// beforeRun is called before any graph runs: a pending first micro-batch
// whose gradients still live in the arena is copied to the accumulators,
// as the run is about to reuse those bytes.
func (s *Session) beforeRun() {
	if s.micro != 1 || s.gpu != nil {
		return
	}
	s.beforeRunHost()
}

// beforeRunHost copies the first micro-batch's host gradients into the
// accumulators.
func (s *Session) beforeRunHost() {
	if s.acc == nil {
		for _, g := range s.grads {
			s.acc = append(s.acc, ir.NewTensor(ir.Float32, g.Shape...))
			s.stats.AccumulatorBytes += g.Bytes()
		}
	}
	for i, g := range s.grads {
		copy(s.acc[i].F32, g.F32)
	}
	s.grads = s.acc
}

// addInto is dst += src on up to threads goroutines.
func addInto(dst, src []float32, threads int) {
	parallel(len(dst), threads, func(lo, hi int) {
		d, x := dst[lo:hi], src[lo:hi]
		for i := range d {
			d[i] += x[i]
		}
	})
}

// parallel splits [0, n) into one contiguous part per goroutine; small
// jobs run inline.
func parallel(n, threads int, fn func(lo, hi int)) {
	if threads <= 0 {
		threads = goruntime.GOMAXPROCS(0)
	}
	if n < 1<<16 || threads == 1 {
		fn(0, n)
		return
	}
	var wg sync.WaitGroup
	part := (n + threads - 1) / threads
	for lo := 0; lo < n; lo += part {
		wg.Add(1)
		go func(lo, hi int) {
			defer wg.Done()
			fn(lo, hi)
		}(lo, min(lo+part, n))
	}
	wg.Wait()
}

// Update applies the optimizer to the step's gradients — averaged over
// its micro-batches, clipped to clipNorm (0: no clipping) — and returns
// their global norm before clipping.
func (s *Session) Update(lr float32, clipNorm float64) (float64, error) {
	if s.micro == 0 || s.opt == nil {
		return 0, fmt.Errorf("internal error: Update without a micro-batch or an optimizer")
	}
	opt := optim.UpdateOptions{AverageOver: s.micro, ClipNorm: clipNorm}
	s.micro = 0
	if s.gpu != nil {
		return s.gpu.update(s, lr, opt)
	}
	norm, err := s.opt.Update(s.grads, lr, opt)
	s.grads = nil
	if err != nil {
		return 0, err
	}
	if math.IsNaN(norm) || math.IsInf(norm, 0) {
		return norm, fmt.Errorf("the gradient norm is %v", norm)
	}
	return norm, nil
}

// Discard drops the step's gradients without an update (a benchmark of
// forward and backward alone).
func (s *Session) Discard() { s.micro, s.grads = 0, nil }

// Eval runs forward graph g (bound by AddEval) and returns its outputs on
// the host; on the CPU they live in the arena until the next run.
func (s *Session) Eval(g *ir.Graph, feeds map[string]*ir.Tensor) (map[string]*ir.Tensor, error) {
	e := s.graphs[g]
	if e == nil {
		return nil, fmt.Errorf("internal error: Eval on a graph not bound to the session")
	}
	if s.gpu != nil {
		return s.gpu.eval(s, e, g, feeds)
	}
	return s.execute(g, e, feeds, runtime.Options{ForceEval: true})
}

func (s *Session) execute(g *ir.Graph, e *graph, feeds map[string]*ir.Tensor, opt runtime.Options) (map[string]*ir.Tensor, error) {
	s.beforeRun()
	s.arena.Reserve(s.stats.ArenaBytes)
	var st runtime.Stats
	opt.Threads, opt.Plan, opt.Arena, opt.Stats, opt.Profile = s.threads, e.plan, s.arena, &st, s.profile
	out, err := runtime.Run(g, feeds, opt)
	if err != nil {
		return nil, err
	}
	s.stats.ArenaHighWater = max(s.stats.ArenaHighWater, st.ArenaHighWater)
	s.stats.Workspace = max(s.stats.Workspace, st.WorkspacePeak)
	s.stats.Unplanned = max(s.stats.Unplanned, st.UnplannedPeak)
	return out, nil
}

// Sync brings the parameters and optimizer state back to their host
// tensors (a checkpoint or export reads them). A no-op on the CPU.
func (s *Session) Sync() error {
	if s.gpu != nil {
		return s.gpu.sync(s)
	}
	return nil
}

// Stats reports what the session measured so far.
func (s *Session) Stats() Stats {
	st := s.stats
	if s.gpu != nil {
		s.gpu.fillStats(&st)
	}
	return st
}

func isOutput(g *ir.Graph, name string) bool {
	for _, o := range g.Outputs {
		if o.Name == name {
			return true
		}
	}
	return false
}
