package cpu

import (
	"math"
	"math/rand"
	"slices"
	"testing"

	"crsc/compiler/ir"
)

// junkAlloc hands out outputs the way a planned arena does: OutputUninit
// returns a slot still holding a dead tensor's data (NaN here), Output a
// cleared one.
type junkAlloc struct{}

func (junkAlloc) Output(dt ir.DType, shape []int) *ir.Tensor  { return ir.NewTensor(dt, shape...) }
func (junkAlloc) Scratch(dt ir.DType, shape []int) *ir.Tensor { return ir.NewTensor(dt, shape...) }
func (junkAlloc) OutputUninit(dt ir.DType, shape []int) *ir.Tensor {
	t := ir.NewTensor(dt, shape...)
	for i := range t.F32 {
		t.F32[i] = float32(math.NaN())
	}
	for i := range t.F64 {
		t.F64[i] = math.NaN()
	}
	return t
}

// TestUninitOutputs: the kernels that take their output slot uncleared
// write every element of it, so a slot full of junk gives the same bits as
// a cleared one (odd sizes leave SIMD remainders; broadcasts split rows).
func TestUninitOutputs(t *testing.T) {
	r := rand.New(rand.NewSource(4))
	x, y := fkRand(r, 1, 3, 5, 37), fkRand(r, 1, 3, 5, 37)
	row, col := fkRand(r, 1, 37), fkRand(r, 1, 3, 5, 1)
	scale, bias := fkRand(r, 1, 37), fkRand(r, 1, 37)
	ln := attrs{"axis": ir.IntAttr(-1), "epsilon": ir.FloatAttr(1e-5)}
	ratio := ir.FromFloat32(nil, []float32{0.3})
	train := &ir.Tensor{DType: ir.Bool, Bool: []bool{true}}
	lnOut, err := fkRunAlloc(nil, crscDomain, "LayerNormalization", ln, x, scale, bias)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, domain, op string
		a                attrs
		ins              []*ir.Tensor
	}{
		{"Add", "", "Add", nil, []*ir.Tensor{x, y}},
		{"Add row bias", "", "Add", nil, []*ir.Tensor{row, x}},
		{"Sub column", "", "Sub", nil, []*ir.Tensor{x, col}},
		{"Mul", "", "Mul", nil, []*ir.Tensor{x, y}},
		{"Div scalar", "", "Div", nil, []*ir.Tensor{x, ir.FromFloat32(nil, []float32{8})}},
		{"Softmax", "", "Softmax", attrs{"axis": ir.IntAttr(-1)}, []*ir.Tensor{x}},
		{"Gelu", msDomainTest, "Gelu", nil, []*ir.Tensor{x}},
		{"GeluGrad", crscDomain, "GeluGrad", nil, []*ir.Tensor{y, x}},
		{"LayerNormalization", crscDomain, "LayerNormalization", ln, []*ir.Tensor{x, scale, bias}},
		{"LayerNormalizationGrad", crscDomain, "LayerNormalizationGrad", ln, []*ir.Tensor{y, x, scale, lnOut[1], lnOut[2]}},
		{"LayerNormalizationGradFromOutput", crscDomain, "LayerNormalizationGradFromOutput", ln, []*ir.Tensor{y, lnOut[0], scale, bias, lnOut[2]}},
		{"Dropout", "", "Dropout", nil, []*ir.Tensor{x, ratio, train}},
		{"DropoutMaskGrad", crscDomain, "DropoutMaskGrad", attrs{"forward_node": ir.StringAttr("d")}, []*ir.Tensor{y, ratio, train}},
		{"Transpose heads", "", "Transpose", attrs{"perm": ir.IntsAttr(0, 2, 1)}, []*ir.Tensor{x}},
		{"Transpose odd sizes", "", "Transpose", attrs{"perm": ir.IntsAttr(0, 2, 1)}, []*ir.Tensor{fkRand(r, 1, 2, 33, 17)}},
	} {
		want, err := fkRunAlloc(nil, tc.domain, tc.op, tc.a, tc.ins...)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		got, err := fkRunAlloc(junkAlloc{}, tc.domain, tc.op, tc.a, tc.ins...)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		for i := range want {
			if want[i] != nil && !slices.Equal(memBits(got[i]), memBits(want[i])) {
				t.Errorf("%s output %d: an uncleared slot changes the result", tc.name, i)
			}
		}
	}
}

const msDomainTest = "com.microsoft"

// fkRunAlloc runs one kernel on 2 threads with the given allocator.
func fkRunAlloc(a Allocator, domain, op string, at attrs, in ...*ir.Tensor) ([]*ir.Tensor, error) {
	k, ok := Lookup(domain, op)
	if !ok {
		return nil, errf(&ir.Node{Op: op}, "no kernel %s:%s", domain, op)
	}
	ctx := &Ctx{Threads: 2, Seed: 7, Step: 3, Alloc: a}
	return k(ctx, &ir.Node{Name: "u_" + op, Op: op, Domain: domain, Attrs: at}, in)
}
