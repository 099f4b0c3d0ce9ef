package device

import (
	"fmt"
	"strings"

	"crsc/compiler/ir"
	"crsc/compiler/memplan"
	"crsc/runtime"
	"crsc/runtime/cuda"
	"crsc/runtime/cuda/emu"
	"crsc/runtime/gpu"
)

// Names lists the values --device accepts.
const Names = "cpu, cuda, auto or emu"

// Device is an opened runtime.
type Device struct {
	Name string      // "cpu", "cuda" or "emu"
	GPU  cuda.Device // nil for the CPU
	// Note explains a choice the caller should show: --device auto found
	// no GPU and fell back to the CPU.
	Note string
}

// Open opens the runtime name picks. cuda fails with the reason when no
// GPU or library is found; auto then falls back to the CPU.
func Open(name string) (*Device, error) {
	switch name {
	case "", "cpu":
		return &Device{Name: "cpu"}, nil
	case "cuda", "auto":
		d, err := cuda.Open(0)
		if err == nil {
			return &Device{Name: "cuda", GPU: d}, nil
		}
		if name == "auto" {
			return &Device{Name: "cpu", Note: fmt.Sprintf("--device auto: no GPU (%v); running on the CPU", err)}, nil
		}
		return nil, &openError{"--device cuda: " + strings.TrimPrefix(err.Error(), "cuda: "), err}
	case "emu":
		d, err := emu.Open()
		if err != nil {
			return nil, fmt.Errorf("--device emu: %w", err)
		}
		return &Device{Name: "emu", GPU: d}, nil
	}
	return nil, fmt.Errorf("--device %q: want %s", name, Names)
}

// openError is cuda.Open's error reworded for --device, still unwrapping
// to it (so errors.As finds a *cuda.NotFoundError).
type openError struct {
	msg string
	err error
}

func (e *openError) Error() string { return e.msg }
func (e *openError) Unwrap() error { return e.err }

// Backend returns a backend for one execution with opt's seed and step.
// On a GPU, plan (if any) lays the node outputs out in one device arena;
// the backend must be closed after the run (close does that, and is a
// no-op for the CPU).
func (d *Device) Backend(opt runtime.Options, plan *memplan.MemPlan) (b runtime.Backend, close func(), err error) {
	if d.GPU == nil {
		return runtime.CPU(opt), func() {}, nil
	}
	gb, err := gpu.New(d.GPU, gpu.Options{Seed: opt.Seed, Step: opt.Step, ForceEval: opt.ForceEval, Plan: plan})
	if err != nil {
		return nil, nil, err
	}
	return gb, func() { gb.Close() }, nil
}

// Run executes g once on the device, like runtime.Run on the CPU.
func (d *Device) Run(g *ir.Graph, inputs map[string]*ir.Tensor, opt runtime.Options) (map[string]*ir.Tensor, error) {
	if d == nil || d.GPU == nil {
		return runtime.Run(g, inputs, opt)
	}
	b, done, err := d.Backend(opt, nil)
	if err != nil {
		return nil, err
	}
	defer done()
	return runtime.Execute(g, b, inputs, opt)
}

// Close releases the GPU, if any.
func (d *Device) Close() error {
	if d == nil || d.GPU == nil {
		return nil
	}
	return d.GPU.Close()
}

// String is what a progress line shows: "cpu", or the GPU's name and
// architecture.
func (d *Device) String() string {
	if d.GPU == nil {
		return d.Name
	}
	return fmt.Sprintf("%s: %s", d.Name, d.GPU.Info())
}
