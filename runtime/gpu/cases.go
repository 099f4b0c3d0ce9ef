package gpu

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"crsc/compiler/ir"
	"crsc/runtime"
	"crsc/runtime/cuda"
)

// Case is one single-node check of a GPU kernel against the CPU kernel of
// the same op (the oracle). The tests run every case on the emulator, and
// `crsc selftest --device cuda` runs them on a real GPU. A case whose Name
// contains "falls back" must take the CPU fallback (a dtype or input the
// GPU kernel leaves to the CPU); every other case must run on the GPU
// alone, which the tests check (CheckStats), so that a kernel wrongly
// giving up cannot pass unnoticed.
type Case struct {
	Name   string
	Node   *ir.Node
	Inputs []*ir.Tensor // host tensors; nil entries are omitted inputs
	// Tol bounds |gpu − cpu| for float outputs, relative to |cpu| where
	// that exceeds 1; integer and bool outputs must match exactly.
	Tol float64
}

// Cases returns the checks of the generic ops (this package), of the
// neural-network and training ops (nnCases) and of the 8-bit stash ops (quantCases).
func Cases() []Case {
	return slices.Concat(coreCases(), nnCases(), quantCases())
}

// checkSeed and checkStep key the random ops of a check on both backends.
const checkSeed, checkStep = 7, 3

// Check runs c's node on the CPU backend and on a fresh Backend of dev, and
// compares every output. The error names the worst element.
func Check(dev cuda.Device, c Case) error {
	_, err := CheckStats(dev, c)
	return err
}

// CheckStats is Check, also returning the Stats of the GPU backend (to
// see whether the node fell back) and failing a case whose fallback does
// not match its name (see Case).
func CheckStats(dev cuda.Device, c Case) (Stats, error) {
	want, err := runtime.CPU(runtime.Options{Seed: checkSeed, Step: checkStep}).Run(c.Node, c.Inputs)
	if err != nil {
		return Stats{}, fmt.Errorf("%s: cpu: %w", c.Name, err)
	}
	b, err := New(dev, Options{Seed: checkSeed, Step: checkStep})
	if err != nil {
		return Stats{}, fmt.Errorf("%s: %w", c.Name, err)
	}
	defer b.Close()
	got, err := b.Run(c.Node, c.Inputs)
	if err != nil {
		return Stats{}, fmt.Errorf("%s: gpu: %w", c.Name, err)
	}
	st := b.Stats()
	if fell, want := len(st.Fallbacks) > 0, strings.Contains(c.Name, "falls back"); fell != want {
		return st, fmt.Errorf("%s: fell back to the CPU: %v, expected %v (Stats.Fallbacks %v)", c.Name, fell, want, st.Fallbacks)
	}
	return st, compareAll(b, c, got, want)
}

// compareAll compares the GPU outputs with the CPU ones.
func compareAll(b *Backend, c Case, got, want []*ir.Tensor) error {
	if len(got) < len(want) {
		return fmt.Errorf("%s: gpu gave %d outputs, cpu %d", c.Name, len(got), len(want))
	}
	for j, w := range want {
		g := got[j]
		if (w == nil) != (g == nil) {
			return fmt.Errorf("%s: output %d: cpu produced it: %v, gpu: %v", c.Name, j, w != nil, g != nil)
		}
		if w == nil {
			continue
		}
		if g.Device == nil {
			return fmt.Errorf("%s: output %d is a host tensor: GPU kernels return device tensors", c.Name, j)
		}
		h, err := b.ToHost(g)
		if err != nil {
			return fmt.Errorf("%s: output %d: %w", c.Name, j, err)
		}
		if err := compare(h, w, c.Tol); err != nil {
			return fmt.Errorf("%s: output %d: %w", c.Name, j, err)
		}
	}
	return nil
}

// compare checks got against want (the CPU result).
func compare(got, want *ir.Tensor, tol float64) error {
	if got.DType != want.DType {
		return fmt.Errorf("dtype %v, want %v", got.DType, want.DType)
	}
	if !slices.Equal(got.Shape, want.Shape) {
		return fmt.Errorf("shape %v, want %v", got.Shape, want.Shape)
	}
	if want.DType == ir.Int64 {
		for i, w := range want.I64 {
			if got.I64[i] != w {
				return fmt.Errorf("element %d (index %v): got %d, want %d", i, ir.Unravel(i, want.Shape), got.I64[i], w)
			}
		}
		return nil
	}
	worst, at := -1.0, -1
	var gv, wv float64
	for i := 0; i < want.Len(); i++ {
		g, w := elemAt(got, i), elemAt(want, i)
		var d float64
		switch {
		case math.IsNaN(g) || math.IsNaN(w):
			if math.IsNaN(g) != math.IsNaN(w) {
				d = math.Inf(1)
			}
		case math.IsInf(w, 0) || math.IsInf(g, 0):
			if g != w {
				d = math.Inf(1)
			}
		default:
			d = math.Abs(g - w)
			if want.DType.IsFloat() {
				d /= max(1, math.Abs(w))
			}
		}
		if d > worst {
			worst, at, gv, wv = d, i, g, w
		}
	}
	limit := tol
	if !want.DType.IsFloat() {
		limit = 0
	}
	if worst > limit {
		return fmt.Errorf("element %d (index %v): got %v, want %v (diff %.3g > %.3g)",
			at, ir.Unravel(at, want.Shape), gv, wv, worst, limit)
	}
	return nil
}

// elemAt reads element i of a host tensor as float64 (exact for the
// integers tests use; bools as 0/1).
func elemAt(t *ir.Tensor, i int) float64 {
	if t.DType == ir.Bool {
		if t.Bool[i] {
			return 1
		}
		return 0
	}
	return t.Float64At(i)
}
