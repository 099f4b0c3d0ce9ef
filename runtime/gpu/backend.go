package gpu

import (
	"errors"
	"fmt"
	goruntime "runtime"
	"sync"

	"crsc/compiler/ir"
	"crsc/compiler/memplan"
	"crsc/runtime"
	"crsc/runtime/cpu"
	"crsc/runtime/cuda"
)

// Options configure a Backend.
type Options struct {
	// Seed and Step key Dropout masks and sampling, as runtime.Options.
	Seed, Step uint64
	// ForceEval turns every Dropout into the identity.
	ForceEval bool
	// Plan, when set, places node outputs in one device arena at the
	// offsets the plan chose (memplan.Plan of the graph this backend will
	// execute, with static shapes), allocated once by New.
	Plan *memplan.MemPlan
	// KeepUploads keeps host tensors (weights, constant inputs) on the
	// device from one run to the next for as long as each run reads them,
	// so a benchmark or inference loop copies them once. The caller must
	// not change those host tensors between runs (a training loop whose
	// optimizer updates the weights on the host must leave this off).
	KeepUploads bool
}

// Stats reports what a Backend did since New.
type Stats struct {
	// ArenaBytes is the planned arena (0 without a plan).
	ArenaBytes int64
	// PoolHighWater is the most pool bytes handed out at once (outputs
	// outside the arena, scratch, uploads); PeakDeviceBytes the most
	// device memory held at once (arena, pool including idle blocks, and
	// launch metadata).
	PoolHighWater, PeakDeviceBytes int64
	// Fallbacks counts, per op ("Op" or "domain.Op"), the nodes that ran
	// on the CPU for want of a GPU kernel.
	Fallbacks map[string]int
	// HostOps counts the nodes of ops that run on the host by design
	// (Constant, Range: a few scalars), their results uploaded.
	HostOps map[string]int
	// Misplaced counts, per op, the planned outputs a kernel did not
	// allocate in their slot (c.out in output order avoids it), which
	// then cost a device copy into the slot.
	Misplaced map[string]int
	// Uploads is the bytes of host tensors (inputs, weights) copied to the
	// device; FallbackBytes those copied both ways for fallbacks.
	Uploads, FallbackBytes int64
}

// Backend runs nodes on a CUDA device. It is a runtime.DeviceBackend: pass
// it to runtime.Execute. One Backend serves one execution at a time.
type Backend struct {
	dev cuda.Device
	opt Options
	mem *memory
	cpu *cpu.Ctx

	mu            sync.Mutex
	fallbacks     map[string]int
	hostOps       map[string]int
	misplaced     map[string]int
	fallbackBytes int64
}

var _ runtime.DeviceBackend = (*Backend)(nil)

// New returns a backend on dev (which the caller keeps and closes after
// the backend). With opt.Plan the arena is allocated here.
func New(dev cuda.Device, opt Options) (*Backend, error) {
	if dev == nil {
		return nil, errors.New("gpu.New: no device")
	}
	b := &Backend{dev: dev, opt: opt, mem: newMemory(dev, opt.KeepUploads), fallbacks: map[string]int{}, hostOps: map[string]int{}, misplaced: map[string]int{}}
	b.cpu = &cpu.Ctx{Seed: opt.Seed, Step: opt.Step, ForceEval: opt.ForceEval, Threads: goruntime.GOMAXPROCS(0)}
	if err := b.mem.setPlan(opt.Plan, 0); err != nil {
		return nil, err
	}
	return b, nil
}

// SetStep changes the step that keys Dropout masks and sampling (one
// backend serves every step of a training loop).
func (b *Backend) SetStep(step uint64) {
	b.opt.Step = step
	b.cpu.Step = step
}

// SetRun sets what keys the next run's random numbers, and whether its
// Dropouts are the identity (evaluation), for a backend that serves a
// whole training run.
func (b *Backend) SetRun(seed, step uint64, forceEval bool) {
	b.opt.Seed, b.opt.Step, b.opt.ForceEval = seed, step, forceEval
	b.cpu.Seed, b.cpu.Step, b.cpu.ForceEval = seed, step, forceEval
}

