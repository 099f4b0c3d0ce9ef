package cpu

import (
	"fmt"
	"math"
	"math/rand"
	"slices"
	"strings"
	"testing"

	"crsc/compiler/ir"
)

// The sampling kernels are checked as estimators: dŴ = Xsᵀ·G[idx] must
// average to Xᵀ·G over seeds (crs, wta), WTA must not have more variance
// than CRS, and everything must be a pure function of (seed, step, name).

func sNode(name string, keep float32, minRows int64, est string) *ir.Node {
	a := ir.Attrs{"keep": ir.FloatAttr(keep), "min_rows": ir.IntAttr(minRows)}
	if est != "" {
		a["estimator"] = ir.StringAttr(est)
	}
	return gNode("ai.crsc", "SampleRows", name, a)
}

// sRandX is a float32 [n, d] tensor of Gaussian rows, row i scaled by
// exp(spread·z_i): spread 0 gives flat row norms, 2 heavy-tailed ones.
func sRandX(r *rand.Rand, n, d int, spread float64) *ir.Tensor {
	x := ir.NewTensor(ir.Float32, n, d)
	for i := 0; i < n; i++ {
		s := math.Exp(spread * r.NormFloat64())
		for j := 0; j < d; j++ {
			x.F32[i*d+j] = float32(s * r.NormFloat64())
		}
	}
	return x
}

func sRandG(r *rand.Rand, n, m int) []float64 {
	g := make([]float64, n*m)
	for i := range g {
		g[i] = r.NormFloat64()
	}
	return g
}

// sProduct is Aᵀ·G[rows] = Σ_t A_tᵀ·G_{rows[t]} for A [k, d] float32 and
// G [N, m] (rows nil: the identity, so Xᵀ·G), in float64.
func sProduct(a *ir.Tensor, rows []int64, g []float64, m int) []float64 {
	k, d := a.Shape[0], a.Shape[1]
	out := make([]float64, d*m)
	for t := 0; t < k; t++ {
		gi := t
		if rows != nil {
			gi = int(rows[t])
		}
		for i := 0; i < d; i++ {
			xv := float64(a.F32[t*d+i])
			for j := 0; j < m; j++ {
				out[i*m+j] += xv * g[gi*m+j]
			}
		}
	}
	return out
}

func sRelErr(got, want []float64) float64 {
	num, den := 0.0, 0.0
	for i := range want {
		num += (got[i] - want[i]) * (got[i] - want[i])
		den += want[i] * want[i]
	}
	return math.Sqrt(num / den)
}

// sEstimates runs SampleRows over seeds 1..S and returns every dŴ.
func sEstimates(t *testing.T, n *ir.Node, x, gnorm *ir.Tensor, g []float64, m, S int) [][]float64 {
	t.Helper()
	ests := make([][]float64, S)
	for s := range ests {
		ins := []*ir.Tensor{x}
		if gnorm != nil {
			ins = append(ins, gnorm)
		}
		outs := gRun(t, &Ctx{Seed: uint64(s + 1), Step: 3, Threads: 1}, n, ins...)
		ests[s] = sProduct(outs[0], outs[1].I64, g, m)
	}
	return ests
}

func sMean(ests [][]float64) []float64 {
	mean := make([]float64, len(ests[0]))
	for _, e := range ests {
		for i, v := range e {
			mean[i] += v / float64(len(ests))
		}
	}
	return mean
}

// sRMSRel is the root mean square relative error of single estimates.
func sRMSRel(ests [][]float64, want []float64) float64 {
	sum := 0.0
	for _, e := range ests {
		r := sRelErr(e, want)
		sum += r * r
	}
	return math.Sqrt(sum / float64(len(ests)))
}

func TestSampleRowsExact(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	x := sRandX(r, 37, 6, 2)
	for _, c := range []struct {
		est  string
		keep float32
	}{{"wta", 1}, {"crs", 1}, {"topk", 1.5}, {"exact", 0.1}, {"wta", 0.1}} {
		// 0.1·37 → 3, lifted to min_rows; min_rows 40 ≥ N makes it exact.
		minRows := int64(10)
		if c.est == "wta" && c.keep < 1 {
			minRows = 40
		}
		outs := gRun(t, nil, sNode("s", c.keep, minRows, c.est), x)
		xs, idx := outs[0], outs[1]
		if !slices.Equal(xs.Shape, x.Shape) || !slices.Equal(idx.Shape, []int{37}) {
			t.Fatalf("%s keep %v: shapes %v %v", c.est, c.keep, xs.Shape, idx.Shape)
		}
		for i, v := range x.F32 {
			if math.Float32bits(v) != math.Float32bits(xs.F32[i]) {
				t.Fatalf("%s keep %v: Xs[%d] = %v, want %v bit for bit", c.est, c.keep, i, xs.F32[i], v)
			}
		}
		for i, v := range idx.I64 {
			if v != int64(i) {
				t.Fatalf("%s keep %v: idx[%d] = %d", c.est, c.keep, i, v)
			}
		}
	}
}

