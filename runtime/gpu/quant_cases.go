package gpu

import (
	"fmt"
	"math"
	"math/rand"

	"crsc/compiler/ir"
	"crsc/runtime/cpu"
)

// quantCases check the 8-bit stash kernels bit for bit against the CPU
// (Tol 0): rows shorter and longer than a block, a ragged last word, rows
// of zeros, a NaN and an infinity, a subnormal largest value (whose
// inverse scale overflows), and DequantizeRows of the CPU's own codes.
func quantCases() []Case {
	r := rand.New(rand.NewSource(41))
	special := nnRandF32(r, -3, 3, 6, 37)
	for j := range 37 {
		special.F32[j] = 0 // row 0: zeros
	}
	special.F32[37+5] = float32(math.NaN())
	special.F32[2*37+9] = float32(math.Inf(-1))
	for j := range 37 {
		special.F32[3*37+j] = float32(j) * 1e-45 // row 3: subnormals only
	}
	q := func(name string, x *ir.Tensor) Case {
		return Case{"QuantizeRows/" + name, nnNode("q", nnCrsc, "QuantizeRows", nil), []*ir.Tensor{x}, 0}
	}
	cases := []Case{
		q("3x5", nnRandF32(r, -2, 2, 3, 5)),
		q("2x3x300", nnRandF32(r, -50, 50, 2, 3, 300)),
		q("special", special),
		q("1x1", nnRandF32(r, -1, 1, 1, 1)),
	}
	for _, x := range []*ir.Tensor{nnRandF32(r, -4, 4, 5, 33), special} {
		codes, scale := cpuQuantize(x)
		cases = append(cases, Case{fmt.Sprintf("DequantizeRows/%v", x.Shape), nnNode("d", nnCrsc, "DequantizeRows", nil),
			[]*ir.Tensor{codes, scale}, 0})
	}
	return cases
}

// cpuQuantize is the CPU backend's QuantizeRows of x: the codes and scales
// DequantizeRows's cases start from.
func cpuQuantize(x *ir.Tensor) (codes, scale *ir.Tensor) {
	k, _ := cpu.Lookup(nnCrsc, "QuantizeRows")
	outs, err := k(nil, nnNode("q", nnCrsc, "QuantizeRows", nil), []*ir.Tensor{x})
	if err != nil {
		panic(fmt.Sprintf("gpu: quantCases: %v", err))
	}
	return outs[0], outs[1]
}
