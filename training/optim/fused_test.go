package optim

import (
	"math"
	"math/rand/v2"
	"testing"

	"crsc/compiler/ir"
	"crsc/internal/testutil"
	"crsc/runtime"
)

// TestFusedMatchesGraph holds the fused in-place update to the optimizer
// graph's bits: parameters and both moments, over several steps, with and
// without averaging and clipping, on one and two goroutines, on every
// kernel this machine has (the assembly ones and the Go loop).
func TestFusedMatchesGraph(t *testing.T) {
	forPaths(t, func(path string) {
		t.Run(path, testFusedMatchesGraph)
	})
}

func testFusedMatchesGraph(t *testing.T) {
	cases := []struct {
		name    string
		cfg     AdamWConfig
		opt     UpdateOptions
		threads int
	}{
		{"defaults", DefaultAdamWConfig(), UpdateOptions{}, 1},
		{"no decay", AdamWConfig{Beta1: 0.9, Beta2: 0.999, Eps: 1e-8}, UpdateOptions{}, 2},
		{"average over 3", AdamWConfig{Beta1: 0.8, Beta2: 0.95, Eps: 1e-6, WeightDecay: 0.1}, UpdateOptions{AverageOver: 3}, 2},
		{"clipped", DefaultAdamWConfig(), UpdateOptions{ClipNorm: 0.05}, 2},
		{"averaged and clipped", DefaultAdamWConfig(), UpdateOptions{AverageOver: 2, ClipNorm: 0.05}, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(7, 8))
			infos := testInfos()
			// One tensor spans several fused chunks.
			infos = append(infos, ParamInfo{Name: "big.weight", DType: ir.Float32, Shape: []int{3, chunkElems/2 + 5}, Decay: true})
			params := map[string]*ir.Tensor{}
			ref := map[string]*ir.Tensor{}
			for _, info := range infos {
				params[info.Name] = randTensor(rng, info.Shape, 1)
				ref[info.Name] = params[info.Name].Clone()
			}
			refM, refV := map[string]*ir.Tensor{}, map[string]*ir.Tensor{}
			for _, info := range infos {
				refM[info.Name] = ir.NewTensor(ir.Float32, info.Shape...)
				refV[info.Name] = ir.NewTensor(ir.Float32, info.Shape...)
			}
			opt, err := NewAdamW(params, infos, tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			opt.Options.Threads = tc.threads
			for step, lr := range []float32{1e-2, 3e-3, 2e-2} {
				grads := make([]*ir.Tensor, len(infos))
				for i, info := range infos {
					grads[i] = randTensor(rng, info.Shape, 0.1)
				}
				norm, err := opt.Update(grads, lr, tc.opt)
				if err != nil {
					t.Fatal(err)
				}
				// The reference: the host loops the trainer used to run
				// (average, norm, clip, written back), then the graph.
				var sq float64
				scaled := make([]*ir.Tensor, len(grads))
				for i, g := range grads {
					scaled[i] = g.Clone()
					for j := range scaled[i].F32 {
						if tc.opt.AverageOver > 1 {
							scaled[i].F32[j] /= float32(tc.opt.AverageOver)
						}
						sq += float64(scaled[i].F32[j]) * float64(scaled[i].F32[j])
					}
				}
				wantNorm := math.Sqrt(sq)
				if math.Abs(norm-wantNorm) > 1e-12*wantNorm {
					t.Fatalf("step %d: norm %.17g, want %.17g", step+1, norm, wantNorm)
				}
				if tc.opt.ClipNorm > 0 && norm > tc.opt.ClipNorm {
					s := float32(tc.opt.ClipNorm / (norm + 1e-6))
					for _, g := range scaled {
						for j := range g.F32 {
							g.F32[j] *= s
						}
					}
				}
				in := map[string]*ir.Tensor{LearningRateInput: ir.ScalarF32(lr), StepInput: ir.FromInt64([]int{}, []int64{int64(step + 1)})}
				for i, info := range infos {
					in[info.Name], in[GradName(info.Name)] = ref[info.Name], scaled[i]
					in[ExpAvgName(info.Name)], in[ExpAvgSqName(info.Name)] = refM[info.Name], refV[info.Name]
				}
				out := testutil.Run(t, opt.Graph(), in, runtime.Options{})
				state := opt.State()
				for _, info := range infos {
					ref[info.Name] = out[UpdatedName(info.Name)]
					refM[info.Name] = out[UpdatedName(ExpAvgName(info.Name))]
					refV[info.Name] = out[UpdatedName(ExpAvgSqName(info.Name))]
					for _, c := range []struct {
						what      string
						got, want *ir.Tensor
					}{{"param", params[info.Name], ref[info.Name]}, {"exp_avg", state[ExpAvgName(info.Name)], refM[info.Name]}, {"exp_avg_sq", state[ExpAvgSqName(info.Name)], refV[info.Name]}} {
						for j, w := range c.want.F32 {
							if math.Float32bits(c.got.F32[j]) != math.Float32bits(w) {
								t.Fatalf("step %d %s %s[%d]: fused %g, graph %g", step+1, info.Name, c.what, j, c.got.F32[j], w)
							}
						}
					}
				}
			}
		})
	}
}

// TestSumSquaresDeterministic: the norm does not depend on the thread count.
func TestSumSquaresDeterministic(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	ts := []*ir.Tensor{randTensor(rng, []int{5 * chunkElems / 2}, 1), randTensor(rng, []int{3}, 1), randTensor(rng, []int{chunkElems + 1}, 1)}
	a, b := SumSquares(ts, 1, 1), SumSquares(ts, 1, 2)
	if a != b {
		t.Fatalf("1 thread %v, 2 threads %v", a, b)
	}
}
