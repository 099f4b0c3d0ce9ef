package passes_test

import (
	"math"
	"math/rand"
	"strings"
	"testing"

	"crsc/compiler/ir"
	"crsc/compiler/passes"
	"crsc/internal/testutil"
	"crsc/runtime"
)

// loraBert compiles the tiny BERT with rank-4 adapters on every linear
// layer (B set to fixed random values, as after some training: at B = 0
// the adapter-A gradient is exactly 0) for the VJP of its logits.
func loraBert(t *testing.T, sampling passes.SamplingSpec) (*ir.Graph, *passes.Training) {
	t.Helper()
	g := loadTinyBert(t)
	spec := passes.TrainingSpec{Loss: passes.LossSpec{Kind: passes.LossVJP, Output: "logits"}, Memory: true, Sampling: sampling,
		LoRA: passes.LoRASpec{Rank: 4, Targets: `query|key|value|dense`, Seed: 3}}
	tr, err := passes.Compile(g, spec)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewSource(7))
	for _, v := range g.Inits {
		if strings.HasSuffix(v.Name, ".lora_B") {
			for i := range v.Init.F32 {
				v.Init.F32[i] = float32(0.1 * r.NormFloat64())
			}
		}
	}
	return g, tr
}

// TestLoRAAdapterGradientsUnbiased: with LoRA, WTA-CRS samples X for the
// adapter down-projection's gradient dA = Xᵀ·(G·Bᵀ); averaged over seeds
// the sampled dA converges to the exact one like 1/√S.
func TestLoRAAdapterGradientsUnbiased(t *testing.T) {
	ge, tre := loraBert(t, passes.SamplingSpec{})
	gs, trs := loraBert(t, passes.SamplingSpec{Estimator: "wta", Keep: 0.3, Layers: "auto"})
	sampled := map[string]bool{}
	for _, d := range trs.Layers {
		if d.Sampled {
			sampled[d.Weight] = true
		}
	}
	if len(sampled) == 0 {
		t.Fatal("no adapter sampled")
	}
	feeds := tinyBertFeeds(13)
	exact := testutil.Run(t, ge, feeds, runtime.Options{})
	var want []float64
	for _, pg := range tre.Trained {
		if sampled[pg.Param.Name] {
			for _, v := range exact[pg.Grad.Name].F32 {
				want = append(want, float64(v))
			}
		}
	}
	relErrOfMean := func(seeds int) float64 {
		mean := make([]float64, len(want))
		for s := 0; s < seeds; s++ {
			res := testutil.Run(t, gs, feeds, runtime.Options{Seed: uint64(s + 1)})
			i := 0
			for _, pg := range trs.Trained {
				if sampled[pg.Param.Name] {
					for _, v := range res[pg.Grad.Name].F32 {
						mean[i] += float64(v) / float64(seeds)
						i++
					}
				}
			}
		}
		var num, den float64
		for i := range want {
			num += (mean[i] - want[i]) * (mean[i] - want[i])
			den += want[i] * want[i]
		}
		return math.Sqrt(num / den)
	}
	e16, e256 := relErrOfMean(16), relErrOfMean(256)
	t.Logf("%d sampled adapters; relative error of the mean: 16 seeds %.4f, 256 seeds %.4f (ratio %.2f, 1/√S predicts 4)", len(sampled), e16, e256, e16/e256)
	if e16/e256 < 2.5 {
		t.Errorf("adapter gradients do not converge like 1/√S: %.4f → %.4f", e16, e256)
	}
}
