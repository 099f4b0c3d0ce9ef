package cpu

import (
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