// TestSampleRowsFloat64: a float64 X holding the same values samples the
// same rows (norms and p are float64 either way) with the same weights.
func TestSampleRowsFloat64(t *testing.T) {
	r := rand.New(rand.NewSource(2))
	x32 := sRandX(r, 50, 3, 2)
	x64 := ir.NewTensor(ir.Float64, 50, 3)
	for i, v := range x32.F32 {
		x64.F64[i] = float64(v)
	}
	for _, est := range []string{"crs", "wta", "topk"} {
		n := sNode("f", 0.2, 1, est)
		a, b := gRun(t, &Ctx{Seed: 1}, n, x32), gRun(t, &Ctx{Seed: 1}, n, x64)
		if b[0].DType != ir.Float64 || !slices.Equal(a[1].I64, b[1].I64) {
			t.Fatalf("%s: float64 run gives %v rows %v, float32 %v", est, b[0].DType, b[1].I64, a[1].I64)
		}
		for i, v := range b[0].F64 {
			if float32(v) != a[0].F32[i] {
				t.Fatalf("%s: Xs[%d] float64 %v, float32 %v", est, i, v, a[0].F32[i])
			}
		}
	}
}

func TestSampleBudget(t *testing.T) {
	for _, c := range []struct {
		keep    float32
		minRows int64
		est     string
		n, want int64
	}{
		{0.3, 10, "wta", 12800, 3840},
		{0.7, 0, "wta", 10, 7}, // float32 0.7 is 0.69999999: still 7
		{0.1, 10, "wta", 64, 10},
		{0.1, 10, "crs", 5, 5},
		{0.1, 0, "crs", 5, 0},
		{2, 10, "topk", 50, 50},
		{0.1, 10, "exact", 500, 500},
		{0.3, 1, "wta", 0, 0},
	} {
		if got := ir.SampleBudget(c.keep, c.minRows, c.est, c.n); got != c.want {
			t.Errorf("SampleBudget(%v, %d, %s, %d) = %d, want %d", c.keep, c.minRows, c.est, c.n, got, c.want)
		}
	}
}

// TestSampleUnbiased: the mean of crs and wta estimates converges to Xᵀ·G
// like 1/√S; topk's does not move.
func TestSampleUnbiased(t *testing.T) {
	const N, d, m = 64, 5, 3
	r := rand.New(rand.NewSource(7))
	x := sRandX(r, N, d, 2)
	g := sRandG(r, N, m)
	exact := sProduct(x, nil, g, m)
	noise := 0.0 // the standard error of a mean of 4000 wta draws
	for _, est := range []string{"crs", "wta", "topk"} {
		ests := sEstimates(t, sNode("fc1", 0.1, 1, est), x, nil, g, m, 4000)
		e250, e4000 := sRelErr(sMean(ests[:250]), exact), sRelErr(sMean(ests), exact)
		t.Logf("%-4s relative error of the mean: S=250 %.4f, S=4000 %.4f (single draw %.3f)", est, e250, e4000, sRMSRel(ests, exact))
		if est == "topk" {
			// topk is deterministic: its mean is its single value.
			if e4000 < 0.99*e250 || e4000 < 5*noise {
				t.Errorf("topk should stay biased: error %.4f at S=250, %.4f at S=4000 (wta noise %.4f)", e250, e4000, noise)
			}
			continue
		}
		if est == "wta" {
			noise = sRMSRel(ests, exact) / math.Sqrt(4000)
		}
		if e4000 > 3*e250/4 || e4000 > 0.05 {
			t.Errorf("%s: error of the mean %.4f at S=250, %.4f at S=4000: not shrinking like 1/√S", est, e250, e4000)
		}
	}
}

