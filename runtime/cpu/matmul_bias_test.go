package cpu

import (
	"fmt"
	"math/rand"
	"slices"
	"testing"

	"crsc/compiler/ir"
)

// TestMatMulBias: ai.crsc.MatMul's bias input gives, bit for bit, the
// product followed by an Add, on the fused tall GEMM and on the forms the
// kernel adds the bias to afterwards (batched B, an empty depth).
func TestMatMulBias(t *testing.T) {
	r := rand.New(rand.NewSource(6))
	for _, tc := range []struct {
		name   string
		a, b   []int
		transB bool
	}{
		{"tall", []int{2, 13, 40}, []int{40, 37}, false},
		{"tall transB", []int{2, 13, 40}, []int{37, 40}, true},
		{"batched B", []int{2, 13, 40}, []int{2, 40, 37}, false},
		{"empty depth", []int{3, 0}, []int{0, 37}, false},
	} {
		at := attrs{}
		if tc.transB {
			at["transB"] = ir.IntAttr(1)
		}
		a, b, bias := fkRand(r, 1, tc.a...), fkRand(r, 1, tc.b...), fkRand(r, 1, 37)
		prod, err := fkRunAlloc(nil, crscDomain, "MatMul", at, a, b)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		want, err := fkRunAlloc(nil, "", "Add", nil, prod[0], bias)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		got, err := fkRunAlloc(junkAlloc{}, crscDomain, "MatMul", at, a, b, bias)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if !slices.Equal(memBits(got[0]), memBits(want[0])) {
			t.Errorf("%s: MatMul with a bias differs from MatMul + Add", tc.name)
		}
	}
}

// TestMatMulEpilogue: every fused epilogue of ai.crsc.MatMul (bias,
// activation, residual, alone and together) gives, bit for bit, the
// product followed by the standalone ops, on the tall GEMM (with full and
// edge tiles) and on the batched form that applies it afterwards.
func TestMatMulEpilogue(t *testing.T) {
	r := rand.New(rand.NewSource(7))
	type op struct {
		domain, name string
		at           attrs
	}
	acts := map[string]op{
		"gelu":      {msDomain, "Gelu", nil},
		"gelu_tanh": {"", "Gelu", attrs{"approximate": ir.StringAttr("tanh")}},
		"relu":      {"", "Relu", nil},
		"":          {},
	}
	for _, shape := range []struct {
		name string
		a, b []int
	}{
		{"tall", []int{2, 30, 96}, []int{96, 100}},
		{"batched B", []int{2, 13, 40}, []int{2, 40, 37}},
	} {
		for _, act := range []string{"", "gelu", "gelu_tanh", "relu"} {
			for _, withBias := range []bool{false, true} {
				for _, withRes := range []bool{false, true} {
					if act == "" && !withBias && !withRes {
						continue
					}
					name := fmt.Sprintf("%s act=%q bias=%v residual=%v", shape.name, act, withBias, withRes)
					nn := shape.b[len(shape.b)-1]
					a, b, bias := fkRand(r, 1, shape.a...), fkRand(r, 3, shape.b...), fkRand(r, 1, nn)
					out, err := fkRunAlloc(nil, crscDomain, "MatMul", nil, a, b)
					if err != nil {
						t.Fatalf("%s: %v", name, err)
					}
					want := out[0]
					res := fkRand(r, 1, want.Shape...)
					fused := []*ir.Tensor{a, b, nil, nil}
					steps := []func() ([]*ir.Tensor, error){}
					if withBias {
						fused[2] = bias
						steps = append(steps, func() ([]*ir.Tensor, error) { return fkRunAlloc(nil, "", "Add", nil, want, bias) })
					}
					if act != "" {
						o := acts[act]
						steps = append(steps, func() ([]*ir.Tensor, error) { return fkRunAlloc(nil, o.domain, o.name, o.at, want) })
					}
					if withRes {
						fused[3] = res
						steps = append(steps, func() ([]*ir.Tensor, error) { return fkRunAlloc(nil, "", "Add", nil, want, res) })
					}
					for _, step := range steps {
						out, err := step()
						if err != nil {
							t.Fatalf("%s: %v", name, err)
						}
						want = out[0]
					}
					at := attrs{}
					if act != "" {
						at["activation"] = ir.StringAttr(act)
					}
					got, err := fkRunAlloc(junkAlloc{}, crscDomain, "MatMul", at, fused...)
					if err != nil {
						t.Fatalf("%s: %v", name, err)
					}
					if !slices.Equal(memBits(got[0]), memBits(want)) {
						t.Errorf("%s: the fused MatMul differs from the separate ops", name)
					}
				}
			}
		}
	}
}

// TestMatMulEpilogueRefused: a residual or bias of the wrong shape and an
// unknown activation are errors naming the node, not wrong answers.
func TestMatMulEpilogueRefused(t *testing.T) {
	r := rand.New(rand.NewSource(8))
	a, b := fkRand(r, 1, 4, 8), fkRand(r, 1, 8, 5)
	for _, tc := range []struct {
		name string
		at   attrs
		ins  []*ir.Tensor
	}{
		{"unknown activation", attrs{"activation": ir.StringAttr("swish")}, []*ir.Tensor{a, b}},
		{"residual shape", nil, []*ir.Tensor{a, b, nil, fkRand(r, 1, 4, 4)}},
		{"bias length", nil, []*ir.Tensor{a, b, fkRand(r, 1, 4)}},
	} {
		if _, err := fkRunAlloc(nil, crscDomain, "MatMul", tc.at, tc.ins...); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
}
