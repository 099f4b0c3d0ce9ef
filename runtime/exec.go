package runtime

import (
	"fmt"
	"runtime"
	"time"
	"unsafe"

	"crsc/compiler/ir"
	"crsc/compiler/memplan"
	"crsc/runtime/cpu"
)

// Backend runs single nodes. The executor owns ordering and lifetimes.
type Backend interface {
	Name() string
	// Supports reports whether the backend has a kernel for domain.op.
	Supports(domain, op string) bool
	// Run computes a node's outputs from host inputs.
	Run(n *ir.Node, ins []*ir.Tensor) ([]*ir.Tensor, error)
}

// DeviceBackend is a backend whose tensors live in accelerator memory
// (ir.Tensor.Device). It accepts host inputs (graph inputs, weights) and
// copies them over itself; the executor tells it what runs next and what
// died, and brings the results back to the host.
type DeviceBackend interface {
	Backend
	// StartNode announces that node i of the graph runs next, so that a
	// backend built with a memory plan can place its outputs at the
	// planned offsets.
	StartNode(i int)
	// Release is called once for each node output no later node reads.
	// Values may share storage (views), so backends count references.
	Release(t *ir.Tensor)
	// ToHost returns a host copy of t (t itself if it is on the host).
	ToHost(t *ir.Tensor) (*ir.Tensor, error)
}

// Options configure one execution.
type Options struct {
	Threads int    // 0: all cores
	Seed    uint64 // keys Dropout masks (and, later, sampling)
	Step    uint64
	// ForceEval turns every Dropout into the identity.
	ForceEval bool
	// Keep names values (besides the graph outputs) to return as well.
	Keep []string
	// Profile, when set, accumulates the time spent per op.
	Profile *Profile
	// Stats, when set, receives what the run held in memory.
	Stats *Stats
	// Plan, when set, places node outputs in one arena at the offsets the
	// plan chose (memplan.Plan of the same graph, with static shapes)
	// instead of allocating each on the Go heap. Needs the CPU backend.
	Plan *memplan.MemPlan
	// Arena, with Plan, is reused across runs instead of allocating one
	// per run; see Arena for what that means for the returned tensors.
	Arena *Arena
	// DeviceOutputs names the outputs a device backend returns where they
	// are, on the device, instead of copying them to the host (a training
	// run's gradients, which the optimizer reads there).
	DeviceOutputs map[string]bool
}

// Stats reports memory held by one run. Inputs and initializers are not
// counted.
type Stats struct {
	// PeakLiveBytes: the bytes of the tensors that nodes produced and that
	// were still alive (views of one buffer count once), at the worst
	// moment, wherever they were allocated.
	PeakLiveBytes int64

	// The rest is filled by planned runs (Options.Plan).
	//
	// ArenaBytes is the planned arena size; ArenaHighWater the highest
	// arena byte a kernel actually received (offset + size).
	ArenaBytes, ArenaHighWater int64
	// WorkspacePeak is the most heap memory kernels allocated during one
	// node and did not return (scratch, and outputs nobody declared).
	WorkspacePeak int64
	// UnplannedPeak is the most bytes, at one moment, of node outputs
	// that did not come from their planned slot and so live on the heap.
	UnplannedPeak int64
	// MeasuredPeak = ArenaHighWater + WorkspacePeak + UnplannedPeak: an
	// upper bound of what the run held besides inputs and weights.
	MeasuredPeak int64
	// Unplanned names ("node (op)") the nodes with an output that missed
	// its planned slot: kernels to move to ctx.newTensor.
	Unplanned []string
}

// Profile is the time a run spent per op type (domain-qualified).
type Profile struct {
	Time  map[string]time.Duration
	Count map[string]int
}

// NewProfile returns an empty profile.
func NewProfile() *Profile {
	return &Profile{Time: map[string]time.Duration{}, Count: map[string]int{}}
}

// CPU returns the default backend.
func CPU(opt Options) Backend {
	threads := opt.Threads
	if threads <= 0 {
		threads = runtime.GOMAXPROCS(0)
	}
	return &cpuBackend{ctx: &cpu.Ctx{Seed: opt.Seed, Step: opt.Step, ForceEval: opt.ForceEval, Threads: threads}}
}

type cpuBackend struct{ ctx *cpu.Ctx }

