package passes_test

import (
	"math"
	"math/rand"
	"path/filepath"
	"testing"

	"crsc/compiler/ir"
	"crsc/compiler/passes"
	"crsc/internal/testenv"
	"crsc/internal/testutil"
	"crsc/runtime"
)

// TestSharedExportsDirectionalDerivative checks the whole backward graph of
// the third-party exports cheaply: for a random direction v over all
// parameters, vᵀ∇L must match (L(θ+hv) − L(θ−hv)) / 2h computed with the
// forward pass alone, where L = Σ output ⊙ u for a random cotangent u.
func TestSharedExportsDirectionalDerivative(t *testing.T) {
	dir := filepath.Join("..", "..", "..", "shared", "models")
	testenv.NeedFile(t, dir)
	for _, tc := range []struct {
		file, output string
		vocab        int
		inputs       []string
	}{
		{"hf_bert_tiny_tribuo.onnx", "output_1", 1656, []string{"input_ids", "attention_mask", "token_type_ids"}},
		{"hf_distilbert_tiny_seqcls.onnx", "logits", 30522, []string{"input_ids", "attention_mask"}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			r := rand.New(rand.NewSource(7))
			batch, seq := 2, 9
			feeds := map[string]*ir.Tensor{}
			for _, name := range tc.inputs {
				v := make([]int64, batch*seq)
				for i := range v {
					switch name {
					case "input_ids":
						v[i] = int64(1 + r.Intn(tc.vocab-1))
					case "attention_mask":
						v[i] = 1
						if i >= batch*seq-3 { // pad the end of the last row
							v[i] = 0
						}
					}
				}
				feeds[name] = ir.FromInt64([]int{batch, seq}, v)
			}
			g := testutil.LoadFile(t, filepath.Join(dir, tc.file), map[string]ir.Shape{"input_ids": ir.StaticShape(batch, seq)})
			trained, err := trainedParams(g, passes.TrainingSpec{Loss: passes.LossSpec{Kind: passes.LossVJP, Output: tc.output}})
			if err != nil {
				t.Fatal(err)
			}
			out := g.Value(tc.output)
			dims, _ := out.Shape.Ints()
			u := ir.NewTensor(ir.Float32, dims...)
			for i := range u.F32 {
				u.F32[i] = float32(r.NormFloat64())
			}
			feeds[tc.output+"_cotangent"] = u
			res := testutil.Run(t, g, feeds, runtime.Options{})
			// A random unit direction over every trained parameter.
			dirs := map[*ir.Value][]float32{}
			var norm2, analytic float64
			for _, pg := range trained {
				d := make([]float32, pg.Param.Init.Len())
				for i := range d {
					d[i] = float32(r.NormFloat64())
					norm2 += float64(d[i]) * float64(d[i])
				}
				dirs[pg.Param] = d
			}
			scale := 1 / math.Sqrt(norm2)
			for _, pg := range trained {
				grad := res[pg.Grad.Name]
				for i, d := range dirs[pg.Param] {
					analytic += float64(d) * scale * grad.Float64At(i)
				}
			}
			shift := func(h float64) float64 {
				for p, d := range dirs {
					for i := range d {
						p.Init.F32[i] += float32(h * scale * float64(d[i]))
					}
				}
				res := testutil.Run(t, g, feeds, runtime.Options{})
				return res[passes.LossName].Float64At(0)
			}
			const h = 1e-2
			up := shift(h)
			down := shift(-2 * h)
			shift(h)
			fd := (up - down) / (2 * h)
			t.Logf("%d parameters: vᵀ∇ = %.6g, finite difference = %.6g", len(trained), analytic, fd)
			if math.Abs(fd-analytic) > 1e-2*math.Max(math.Abs(fd), 1e-3) {
				t.Fatalf("directional derivative %.6g, finite difference %.6g", analytic, fd)
			}
		})
	}
}