// TestSampleVariance compares CRS and WTA-CRS (WTACRS.md §6: WTA roughly
// halves the error on heavy-tailed norms, gains little on flat ones), with
// ĝ = 1 (the none source) and with the oracle ĝ = ‖G_i‖.
func TestSampleVariance(t *testing.T) {
	const N, d, m, S = 256, 16, 8, 500
	for _, c := range []struct {
		name   string
		spread float64
		keep   float32
	}{{"heavy", 2, 0.1}, {"heavy", 2, 0.3}, {"flat", 0, 0.1}, {"flat", 0, 0.3}} {
		r := rand.New(rand.NewSource(11))
		x := sRandX(r, N, d, c.spread)
		g := sRandG(r, N, m)
		exact := sProduct(x, nil, g, m)
		gn := ir.NewTensor(ir.Float32, N)
		for i := 0; i < N; i++ {
			s := 0.0
			for j := 0; j < m; j++ {
				s += g[i*m+j] * g[i*m+j]
			}
			gn.F32[i] = float32(math.Sqrt(s))
		}
		for _, src := range []struct {
			name  string
			gnorm *ir.Tensor
		}{{"none", nil}, {"oracle", gn}} {
			crs := sRMSRel(sEstimates(t, sNode("fc", c.keep, 1, "crs"), x, src.gnorm, g, m, S), exact)
			wta := sRMSRel(sEstimates(t, sNode("fc", c.keep, 1, "wta"), x, src.gnorm, g, m, S), exact)
			t.Logf("%-5s k=%.1fN ĝ=%-6s: relative error CRS %.4f, WTA %.4f (WTA/CRS %.2f)", c.name, c.keep, src.name, crs, wta, wta/crs)
			switch {
			case c.name == "heavy" && wta > crs:
				t.Errorf("%s k=%.1fN ĝ=%s: WTA error %.4f above CRS %.4f", c.name, c.keep, src.name, wta, crs)
			case c.name == "flat" && (wta < 0.8*crs || wta > 1.2*crs):
				t.Errorf("%s k=%.1fN ĝ=%s: WTA error %.4f should be close to CRS %.4f", c.name, c.keep, src.name, wta, crs)
			}
		}
	}
}

func TestSampleDeterminism(t *testing.T) {
	r := rand.New(rand.NewSource(3))
	x := ir.NewTensor(ir.Float32, 64, 200, 8) // big enough for parallelFor to split
	copy(x.F32, sRandX(r, 64*200, 8, 1.5).F32)
	for _, est := range []string{"crs", "wta"} {
		n := sNode("attn.sample", 0.1, 10, est)
		run := func(seed, step uint64, threads int) []*ir.Tensor {
			return gRun(t, &Ctx{Seed: seed, Step: step, Threads: threads}, n, x)
		}
		a, b, c, d := run(5, 1, 1), run(5, 1, 4), run(5, 2, 4), run(6, 1, 4)
		if !slices.Equal(a[1].I64, b[1].I64) || !slices.Equal(a[0].F32, b[0].F32) {
			t.Errorf("%s: 1 and 4 threads differ", est)
		}
		if again := run(5, 1, 1); !slices.Equal(a[1].I64, again[1].I64) || !slices.Equal(a[0].F32, again[0].F32) {
			t.Errorf("%s: same seed/step/name differ", est)
		}
		if slices.Equal(a[1].I64, c[1].I64) || slices.Equal(a[1].I64, d[1].I64) {
			t.Errorf("%s: another step or seed gives the same rows", est)
		}
		other := gRun(t, &Ctx{Seed: 5, Step: 1}, sNode("other", 0.1, 10, est), x)
		if slices.Equal(a[1].I64, other[1].I64) {
			t.Errorf("%s: another node name gives the same rows", est)
		}
	}
}

// TestSampleGnorm: row 0 has a large ‖X‖ but ĝ = 0; the rest tiny ‖X‖ and
// ĝ = 1. Without gnorm row 0 takes nearly every draw; with it, the floor
// 1e-6·max ĝ puts it on a par with the others, so it is drawn sometimes.
func TestSampleGnorm(t *testing.T) {
	const N, d = 12, 2
	x := ir.NewTensor(ir.Float32, N, d)
	gn := ir.NewTensor(ir.Float32, N)
	x.F32[0] = 1
	for i := 1; i < N; i++ {
		x.F32[i*d] = 1e-6
		gn.F32[i] = 1
	}
	count := func(ins ...*ir.Tensor) int {
		hits := 0
		for seed := uint64(0); seed < 50; seed++ {
			outs := gRun(t, &Ctx{Seed: seed}, sNode("g", 0.5, 1, "crs"), ins...)
			for _, j := range outs[1].I64 {
				if j == 0 {
					hits++
				}
			}
		}
		return hits // out of 50·6 draws
	}
	without, with := count(x), count(x, gn)
	t.Logf("row 0 drawn %d/300 times without gnorm, %d/300 with", without, with)
	if without < 290 || with == 0 || with > 100 {
		t.Errorf("row 0 drawn %d/300 without gnorm (want ~all), %d/300 with (want ~1/12)", without, with)
	}
}

