package gpu

import (
	"embed"
	"fmt"
	"strings"
	"sync"

	"crsc/compiler/ir"
	"crsc/runtime/cuda"
)

// kernel computes one node on the device. ins may be host or device
// tensors (a nil entry is an omitted optional input); c.device uploads a
// host one. Outputs must be device tensors from c.out or c.zeros (or views
// made by c.view), in the node's output order: a memory plan places them
// by that order. A kernel that cannot handle its inputs (a dtype it has no
// code for) returns errFallback and the node runs on the CPU instead.
type kernel func(c *ctx, n *ir.Node, ins []*ir.Tensor) ([]*ir.Tensor, error)

// errFallback is what a kernel returns to have its node run by the CPU
// kernel instead (which then also produces the same errors as the CPU
// backend for inputs neither supports).
var errFallback = fmt.Errorf("no GPU code for these inputs")

// kernelSource is one .cu file (the prelude is prepended by the device),
// compiled once per device on first use and kept for the process.
type kernelSource struct {
	name, code string

	mu   sync.Mutex
	mods map[cuda.Device]cuda.Module
}

//go:embed kernels
var kernelFiles embed.FS

// sources lists every kernel file of the backend (newSource adds each), so
// that a self-test can compile them all up front instead of discovering a
// broken one when the first node that needs it runs.
var sources []*kernelSource

// newSource declares the kernel file kernels/name, compiled after the
// headers (kernels/*.cuh) it needs; nothing is compiled until a launch.
func newSource(name string, headers ...string) *kernelSource {
	var code strings.Builder
	for _, f := range append(headers, name) {
		b, err := kernelFiles.ReadFile("kernels/" + f)
		if err != nil {
			panic(err) // a name without its file: every test fails at init
		}
		code.Write(b)
	}
	s := &kernelSource{name: name, code: code.String(), mods: map[cuda.Device]cuda.Module{}}
	sources = append(sources, s)
	return s
}

// module compiles s for dev, once.
func (s *kernelSource) module(dev cuda.Device) (cuda.Module, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m, ok := s.mods[dev]; ok {
		return m, nil
	}
	m, err := dev.Compile(s.name, s.code)
	if err != nil {
		return nil, fmt.Errorf("compiling %s: %w", s.name, err)
	}
	s.mods[dev] = m
	return m, nil
}

// ctx is what a kernel sees of the backend while one node runs.
type ctx struct {
	b *Backend
	n *ir.Node
}

func (c *ctx) dev() cuda.Device { return c.b.dev }

// seed, step and forceEval key Dropout masks and sampling exactly as
// cpu.Ctx does, so that GPU and CPU draw the same random numbers.
func (c *ctx) seed() uint64    { return c.b.opt.Seed }
func (c *ctx) step() uint64    { return c.b.opt.Step }
func (c *ctx) forceEval() bool { return c.b.opt.ForceEval }

// out returns a device tensor for an output of the node (its planned slot
// when a memory plan has one of this dtype and size, else a pool block).
// Its contents are undefined. Ask for outputs in output order.
func (c *ctx) out(dt ir.DType, shape []int) (*ir.Tensor, error) {
	return c.b.mem.output(dt, shape)
}

// zeros is out with the contents zeroed.
func (c *ctx) zeros(dt ir.DType, shape []int) (*ir.Tensor, error) {
	t, err := c.out(dt, shape)
	if err != nil {
		return nil, err
	}
	if err := c.zero(t); err != nil {
		c.b.mem.release(t)
		return nil, err
	}
	return t, nil
}

// zero sets every byte of device tensor t to 0.
func (c *ctx) zero(t *ir.Tensor) error {
	d := dataOf(t)
	if d == nil || d.bytes == 0 {
		return nil
	}
	return c.b.dev.Zero(c.ptr(t), d.bytes)
}

// scratch returns a temporary device tensor (never a planned slot, so it
// cannot take an output's place); call free once done with it. Its
// contents are undefined.
func (c *ctx) scratch(dt ir.DType, shape []int) (*ir.Tensor, func(), error) {
	t, err := c.b.mem.pooled(dt, shape)
	if err != nil {
		return nil, nil, err
	}
	return t, func() { c.b.mem.release(t) }, nil
}

// device returns t on the device: t itself when it is already there, else
// its upload (a host tensor is copied once per run and must not change
// during the run).
func (c *ctx) device(t *ir.Tensor) (*ir.Tensor, error) {
	if t == nil || t.Device != nil {
		return t, nil
	}
	return c.b.mem.upload(t)
}

// host returns a host copy of t (t itself when it is on the host). Meant
// for small control tensors (shapes, axes, ratios): the copy synchronizes.
func (c *ctx) host(t *ir.Tensor) (*ir.Tensor, error) {
	if t == nil || t.Device == nil {
		return t, nil
	}
	return c.b.mem.toHost(t)
}

// eachTensor returns f(t) for every t of ts (c.device or c.host: all of a
// kernel's inputs on one side), stopping at the first error.
func eachTensor(ts []*ir.Tensor, f func(*ir.Tensor) (*ir.Tensor, error)) ([]*ir.Tensor, error) {
	out := make([]*ir.Tensor, len(ts))
	for i, t := range ts {
		var err error
		if out[i], err = f(t); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// view returns a tensor sharing t's device storage under shape (which must
// hold the same number of elements): Reshape and friends cost no copy.
func (c *ctx) view(t *ir.Tensor, shape []int) (*ir.Tensor, error) {
	d, err := c.device(t)
	if err != nil {
		return nil, err
	}
	if ir.NumElements(shape) != d.Len() {
		return nil, fmt.Errorf("view of %v as %v changes the element count", d.Shape, shape)
	}
	return c.b.mem.view(d, shape), nil
}

// ptr is the address of device tensor t's first element (0 for an empty
// tensor). Passing a host tensor is a bug: it panics, and Run reports the
// panic as the node's error.
func (c *ctx) ptr(t *ir.Tensor) cuda.Ptr {
	d := dataOf(t)
	if d == nil {
		panic(fmt.Sprintf("ptr of host tensor %v%v: upload it with c.device first", t.DType, t.Shape))
	}
	if d.buf == nil {
		return 0
	}
	return d.buf.ptr + cuda.Ptr(d.off)
}

// meta returns a device array holding vals (shapes, strides), cached by
// content for the backend's lifetime: kernels read it instead of taking a
// long list of scalar parameters.
func (c *ctx) meta(vals ...int64) (cuda.Ptr, error) { return c.b.mem.meta(vals) }

// blockSize is the thread count of 1-D launches.
const blockSize = 256

// launch runs kernel name of src over a 1-D grid with at least n threads
// in blocks of 256; kernels check their index against n. Nothing runs
// when n is 0.
func (c *ctx) launch(src *kernelSource, name string, n int, args ...any) error {
	if n <= 0 {
		return nil
	}
	grid, block := cuda.Grid1D(n, blockSize)
	return c.launchGrid(src, name, grid, block, 0, args...)
}

// launchGrid runs kernel name of src with an explicit launch shape and
// dynamic shared memory size.
func (c *ctx) launchGrid(src *kernelSource, name string, grid, block cuda.Dim3, shared uint32, args ...any) error {
	m, err := src.module(c.b.dev)
	if err != nil {
		return err
	}
	if err := c.b.dev.Launch(m, name, grid, block, shared, args...); err != nil {
		return fmt.Errorf("%s/%s: %w", src.name, name, err)
	}
	return nil
}

// gemm runs a (batched) float32 matrix product on the device.
func (c *ctx) gemm(g cuda.GemmArgs) error { return c.b.dev.Gemm(g) }
