package gpu

import (
	"math"
	"math/rand/v2"
	"testing"

	"crsc/compiler/ir"
	"crsc/training/optim"
)

// TestAdamWMatchesCPU: the device's fused AdamW, gradient accumulation and
// sum of squares give the CPU's bits (optim.AdamWInPlace, optim.SumSquares)
// on resident parameters and moments, which Download brings back.
func TestAdamWMatchesCPU(t *testing.T) {
	b, err := New(device(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	rng := rand.New(rand.NewPCG(5, 6))
	randT := func(n int, scale float64) *ir.Tensor {
		x := ir.NewTensor(ir.Float32, n)
		for i := range x.F32 {
			x.F32[i] = float32(rng.NormFloat64() * scale)
		}
		return x
	}
	sizes := []int{1, 7, 3*sumsqChunk/2 + 3}
	var params, m, v, grads, devGrads []*ir.Tensor
	for _, n := range sizes {
		params = append(params, randT(n, 1))
		m, v = append(m, randT(n, 0.01)), append(v, ir.NewTensor(ir.Float32, n))
		for i := range v[len(v)-1].F32 {
			v[len(v)-1].F32[i] = float32(rng.Float64() * 1e-4)
		}
		// Two micro-batches: the device sums them as the host does.
		g1, g2 := randT(n, 0.1), randT(n, 0.1)
		d, err := b.NewTensor([]int{n})
		if err != nil {
			t.Fatal(err)
		}
		for _, g := range []*ir.Tensor{g1, g2} {
			up, err := b.mem.upload(g)
			if err != nil {
				t.Fatal(err)
			}
			if err := b.AddInto(d, up); err != nil {
				t.Fatal(err)
			}
		}
		sum := g1.Clone()
		for i := range sum.F32 {
			sum.F32[i] += g2.F32[i]
		}
		grads, devGrads = append(grads, sum), append(devGrads, d)
	}
	cpuP, cpuM, cpuV := clones(params), clones(m), clones(v)
	for _, set := range [][]*ir.Tensor{params, m, v} {
		for _, x := range set {
			if err := b.Resident(x); err != nil {
				t.Fatal(err)
			}
		}
	}
	sq, err := b.SumSquares(devGrads, 2)
	if err != nil {
		t.Fatal(err)
	}
	if want := optim.SumSquares(grads, 2, 1); sq != want {
		t.Fatalf("sum of squares: device %.17g, cpu %.17g", sq, want)
	}
	x, _ := optim.ClipTransform(sq, optim.UpdateOptions{AverageOver: 2, ClipNorm: 0.5})
	if !x.Clip {
		t.Fatal("the test wants clipping on")
	}
	s := optim.DefaultAdamWConfig().StepScalars(1e-3, 3)
	decay := []bool{false, true, true}
	if err := b.AdamW(params, devGrads, m, v, decay, s, x); err != nil {
		t.Fatal(err)
	}
	for i := range sizes {
		optim.AdamWInPlace(cpuP[i].F32, grads[i].F32, cpuM[i].F32, cpuV[i].F32, s, decay[i], x)
	}
	for _, set := range []struct {
		name      string
		dev, want []*ir.Tensor
	}{{"param", params, cpuP}, {"exp_avg", m, cpuM}, {"exp_avg_sq", v, cpuV}} {
		for i, h := range set.dev {
			if err := b.Download(h); err != nil {
				t.Fatal(err)
			}
			for j, w := range set.want[i].F32 {
				if math.Float32bits(h.F32[j]) != math.Float32bits(w) {
					t.Fatalf("%s %d[%d]: device %g, cpu %g", set.name, i, j, h.F32[j], w)
				}
			}
		}
	}
}

func clones(ts []*ir.Tensor) []*ir.Tensor {
	out := make([]*ir.Tensor, len(ts))
	for i, t := range ts {
		out[i] = t.Clone()
	}
	return out
}
