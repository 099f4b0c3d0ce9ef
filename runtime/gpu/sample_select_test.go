package gpu

import (
	"fmt"
	"math"
	"math/rand"
	"testing"

	"crsc/compiler/ir"
	"crsc/runtime/cpu"
	"crsc/runtime/rng"
)

// TestSelectRowsMatchesCPU checks, without any device, that the host
// selection (fed norms computed as the device does:
// float64 sums of squares in column order, then math.Sqrt) picks the same
// rows with the same weights as runtime/cpu's SampleRows, over many random
// inputs, estimators, budgets and steps, with and without ĝ (zeros and
// tiny values among it) and a padding mask. The weights are compared
// through Xs, which both write as float32(weight·x).
func TestSelectRowsMatchesCPU(t *testing.T) {
	k, ok := cpu.Lookup("ai.crsc", "SampleRows")
	if !ok {
		t.Fatal("no CPU SampleRows")
	}
	r := rand.New(rand.NewSource(11))
	for trial := 0; trial < 200; trial++ {
		B, N, d := 1+r.Intn(3), 1+r.Intn(60), 1+r.Intn(6)
		est := []string{"wta", "crs", "topk"}[r.Intn(3)]
		keep := float32(r.Float64())
		minRows := int64(r.Intn(12))
		x := nnRandF32(r, -1, 1, B, N, d)
		for i := 0; i < B*N; i++ { // a few heavy rows and some zero ones
			switch r.Intn(8) {
			case 0:
				for j := 0; j < d; j++ {
					x.F32[i*d+j] *= 30
				}
			case 1:
				for j := 0; j < d; j++ {
					x.F32[i*d+j] = 0
				}
			}
		}
		var gnorm, mask *ir.Tensor
		if r.Intn(2) == 0 {
			gnorm = nnRandF32(r, 0, 2, B, N)
			for i := range gnorm.F32 { // zeros and tiny values: floored rows
				switch r.Intn(6) {
				case 0:
					gnorm.F32[i] = 0
				case 1:
					gnorm.F32[i] = 1e-9
				}
			}
		}
		var real []bool
		if r.Intn(2) == 0 { // padding: the last rows of some blocks
			mask = ir.FromInt64([]int{B, N}, make([]int64, B*N))
			for b := 0; b < B; b++ {
				n := r.Intn(N + 1)
				for i := 0; i < N; i++ {
					if i < n {
						mask.I64[b*N+i] = 1
					}
					real = append(real, i < n)
				}
			}
		}
		seed, step := r.Uint64(), uint64(r.Intn(100))
		name := fmt.Sprintf("sample%d", trial)
		n := nnNode(name, nnCrsc, "SampleRows", ir.Attrs{"keep": ir.FloatAttr(keep),
			"min_rows": ir.IntAttr(minRows), "estimator": ir.StringAttr(est)})
		want, err := k(&cpu.Ctx{Seed: seed, Step: step}, n, []*ir.Tensor{x, gnorm, mask})
		if err != nil {
			t.Fatal(err)
		}
		kk := int(ir.SampleBudget(keep, minRows, est, int64(N)))
		if kk == N {
			continue // the exact path selects nothing
		}
		norms := make([]float64, B*N)
		for i := range norms {
			s := 0.0
			for _, v := range x.F32[i*d : (i+1)*d] {
				s += float64(v) * float64(v)
			}
			norms[i] = math.Sqrt(s)
		}
		var g []float64
		if gnorm != nil {
			for _, v := range gnorm.F32 {
				g = append(g, float64(v))
			}
		}
		stream := rng.StreamOf(name)
		idx, weight := selectRows(est, norms, g, real, B, N, kk, func(i uint64) uint64 {
			return rng.Uint64(seed, step, stream, i)
		})
		for i, v := range idx {
			if v != want[1].I64[i] {
				t.Fatalf("trial %d (%s, B=%d N=%d k=%d): idx[%d] = %d, cpu %d", trial, est, B, N, kk, i, v, want[1].I64[i])
			}
		}
		for row := range idx {
			b := row / kk
			for j := 0; j < d; j++ {
				got := float32(0)
				if weight[row] != 0 {
					got = float32(weight[row] * float64(x.F32[(b*N+int(idx[row]))*d+j]))
				}
				if w := want[0].F32[row*d+j]; math.Float32bits(got) != math.Float32bits(w) {
					t.Fatalf("trial %d: xs[%d, %d] = %v, cpu %v", trial, row, j, got, w)
				}
			}
		}
	}
}