// PlannedBackend is a host backend whose kernels can take their outputs
// from an allocator: Execute points it at the arena of a memory plan.
type PlannedBackend interface {
	Backend
	// SetAllocator makes the kernels allocate through a (nil: the heap).
	SetAllocator(a cpu.Allocator)
}

// SetAllocator points the kernels at a (planned) allocator; nil is the heap.
func (b *cpuBackend) SetAllocator(a cpu.Allocator) {
	if a == nil {
		b.ctx.Alloc = nil // not a typed nil *planAlloc: the kernels test for nil
		return
	}
	b.ctx.Alloc = a
}

func (b *cpuBackend) Name() string { return "cpu" }
func (b *cpuBackend) Supports(domain, op string) bool {
	_, ok := cpu.Lookup(domain, op)
	return ok
}
func (b *cpuBackend) Run(n *ir.Node, ins []*ir.Tensor) ([]*ir.Tensor, error) {
	k, ok := cpu.Lookup(n.Domain, n.Op)
	if !ok {
		return nil, fmt.Errorf("node %q: no CPU kernel for %s", n.Name, n.Key())
	}
	return k(b.ctx, n, ins)
}

// Run executes g on the CPU backend.
func Run(g *ir.Graph, inputs map[string]*ir.Tensor, opt Options) (map[string]*ir.Tensor, error) {
	return Execute(g, CPU(opt), inputs, opt)
}

// Execute runs g on backend b. It returns the graph outputs (and the values
// named in opt.Keep) by name.
func Execute(g *ir.Graph, b Backend, inputs map[string]*ir.Tensor, opt Options) (map[string]*ir.Tensor, error) {
	e, err := newExecution(g, b, inputs, opt)
	if err != nil {
		return nil, err
	}
	defer e.close()
	for i, n := range g.Nodes {
		if err := e.step(i, n); err != nil {
			return nil, err
		}
	}
	return e.results()
}

// execution is one run of a graph: the values alive, what the caller
// keeps, and the memory accounting. A device backend (DeviceBackend) is
// told what runs and what dies; a host backend with a memory plan gets
// its outputs placed in the plan's arena.
type execution struct {
	g       *ir.Graph
	b       Backend
	db      DeviceBackend // nil on the host
	opt     Options
	pa      *planAlloc // nil without a plan
	live    map[*ir.Value]*ir.Tensor
	lastUse map[*ir.Value]int
	keep    map[*ir.Value]bool
	// mem counts every node output alive; unplanned those outside the
	// plan's arena.
	mem, unplanned *liveBytes
	workspacePeak  int64
}

func newExecution(g *ir.Graph, b Backend, inputs map[string]*ir.Tensor, opt Options) (*execution, error) {
	if err := CheckInputs(g, inputs); err != nil {
		return nil, err
	}
	e := &execution{g: g, b: b, opt: opt, live: map[*ir.Value]*ir.Tensor{}, lastUse: LastUses(g), keep: map[*ir.Value]bool{},
		mem: newLiveBytes(), unplanned: newLiveBytes()}
	e.db, _ = b.(DeviceBackend)
	if opt.Plan != nil && e.db == nil {
		var err error
		if e.pa, err = startPlan(g, b, opt); err != nil {
			return nil, err
		}
	}
	for _, v := range g.Inputs {
		e.live[v] = inputs[v.Name]
	}
	for _, v := range g.Inits {
		e.live[v] = v.Init
	}
	for _, v := range g.Outputs {
		e.keep[v] = true
	}
	for _, name := range opt.Keep {
		v := g.Value(name)
		if v == nil {
			e.close()
			return nil, fmt.Errorf("no value named %q to keep", name)
		}
		e.keep[v] = true
	}
	return e, nil
}

// close points the backend's kernels back at the heap.
func (e *execution) close() {
	if e.pa != nil {
		e.b.(PlannedBackend).SetAllocator(nil)
	}
}