// TestSampleBatched: a [2, 3, N, d] input samples each of the 6 blocks
// independently with the same k; block 0 matches a plain [N, d] run.
func TestSampleBatched(t *testing.T) {
	const N, d = 40, 4
	r := rand.New(rand.NewSource(5))
	one := sRandX(r, N, d, 1)
	x := ir.NewTensor(ir.Float32, 2, 3, N, d)
	for b := 0; b < 6; b++ {
		copy(x.F32[b*N*d:], one.F32) // identical blocks: only the draws differ
	}
	n := sNode("attn", 0.25, 1, "crs")
	ctx := &Ctx{Seed: 9, Step: 4}
	outs := gRun(t, ctx, n, x)
	xs, idx := outs[0], outs[1]
	if !slices.Equal(xs.Shape, []int{2, 3, 10, d}) || !slices.Equal(idx.Shape, []int{2, 3, 10}) {
		t.Fatalf("shapes %v %v, want [2 3 10 4] [2 3 10]", xs.Shape, idx.Shape)
	}
	single := gRun(t, ctx, n, one)
	if !slices.Equal(single[1].I64, idx.I64[:10]) || !slices.Equal(single[0].F32, xs.F32[:10*d]) {
		t.Errorf("block 0 differs from the unbatched run")
	}
	distinct := map[string]bool{}
	for b := 0; b < 6; b++ {
		distinct[fmt.Sprint(idx.I64[b*10:(b+1)*10])] = true
		// Every kept row is a positive multiple of its block's row.
		for t2 := 0; t2 < 10; t2++ {
			j := int(idx.I64[b*10+t2])
			ratio := float64(xs.F32[(b*10+t2)*d]) / float64(one.F32[j*d])
			for c := 1; c < d; c++ {
				rc := float64(xs.F32[(b*10+t2)*d+c]) / float64(one.F32[j*d+c])
				if !(ratio > 0) || math.Abs(rc-ratio) > 1e-5*ratio {
					t.Fatalf("block %d slot %d is not a scaled row %d of X", b, t2, j)
				}
			}
		}
	}
	if len(distinct) < 5 {
		t.Errorf("blocks drew the same rows: %d distinct samples of 6", len(distinct))
	}
}

func TestGatherRowsAndRowNorms(t *testing.T) {
	x := gF64([]int{2, 3, 2}, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12)
	out := gRun(t, nil, gNode("ai.crsc", "GatherRows", "gr", nil), x, gI64([]int{2, 2}, 2, 2, 0, 1))
	if !slices.Equal(out[0].Shape, []int{2, 2, 2}) || !slices.Equal(out[0].F64, []float64{5, 6, 5, 6, 7, 8, 9, 10}) {
		t.Errorf("GatherRows = %v %v", out[0].Shape, out[0].F64)
	}
	norms := gRun(t, nil, gNode("ai.crsc", "RowNorms", "rn", nil), ir.FromFloat32([]int{2, 2}, []float32{3, 4, 0, 0}))
	if !slices.Equal(norms[0].Shape, []int{2}) || !slices.Equal(norms[0].F32, []float32{5, 0}) {
		t.Errorf("RowNorms = %v %v", norms[0].Shape, norms[0].F32)
	}

	for _, c := range []struct {
		op   string
		a    ir.Attrs
		ins  []*ir.Tensor
		want string
	}{
		{"GatherRows", nil, []*ir.Tensor{x, gI64([]int{2, 1}, 3, 0)}, "out of range"},
		{"GatherRows", nil, []*ir.Tensor{x, gI64([]int{2, 1}, 0, -1)}, "out of range"},
		{"GatherRows", nil, []*ir.Tensor{x, gI64([]int{3, 1}, 0, 0, 0)}, "does not match"},
		{"GatherRows", nil, []*ir.Tensor{x, gI64([]int{2}, 0, 0)}, "does not match"},
		{"GatherRows", nil, []*ir.Tensor{x}, "missing"},
		{"RowNorms", nil, []*ir.Tensor{gI64([]int{2}, 1, 2)}, "dtype"},
		{"SampleRows", ir.Attrs{}, []*ir.Tensor{x}, "keep"},
		{"SampleRows", ir.Attrs{"keep": ir.FloatAttr(0.5), "estimator": ir.StringAttr("best")}, []*ir.Tensor{x}, "estimator"},
		{"SampleRows", ir.Attrs{"keep": ir.FloatAttr(0.5)}, []*ir.Tensor{gF64([]int{3}, 1, 2, 3)}, "rank"},
		{"SampleRows", ir.Attrs{"keep": ir.FloatAttr(0.5)}, []*ir.Tensor{x, gF64([]int{3}, 1, 2, 3)}, "gnorm shape"},
		{"SampleRows", ir.Attrs{"keep": ir.FloatAttr(0.5)}, []*ir.Tensor{x, gF64([]int{2, 3}, 1, 2, 3, 4, -1, 0)}, "gnorm[4]"},
		{"SampleRows", ir.Attrs{"keep": ir.FloatAttr(0.5)}, []*ir.Tensor{gI64([]int{1, 2}, 1, 2)}, "dtype"},
		{"SampleRows", ir.Attrs{"keep": ir.FloatAttr(0.5)}, []*ir.Tensor{x, nil, gI64([]int{3}, 1, 0, 1)}, "mask shape"},
	} {
		_, err := gTry(nil, gNode("ai.crsc", c.op, "node_7", c.a), c.ins...)
		if err == nil || !strings.Contains(err.Error(), `"node_7"`) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %v: error %v, want one naming node_7 and saying %q", c.op, c.a, err, c.want)
		}
	}
}