// SetPlan makes p (a plan of the graph the next runs execute) place the
// node outputs, in an arena of at least reserve bytes, reused while large
// enough.
func (b *Backend) SetPlan(p *memplan.MemPlan, reserve int64) error {
	b.opt.Plan = p
	return b.mem.setPlan(p, reserve)
}

func (b *Backend) Name() string { return "cuda" }

// Device is the device the backend runs on.
func (b *Backend) Device() cuda.Device { return b.dev }

// Supports reports whether the op runs, on the GPU or through the CPU
// fallback.
func (b *Backend) Supports(domain, op string) bool {
	if _, ok := lookup(domain, op); ok {
		return true
	}
	_, ok := cpu.Lookup(domain, op)
	return ok
}

// OnDevice reports whether the op has a GPU kernel (no fallback).
func (b *Backend) OnDevice(domain, op string) bool {
	_, ok := lookup(domain, op)
	return ok
}

// StartNode is called by the executor before node i runs; node 0 starts a
// new run, which frees the previous run's uploads (with KeepUploads, those
// it did not read).
func (b *Backend) StartNode(i int) {
	if i == 0 {
		b.mem.endRun()
	}
	b.mem.startNode(i)
}

// Release drops t's reference to its device storage.
func (b *Backend) Release(t *ir.Tensor) { b.mem.release(t) }

// ToHost returns a host copy of t (t itself when on the host).
func (b *Backend) ToHost(t *ir.Tensor) (*ir.Tensor, error) { return b.mem.toHost(t) }

// Run computes n on the device, or on the CPU when the op has no GPU
// kernel. Outputs are device tensors.
func (b *Backend) Run(n *ir.Node, ins []*ir.Tensor) (outs []*ir.Tensor, err error) {
	defer func() {
		if e := b.mem.endNode(); e != nil && err == nil {
			b.releaseAll(outs)
			outs, err = nil, e
		}
	}()
	if k, ok := lookup(n.Domain, n.Op); ok {
		kouts, kerr := k(&ctx{b: b, n: n}, n, ins)
		if kerr == nil {
			return b.place(n, kouts)
		}
		if !errors.Is(kerr, errFallback) {
			return nil, kerr
		}
		b.releaseAll(kouts)
		b.mem.unclaim()
	}
	outs, err = b.fallback(n, ins)
	if err != nil {
		return nil, err
	}
	return b.place(n, outs)
}

// releaseAll drops the outputs of a kernel that gave up.
func (b *Backend) releaseAll(ts []*ir.Tensor) {
	for _, t := range ts {
		b.mem.release(t)
	}
}

// fallback runs n's CPU kernel: inputs come to the host, outputs go back.
func (b *Backend) fallback(n *ir.Node, ins []*ir.Tensor) ([]*ir.Tensor, error) {
	k, ok := cpu.Lookup(n.Domain, n.Op)
	if !ok {
		return nil, fmt.Errorf("node %q: no kernel for %s", n.Name, kernelKey(n.Domain, n.Op))
	}
	var moved int64
	host := make([]*ir.Tensor, len(ins))
	for i, t := range ins {
		h, err := b.mem.toHost(t)
		if err != nil {
			return nil, fmt.Errorf("node %q: input %d to host: %w", n.Name, i, err)
		}
		if t != nil && t.Device != nil {
			moved += dataOf(t).bytes
		}
		host[i] = h
	}
	outs, err := k(b.cpu, n, host)
	if err != nil {
		return nil, err
	}
	dev := make([]*ir.Tensor, len(outs))
	for j, h := range outs {
		if h == nil {
			continue
		}
		d, err := b.mem.output(h.DType, h.Shape)
		if err == nil {
			err = b.mem.copyIn(d, h)
		}
		if err != nil {
			b.releaseAll(dev)
			return nil, fmt.Errorf("node %q: output %d to device: %w", n.Name, j, err)
		}
		moved += dataOf(d).bytes
		dev[j] = d
	}
	b.mu.Lock()
	b.fallbacks[kernelKey(n.Domain, n.Op)]++
	b.fallbackBytes += moved
	b.mu.Unlock()
	return dev, nil
}