// step runs node i and retires the values no later node reads.
func (e *execution) step(i int, n *ir.Node) error {
	ins := make([]*ir.Tensor, len(n.Inputs))
	for j, in := range n.Inputs {
		if in == nil {
			continue
		}
		t, ok := e.live[in]
		if !ok {
			return fmt.Errorf("node %q (%s): input %q was freed or never computed", n.Name, n.Op, in.Name)
		}
		ins[j] = t
	}
	start := time.Now()
	if e.pa != nil {
		e.pa.startNode(e.opt.Plan.NodeSlots(i))
	}
	if e.db != nil {
		e.db.StartNode(i)
	}
	outs, err := runNode(e.b, n, ins)
	if err != nil {
		return err
	}
	if e.pa != nil {
		stray, ok := placeOutputs(e.pa, e.opt.Plan, i, ins, outs, e.unplanned)
		e.workspacePeak = max(e.workspacePeak, e.pa.workspace(outs)+stray)
		if !ok && e.opt.Stats != nil {
			e.opt.Stats.Unplanned = append(e.opt.Stats.Unplanned, fmt.Sprintf("%s (%s)", n.Name, n.Key()))
		}
	}
	if p := e.opt.Profile; p != nil {
		p.Time[n.Key()] += time.Since(start)
		p.Count[n.Key()]++
	}
	for j, o := range n.Outputs {
		if o == nil {
			continue
		}
		if j >= len(outs) || outs[j] == nil {
			return fmt.Errorf("node %q (%s) did not produce output %d (%s)", n.Name, n.Op, j, o.Name)
		}
		e.live[o] = outs[j]
		e.mem.add(outs[j])
	}
	if s := e.opt.Stats; s != nil {
		s.PeakLiveBytes = max(s.PeakLiveBytes, e.mem.bytes)
		s.UnplannedPeak = max(s.UnplannedPeak, e.unplanned.bytes)
	}
	// Inputs read for the last time here, and outputs nothing reads.
	for _, in := range n.Inputs {
		if in != nil && e.lastUse[in] == i {
			if err := e.retire(in); err != nil {
				return err
			}
		}
	}
	for _, o := range n.Outputs {
		if o != nil && e.lastUse[o] < i {
			if err := e.retire(o); err != nil {
				return err
			}
		}
	}
	return nil
}

// retire is the end of a value's life in the run: a kept value moves to
// the host (and out of the arena, whose bytes the plan reuses); a node
// output is freed (graph inputs and weights stay with their owners, so
// dropping the reference is enough).
func (e *execution) retire(v *ir.Value) error {
	if e.keep[v] {
		if err := keepOnHost(e.db, v, e.live, e.opt.DeviceOutputs); err != nil {
			return err
		}
		keepOutOfArena(e.pa, e.opt.Plan, v, e.live, e.mem, e.unplanned)
		return nil
	}
	if v.Producer != nil {
		t := e.live[v]
		e.mem.drop(t)
		e.unplanned.drop(t)
		if e.db != nil {
			e.db.Release(t)
		}
	}
	delete(e.live, v)
	return nil
}

// results are the kept values by name, on the host unless the caller
// asked for them on the device; with a plan, the memory it measured.
func (e *execution) results() (map[string]*ir.Tensor, error) {
	if s := e.opt.Stats; s != nil && e.pa != nil {
		s.ArenaBytes, s.ArenaHighWater = e.opt.Plan.PlannedPeak, e.pa.highWater
		s.WorkspacePeak = max(s.WorkspacePeak, e.workspacePeak)
		s.MeasuredPeak = s.ArenaHighWater + s.WorkspacePeak + s.UnplannedPeak
	}
	result := map[string]*ir.Tensor{}
	for v := range e.keep {
		if _, ok := e.live[v]; !ok {
			return nil, fmt.Errorf("value %q was not computed", v.Name)
		}
		if err := keepOnHost(e.db, v, e.live, e.opt.DeviceOutputs); err != nil {
			return nil, err
		}
		result[v.Name] = e.live[v]
	}
	return result, nil
}

// keepOnHost replaces a device value that the caller asked for by its host
// copy, as soon as no node reads it any more: its device memory may be
// planned for reuse by a later node.
func keepOnHost(db DeviceBackend, v *ir.Value, live map[*ir.Value]*ir.Tensor, onDevice map[string]bool) error {
	t := live[v]
	if db == nil || t == nil || t.Device == nil || onDevice[v.Name] {
		return nil
	}
	h, err := db.ToHost(t)
	if err != nil {
		return fmt.Errorf("value %q: %w", v.Name, err)
	}
	if v.Producer != nil {
		db.Release(t)
	}
	live[v] = h
	return nil
}

// runNode runs one node, turning a kernel panic into an error that names
// the node: a bug in one kernel must not take the process down with a trace.
func runNode(b Backend, n *ir.Node, ins []*ir.Tensor) (outs []*ir.Tensor, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("node %q (%s): internal error: %v", n.Name, n.Key(), r)
		}
	}()
	return b.Run(n, ins)
}