func TestSampleInfer(t *testing.T) {
	val := func(dt ir.DType, s ir.Shape) *ir.Value {
		v := &ir.Value{Name: "v"}
		v.SetType(dt, s)
		return v
	}
	batch, seq := ir.Symbol("batch"), ir.Symbol("seq")
	for _, c := range []struct {
		op    string
		a     ir.Attrs
		ins   []*ir.Value
		nOut  int
		want  []string
		error bool
	}{
		{"SampleRows", ir.Attrs{"keep": ir.FloatAttr(0.3)}, []*ir.Value{val(ir.Float32, ir.StaticShape(128, 768))}, 2,
			[]string{"[38,768]", "[38]"}, false},
		{"SampleRows", ir.Attrs{"keep": ir.FloatAttr(0.1)}, []*ir.Value{val(ir.Float32, ir.Shape{batch, ir.Fixed(12), ir.Fixed(64), ir.Fixed(64)})}, 2,
			[]string{"[batch,12,10,64]", "[batch,12,10]"}, false},
		{"SampleRows", ir.Attrs{"keep": ir.FloatAttr(0.3)}, []*ir.Value{val(ir.Float32, ir.Shape{batch.Mul(seq), ir.Fixed(768)})}, 2,
			[]string{"[?,768]", "[?]"}, false},
		{"SampleRows", ir.Attrs{"keep": ir.FloatAttr(0.3), "estimator": ir.StringAttr("exact")}, []*ir.Value{val(ir.Float32, ir.Shape{seq, ir.Fixed(768)})}, 2,
			[]string{"[seq,768]", "[seq]"}, false},
		{"SampleRows", ir.Attrs{"keep": ir.FloatAttr(0.3)}, []*ir.Value{val(ir.Float32, ir.StaticShape(8, 4)), val(ir.Float32, ir.StaticShape(9))}, 2, nil, true},
		{"SampleRows", ir.Attrs{}, []*ir.Value{val(ir.Float32, ir.StaticShape(8, 4))}, 2, nil, true},
		{"GatherRows", nil, []*ir.Value{val(ir.Float32, ir.Shape{batch, ir.Fixed(128), ir.Fixed(64)}), val(ir.Int64, ir.Shape{batch, ir.Fixed(38)})}, 1,
			[]string{"[batch,38,64]"}, false},
		{"GatherRows", nil, []*ir.Value{val(ir.Float32, ir.StaticShape(2, 128, 64)), val(ir.Int64, ir.StaticShape(3, 38))}, 1, nil, true},
		{"RowNorms", nil, []*ir.Value{val(ir.Float32, ir.Shape{batch, ir.Fixed(12), seq, ir.Fixed(64)})}, 1,
			[]string{"[batch,12,seq]"}, false},
	} {
		n := &ir.Node{Name: "n", Op: c.op, Domain: "ai.crsc", Attrs: c.a, Inputs: c.ins}
		for i := 0; i < c.nOut; i++ {
			n.Outputs = append(n.Outputs, &ir.Value{Name: "o"})
		}
		err := ir.InferNode(n)
		if c.error {
			if err == nil {
				t.Errorf("%s %v: no error", c.op, c.a)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s %v: %v", c.op, c.a, err)
			continue
		}
		for i, w := range c.want {
			if got := n.Outputs[i].Shape.String(); got != w {
				t.Errorf("%s %v output %d: %s, want %s", c.op, c.a, i, got, w)
			}
		}
		if c.op == "SampleRows" && n.Outputs[1].DType != ir.Int64 {
			t.Errorf("idx dtype %v", n.Outputs[1].DType)
		}
	}
}