// countHostOp records a node run on the host by design (hostKernel).
func (b *Backend) countHostOp(op string) {
	b.mu.Lock()
	b.hostOps[op]++
	b.mu.Unlock()
}

// place makes every output that the plan gave a slot sit in that slot, as
// runtime's placeOutputs does for the CPU: a kernel may have asked for its
// outputs in another order, or returned a view where the plan expected new
// storage. Each slot is node i's own and overlaps none of its inputs, but
// an output sitting in another output's slot must move aside first.
func (b *Backend) place(n *ir.Node, outs []*ir.Tensor) ([]*ir.Tensor, error) {
	m := b.mem
	if len(m.slots) == 0 {
		return outs, nil
	}
	at := func(t *ir.Tensor, s memplan.Slot) bool {
		d := dataOf(t)
		return d != nil && d.buf == m.arena && d.off == s.Offset
	}
	slotFor := func(j int) (memplan.Slot, bool) {
		for _, s := range m.slots {
			if s.Output == j {
				return s, true
			}
		}
		return memplan.Slot{}, false
	}
	for j, t := range outs {
		s, ok := slotFor(j)
		if d := dataOf(t); !ok || d == nil || d.buf != m.arena || at(t, s) {
			continue
		}
		c, err := m.pooled(t.DType, t.Shape)
		if err == nil {
			err = b.copyDevice(c, t)
		}
		if err != nil {
			return nil, fmt.Errorf("node %q: moving output %d: %w", n.Name, j, err)
		}
		outs[j] = c
	}
	for j, t := range outs {
		s, ok := slotFor(j)
		if !ok || t == nil || at(t, s) || storageBytes(t.DType, t.Shape) != s.Bytes {
			continue
		}
		a := m.arenaTensor(s, t.DType, t.Shape)
		if err := b.copyDevice(a, t); err != nil {
			return nil, fmt.Errorf("node %q: placing output %d: %w", n.Name, j, err)
		}
		m.release(t)
		outs[j] = a
		b.mu.Lock()
		b.misplaced[kernelKey(n.Domain, n.Op)]++
		b.mu.Unlock()
	}
	return outs, nil
}

// copyDevice copies device tensor src into dst (same byte size).
func (b *Backend) copyDevice(dst, src *ir.Tensor) error {
	dd, sd := dataOf(dst), dataOf(src)
	if sd == nil {
		return b.mem.copyIn(dst, src)
	}
	if dd.bytes != sd.bytes {
		return fmt.Errorf("device copy of %d bytes into %d", sd.bytes, dd.bytes)
	}
	if dd.bytes == 0 {
		return nil
	}
	return b.dev.CopyDevice(dd.buf.ptr+cuda.Ptr(dd.off), sd.buf.ptr+cuda.Ptr(sd.off), dd.bytes)
}

// Stats returns what the backend did so far.
func (b *Backend) Stats() Stats {
	b.mu.Lock()
	fb := copyCounts(b.fallbacks)
	s := Stats{Fallbacks: fb, HostOps: copyCounts(b.hostOps), Misplaced: copyCounts(b.misplaced),
		FallbackBytes: b.fallbackBytes}
	b.mu.Unlock()
	m := b.mem
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.arena != nil {
		s.ArenaBytes = m.arena.size
	}
	s.PoolHighWater, s.PeakDeviceBytes, s.Uploads = m.poolHigh, m.peak, m.uploadBytes
	return s
}

func copyCounts(m map[string]int) map[string]int {
	c := make(map[string]int, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// Close frees the backend's device memory (not the device). Tensors it
// made must not be used afterwards.
func (b *Backend) Close() error { return b.mem.close() }