// LastUses maps each value to the index of the last node that reads it (-1
// when none does).
func LastUses(g *ir.Graph) map[*ir.Value]int {
	last := map[*ir.Value]int{}
	for _, v := range g.Values() {
		last[v] = -1
	}
	for i, n := range g.Nodes {
		for _, in := range n.Inputs {
			if in != nil {
				last[in] = i
			}
		}
	}
	return last
}

// CheckInputs verifies that every graph input is given with its declared
// dtype and rank, that fixed dims match, and that each symbolic dim has one
// size across all inputs.
func CheckInputs(g *ir.Graph, inputs map[string]*ir.Tensor) error {
	syms := map[string]int{}
	symFrom := map[string]string{}
	for _, v := range g.Inputs {
		t, ok := inputs[v.Name]
		if !ok || t == nil {
			return fmt.Errorf("input %q (%s) is missing", v.Name, ir.TypeString(v))
		}
		if t.DType.Storage() != v.DType.Storage() {
			return fmt.Errorf("input %q: got %v, the model wants %v", v.Name, t.DType, v.DType)
		}
		if err := t.CheckData(); err != nil {
			return fmt.Errorf("input %q: %v", v.Name, err)
		}
		if !v.HasShape {
			continue
		}
		if len(t.Shape) != len(v.Shape) {
			return fmt.Errorf("input %q: got shape %v, the model wants %s", v.Name, t.Shape, v.Shape)
		}
		for i, d := range v.Shape {
			got := t.Shape[i]
			switch {
			case d.IsFixed() && int(d.Size) != got:
				return fmt.Errorf("input %q: got shape %v, the model wants %s (axis %d)", v.Name, t.Shape, v.Shape, i)
			case d.Sym != "" && d.Size == 1 && !containsStar(d.Sym):
				if prev, seen := syms[d.Sym]; seen && prev != got {
					return fmt.Errorf("input %q: %s is %d here but %d in input %q", v.Name, d.Sym, got, prev, symFrom[d.Sym])
				}
				syms[d.Sym], symFrom[d.Sym] = got, v.Name
			}
		}
	}
	for name := range inputs {
		if g.Value(name) == nil || !isInput(g, name) {
			return fmt.Errorf("the model has no input named %q (inputs: %s)", name, ir.JoinNames(g.Inputs))
		}
	}
	return nil
}

func containsStar(s string) bool {
	for _, r := range s {
		if r == '*' {
			return true
		}
	}
	return false
}

func isInput(g *ir.Graph, name string) bool {
	for _, v := range g.Inputs {
		if v.Name == name {
			return true
		}
	}
	return false
}

// liveBytes counts the bytes of live buffers, once per buffer however many
// views (Reshape, Identity outputs) share it.
type liveBytes struct {
	refs  map[unsafe.Pointer]int
	bytes int64
}

func newLiveBytes() *liveBytes { return &liveBytes{refs: map[unsafe.Pointer]int{}} }

func bufferOf(t *ir.Tensor) unsafe.Pointer {
	switch {
	case len(t.F32) > 0:
		return unsafe.Pointer(unsafe.SliceData(t.F32))
	case len(t.F64) > 0:
		return unsafe.Pointer(unsafe.SliceData(t.F64))
	case len(t.I64) > 0:
		return unsafe.Pointer(unsafe.SliceData(t.I64))
	case len(t.I32) > 0:
		return unsafe.Pointer(unsafe.SliceData(t.I32))
	case len(t.Bool) > 0:
		return unsafe.Pointer(unsafe.SliceData(t.Bool))
	}
	return nil
}

func (l *liveBytes) add(t *ir.Tensor) {
	if t == nil {
		return
	}
	p := bufferOf(t)
	if p == nil {
		return
	}
	if l.refs[p] == 0 {
		l.bytes += t.Bytes()
	}
	l.refs[p]++
}

func (l *liveBytes) drop(t *ir.Tensor) {
	if t == nil { // already dropped: a node may read one value twice
		return
	}
	p := bufferOf(t)
	if p == nil || l.refs[p] == 0 {
		return
	}
	if l.refs[p]--; l.refs[p] == 0 {
		delete(l.refs, p)
		l.bytes -= t.Bytes()
	}
}

