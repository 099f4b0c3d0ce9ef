package ir

import "testing"

// TestInferPermutedMatMul: ai.crsc.MatMul's permA/permB permute an
// operand's dims before transA/transB swap its last two, and permY
// permutes the result, as the Transposes they replace would.
func TestInferPermutedMatMul(t *testing.T) {
	g := NewGraph("g", 17)
	q := g.AddInput("q", Float32, StaticShape(2, 3, 4, 5)) // [batch, seq, heads, dim]
	for _, tc := range []struct {
		name  string
		attrs Attrs
		want  string
		fails bool
	}{
		{"scores", Attrs{"permA": IntsAttr(0, 2, 1, 3), "permB": IntsAttr(0, 2, 3, 1)}, "[2,4,3,3]", false},
		{"scores via transB", Attrs{"permA": IntsAttr(0, 2, 1, 3), "permB": IntsAttr(0, 2, 1, 3), "transB": IntAttr(1)}, "[2,4,3,3]", false},
		{"merged back", Attrs{"permA": IntsAttr(0, 2, 1, 3), "permB": IntsAttr(0, 2, 3, 1), "permY": IntsAttr(0, 2, 1, 3)}, "[2,3,4,3]", false},
		{"perm of the wrong rank", Attrs{"permA": IntsAttr(0, 1, 2)}, "", true},
		{"perm out of range", Attrs{"permY": IntsAttr(0, 1, 2, 9)}, "", true},
	} {
		n := crscNode(g, "MatMul", []*Value{q, q}, 1, tc.attrs)
		err := InferNode(n)
		switch {
		case tc.fails && err == nil:
			t.Errorf("%s: no error", tc.name)
		case !tc.fails && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case !tc.fails:
			wantShape(t, tc.name, n.Outputs[0], Float32, tc.want)
		}
	}
}