// startPlan checks that opt.Plan fits g and b, and points b's kernels at
// an arena laid out by it.
func startPlan(g *ir.Graph, b Backend, opt Options) (*planAlloc, error) {
	p := opt.Plan
	if p.Graph != g || p.Nodes() != len(g.Nodes) {
		return nil, fmt.Errorf("the memory plan was made for another graph (or before the graph changed)")
	}
	pb, ok := b.(PlannedBackend)
	if !ok {
		return nil, fmt.Errorf("a memory plan needs a backend that takes planned outputs (the CPU's), not %s", b.Name())
	}
	arena := opt.Arena
	if arena == nil {
		arena = &Arena{} // per run: the returned outputs live in it
	}
	arena.Reserve(p.PlannedPeak)
	pa := newPlanAlloc(arena.mem)
	pb.SetAllocator(pa)
	return pa, nil
}

// placeOutputs makes node i's outputs sit where the plan put them. A
// kernel that allocated an output itself (on the heap, or by returning a
// slice of an arena tensor the plan does not know it aliases) has it copied
// into its planned slot: the slot cannot overlap any input of the node, as
// their lifetimes meet at i, and the plan's accounting stays exact. The
// stray copy existed while the node ran, so its heap bytes (those the
// allocator did not see already) are returned to count as workspace. A
// view that does not alias its planned base is moved out of the arena or
// left on the heap, and counted as unplanned until freed. ok reports
// whether every output was already in place.
func placeOutputs(pa *planAlloc, p *memplan.MemPlan, i int, ins, outs []*ir.Tensor, unplanned *liveBytes) (stray int64, ok bool) {
	n := p.Graph.Nodes[i]
	ok = true
	// An output sitting in another output's slot (a kernel that allocated
	// them out of order) must be moved aside before that slot is filled.
	for j, o := range n.Outputs {
		if o == nil || j >= len(outs) || outs[j] == nil {
			continue
		}
		buf := bufferOf(outs[j])
		if b := p.BufferOf(o); pa.contains(buf) && (b == nil || buf != pa.at(b.Offset)) {
			if _, found := slotOf(p, i, j); found {
				outs[j] = heapCopy(outs[j]) // counted as stray below
			}
		}
	}
	for j, o := range n.Outputs {
		if o == nil || j >= len(outs) || outs[j] == nil {
			continue
		}
		t := outs[j]
		buf := bufferOf(t)
		if buf == nil {
			continue // empty tensor
		}
		b := p.BufferOf(o)
		if b != nil && buf == pa.at(b.Offset) {
			continue
		}
		if slot, found := slotOf(p, i, j); found && storageBytes(t) == slot.Bytes {
			if !pa.contains(buf) && !pa.allocated(buf) {
				stray += storageBytes(t)
			}
			outs[j] = pa.adopt(slot, t)
			ok = false
			continue
		}
		if j == 0 && memplan.IsView(n) && b == nil && len(ins) > 0 && ins[0] != nil && buf == bufferOf(ins[0]) {
			// A view of a graph input or weight, as planned, or of an
			// unplanned tensor, which then stays counted while the view lives.
			if unplanned.refs[buf] > 0 {
				unplanned.add(t)
			}
			continue
		}
		ok = false
		if pa.contains(buf) {
			t = heapCopy(t)
			outs[j] = t
		}
		unplanned.add(t)
	}
	return stray, ok
}

// slotOf finds the planned slot of output j of node i.
func slotOf(p *memplan.MemPlan, i, j int) (memplan.Slot, bool) {
	for _, s := range p.NodeSlots(i) {
		if s.Output == j {
			return s, true
		}
	}
	return memplan.Slot{}, false
}

// keepOutOfArena runs when a value named in Options.Keep is read for the
// last time (or was never read). The plan reuses its arena bytes from now
// on, so a kept value that is not a graph output (those live to the end of
// the plan) is copied to the heap.
func keepOutOfArena(pa *planAlloc, p *memplan.MemPlan, v *ir.Value, live map[*ir.Value]*ir.Tensor, mem, unplanned *liveBytes) {
	if pa == nil || isGraphOutput(p.Graph, v) {
		return
	}
	if t := live[v]; t != nil && pa.contains(bufferOf(t)) {
		c := heapCopy(t)
		mem.drop(t) // the arena bytes go to the next buffer planned there
		mem.add(c)
		unplanned.add(c)
		live[v] = c
	}
}

func isGraphOutput(g *ir.Graph, v *ir.Value) bool {
	for _, o := range g.Outputs {
		if o == v {
			return true
		}
	}
	return false
}
