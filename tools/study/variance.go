package study

import (
	"fmt"
	"math"
	"slices"

	"crsc/compiler/ir"
	"crsc/runtime/cpu"
)

// Sources are the ĝ ≈ ‖G_i‖ sources compared. oracle (the true ‖G_i‖ of
// the current step, unknown at forward time in real training) is the upper
// bound of what any source can do.
var Sources = []string{"none", "ema", "cache", "oracle"}

// Estimators are the sampled estimators compared (WTACRS.md §4).
var Estimators = []string{"wta", "crs", "topk"}

// minRows is the budget floor k ≥ min_rows of WTACRS.md §2.
const minRows = 10

// Case is one layer at one snapshot step, one keep ratio and one ĝ source.
type Case struct {
	Layer  string  `json:"layer"`
	Group  string  `json:"group"`
	Step   int     `json:"step"`
	Keep   float64 `json:"keep"`
	Source string  `json:"source"`
	Rows   int     `json:"rows"`   // N = batch·seq
	GRows  int     `json:"g_rows"` // rows with G ≠ 0
	K      int     `json:"k"`      // rows kept
	// CStar is the number of winners WTA's rule takes with p from this ĝ,
	// and PCStar their probability mass P_{c*}. Condition reports the
	// paper's condition, P_c > c/k for some 1 ≤ c < k, which holds exactly
	// when c* > 0 (otherwise wta is plain crs).
	CStar     int     `json:"c_star"`
	PCStar    float64 `json:"p_c_star"`
	Condition bool    `json:"condition"`
	// Errors by estimator.
	Errors map[string]Error `json:"errors"`
}

// Error is one estimator's relative error ‖dŴ − dW‖_F / ‖dW‖_F.
type Error struct {
	// RMS over the repeats (Monte Carlo, the SampleRows kernel with seeds
	// 1..Repeats).
	RMS float64 `json:"rms"`
	// Expected is the same quantity in closed form from p: the square root
	// of E‖dŴ − dW‖² / ‖dW‖². RMS estimates it.
	Expected float64 `json:"expected"`
	// OfMean is the relative error of the mean of the Repeats estimates.
	// An unbiased estimator's shrinks like RMS/√Repeats; a biased one's
	// stays (topk: every repeat is the same estimate).
	OfMean float64 `json:"of_mean"`
	// MSEStdErr is the standard error of the Monte Carlo mean of
	// ‖dŴ − dW‖²/‖dW‖² (whose square root is RMS).
	MSEStdErr float64 `json:"mse_std_err"`
	Repeats   int     `json:"repeats"`
	// Deterministic: every repeat returned the same rows and scales.
	Deterministic bool `json:"deterministic"`
	// Biased: OfMean did not shrink below half of RMS over the repeats;
	// an unbiased estimator's OfMean ≈ RMS/√Repeats.
	Biased bool `json:"biased"`
}

// gram holds what the error of any reweighting of X's rows needs. With
// a_i = x_iᵀ g_i the outer product of row i, dW = Σ_i a_i, and an estimate
// Σ_i w_i a_i (w_i = the total scale row i got, 0 if not kept) has
//
//	‖Σ_i w_i a_i − dW‖² = Σ_ij w_i w_j H_ij − 2 Σ_i w_i h_i + ‖dW‖²,
//	H_ij = ⟨a_i, a_j⟩_F = ⟨x_i, x_j⟩·⟨g_i, g_j⟩,  h_i = Σ_j H_ij.
//
// So an estimate's error costs O(k²) instead of the k·d_in·d_out of
// forming Xsᵀ·G[idx]; the test checks both agree.
type gram struct {
	n     int
	h     []float64 // N×N, row-major
	row   []float64 // h_i
	total float64   // ‖dW‖²_F
	xx    []float64 // ‖x_i‖²
	gRows int       // rows with G ≠ 0
}

// newGram computes H in float64 from X [N, dx] and G [N, dg].
func newGram(x []float64, dx int, g []float64, dg int) *gram {
	n := len(x) / dx
	gr := &gram{n: n, h: make([]float64, n*n), row: make([]float64, n), xx: make([]float64, n)}
	gg := make([]float64, n)
	for i := range n {
		gr.xx[i] = dot(x[i*dx:(i+1)*dx], x[i*dx:(i+1)*dx])
		gg[i] = dot(g[i*dg:(i+1)*dg], g[i*dg:(i+1)*dg])
		if gg[i] > 0 {
			gr.gRows++
		}
	}
	for i := range n {
		if gg[i] == 0 || gr.xx[i] == 0 {
			continue // a_i = 0: row and column i of H stay 0
		}
		xi, gi := x[i*dx:(i+1)*dx], g[i*dg:(i+1)*dg]
		gr.h[i*n+i] = gr.xx[i] * gg[i]
		for j := i + 1; j < n; j++ {
			if gg[j] == 0 || gr.xx[j] == 0 {
				continue
			}
			v := dot(xi, x[j*dx:(j+1)*dx]) * dot(gi, g[j*dg:(j+1)*dg])
			gr.h[i*n+j], gr.h[j*n+i] = v, v
		}
	}
	for i := range n {
		for _, v := range gr.h[i*n : (i+1)*n] {
			gr.row[i] += v
		}
		gr.total += gr.row[i]
	}
	return gr
}

func dot(a, b []float64) float64 {
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// sqErr returns ‖Σ_{i∈rows} w_i a_i − dW‖² for a sparse weight vector
// (w indexed by row, nonzero only at rows).
func (gr *gram) sqErr(rows []int, w []float64) float64 {
	quad, lin := 0.0, 0.0
	for _, i := range rows {
		hi := gr.h[i*gr.n:]
		s := 0.0
		for _, j := range rows {
			s += w[j] * hi[j]
		}
		quad += w[i] * s
		lin += w[i] * gr.row[i]
	}
	return max(quad-2*lin+gr.total, 0)
}

// sqErrDense is sqErr for a dense weight vector.
func (gr *gram) sqErrDense(w []float64) float64 {
	all := make([]int, gr.n)
	for i := range all {
		all[i] = i
	}
	return gr.sqErr(all, w)
}

// probabilities returns p_i ∝ ‖x_i‖·(ĝ_i + floor) as the SampleRows kernel
// computes it (same floor: 1e-6·max ĝ + 1e-30); ĝ nil means 1.
func probabilities(xx, ghat []float64) []float64 {
	p := make([]float64, len(xx))
	floor := 0.0
	if ghat != nil {
		floor = 1e-6*slices.Max(ghat) + 1e-30
	}
	total := 0.0
	for i, v := range xx {
		p[i] = math.Sqrt(v)
		if ghat != nil {
			p[i] *= ghat[i] + floor
		}
		total += p[i]
	}
	for i := range p {
		p[i] /= total
	}
	return p
}

// budget is k = min(max(⌊keep·N⌋, min_rows), N), as the kernel computes it.
func budget(keep float64, n int) int {
	return int(ir.SampleBudget(float32(keep), minRows, "wta", int64(n)))
}

// winners returns the rows sorted by decreasing p and c* =
// argmin_{0≤c<k} (1 − P_c)/(k − c) (first minimum), with P_{c*}.
func winners(p []float64, k int) (order []int, cStar int, pc float64) {
	order = make([]int, len(p))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		switch {
		case p[a] > p[b]:
			return -1
		case p[a] < p[b]:
			return 1
		}
		return 0
	})
	// rest[c] = 1 − P_c, summed from the smallest up as the kernel does.
	rest := make([]float64, len(p)+1)
	for j := len(order) - 1; j >= 0; j-- {
		rest[j] = rest[j+1] + p[order[j]]
	}
	best := rest[0] / float64(k)
	for c := 1; c < k; c++ {
		if score := rest[c] / float64(k-c); score < best {
			cStar, best = c, score
		}
	}
	return order, cStar, 1 - rest[cStar]
}

// expected returns E‖dŴ − dW‖² in closed form for each estimator, given p,
// the sorted order and c*:
//
//	crs:  (Σ_i ‖a_i‖²/p_i − ‖dW‖²) / k
//	wta:  ((1−P_C)·Σ_{i∉C} ‖a_i‖²/p_i − ‖Σ_{i∉C} a_i‖²) / (k − c*)
//	topk: ‖Σ_{i∉T} a_i‖² (deterministic: all bias)
func (gr *gram) expected(p []float64, order []int, k, cStar int) map[string]float64 {
	// restSq(m) = ‖Σ_{i∉first m of order} a_i‖² = ‖dW − Σ_{i∈C} a_i‖².
	restSq := func(m int) float64 {
		w := make([]float64, gr.n)
		for _, i := range order[:m] {
			w[i] = 1
		}
		return gr.sqErrDense(w)
	}
	invP := func(from int) float64 { // Σ over order[from:] of ‖a_i‖²/p_i
		s := 0.0
		for _, i := range order[from:] {
			if a := gr.h[i*gr.n+i]; a > 0 {
				s += a / p[i]
			}
		}
		return s
	}
	out := map[string]float64{
		"crs":  max(invP(0)-gr.total, 0) / float64(k),
		"topk": restSq(k),
	}
	leftover := 0.0
	for _, i := range order[cStar:] {
		leftover += p[i]
	}
	if leftover <= 1e-12 { // no draws: the leftover rows get weight 0
		out["wta"] = restSq(cStar)
	} else {
		out["wta"] = max(leftover*invP(cStar)-restSq(cStar), 0) / float64(k-cStar)
	}
	return out
}

// sampler runs the SampleRows kernel of the CPU runtime on one layer's X.
type sampler struct {
	kernel cpu.Kernel
	x      *ir.Tensor // float64 [N, d_in]
}

func newSampler(x *ir.Tensor) (*sampler, error) {
	k, ok := cpu.Lookup("ai.crsc", "SampleRows")
	if !ok {
		return nil, fmt.Errorf("the CPU runtime has no ai.crsc SampleRows kernel")
	}
	return &sampler{kernel: k, x: x}, nil
}

// sample draws one estimate: the kept rows Xs [k, d] (scaled) and their
// indices.
func (s *sampler) sample(node *ir.Node, ghat *ir.Tensor, seed uint64) (xs *ir.Tensor, idx []int64, err error) {
	ins := []*ir.Tensor{s.x}
	if ghat != nil {
		ins = append(ins, ghat)
	}
	outs, err := s.kernel(&cpu.Ctx{Seed: seed, Threads: 1}, node, ins)
	if err != nil {
		return nil, nil, err
	}
	return outs[0], outs[1].I64, nil
}

// monteCarlo runs repeats draws of estimator est and returns their error
// statistics relative to ‖dW‖.
func (s *sampler) monteCarlo(gr *gram, name, est string, keep float64, ghat []float64, repeats int) (Error, error) {
	node := &ir.Node{Name: "study/" + name, Op: "SampleRows", Domain: "ai.crsc", Attrs: ir.Attrs{
		"keep": ir.FloatAttr(float32(keep)), "min_rows": ir.IntAttr(minRows), "estimator": ir.StringAttr(est),
	}}
	var ghatT *ir.Tensor
	if ghat != nil {
		ghatT = &ir.Tensor{DType: ir.Float64, Shape: []int{len(ghat)}, F64: ghat}
	}
	d := s.x.Shape[1]
	w := make([]float64, gr.n)    // this draw's scale per row
	wSum := make([]float64, gr.n) // summed over draws, for the mean estimate
	seen := make([]int, gr.n)     // draw number + 1 when the row is in rows
	var rows []int                // rows kept by this draw
	var firstIdx []int64          // the first draw, to test determinism
	var firstXs []float64
	res := Error{Repeats: repeats, Deterministic: true}
	sqSum, sqSq := 0.0, 0.0 // Σ and Σ² of the relative squared errors
	for r := 0; r < repeats; r++ {
		xs, idx, err := s.sample(node, ghatT, uint64(r+1))
		if err != nil {
			return Error{}, err
		}
		if r == 0 {
			firstIdx, firstXs = idx, xs.F64
		} else if res.Deterministic && (!slices.Equal(idx, firstIdx) || !slices.Equal(xs.F64, firstXs)) {
			res.Deterministic = false
		}
		// Each kept row is x_j times its scale; recover the scale.
		rows = rows[:0]
		for t, j := range idx {
			if seen[j] != r+1 {
				seen[j], w[j] = r+1, 0
				rows = append(rows, int(j))
			}
			if gr.xx[j] > 0 {
				w[j] += dot(xs.F64[t*d:(t+1)*d], s.x.F64[int(j)*d:(int(j)+1)*d]) / gr.xx[j]
			}
		}
		sq := gr.sqErr(rows, w) / gr.total
		sqSum += sq
		sqSq += sq * sq
		for _, j := range rows {
			wSum[j] += w[j]
		}
	}
	for j := range wSum {
		wSum[j] /= float64(repeats)
	}
	mse := sqSum / float64(repeats)
	res.RMS = math.Sqrt(mse)
	res.MSEStdErr = math.Sqrt(max(sqSq/float64(repeats)-mse*mse, 0) / float64(repeats-1))
	res.OfMean = math.Sqrt(gr.sqErrDense(wSum)) / math.Sqrt(gr.total)
	res.Biased = repeats > 1 && res.OfMean > 0.5*res.RMS
	return res, nil
}

// studyLayer measures every (keep, source, estimator) on one layer's X and
// G at one step.
func studyLayer(ly layer, lc layerCapture, step int, c Config) ([]Case, error) {
	x, g := toF64(lc.X), toF64(lc.G)
	n, dx, dg := lc.X.Shape[0], lc.X.Shape[1], lc.G.Shape[1]
	gr := newGram(x, dx, g, dg)
	if gr.total == 0 {
		return nil, fmt.Errorf("%s step %d: the exact weight gradient is zero", ly.Name, step)
	}
	s, err := newSampler(&ir.Tensor{DType: ir.Float64, Shape: []int{n, dx}, F64: x})
	if err != nil {
		return nil, err
	}
	var cases []Case
	for _, keep := range c.Keeps {
		k := budget(keep, n)
		for _, src := range Sources {
			ghat := lc.GHat[src]
			p := probabilities(gr.xx, ghat)
			order, cStar, pc := winners(p, k)
			exp := gr.expected(p, order, k, cStar)
			cs := Case{Layer: ly.Name, Group: ly.Group, Step: step, Keep: keep, Source: src, Rows: n, GRows: gr.gRows, K: k,
				CStar: cStar, PCStar: pc, Condition: cStar > 0, Errors: map[string]Error{}}
			for _, est := range Estimators {
				reps := c.Repeats
				if est == "topk" {
					reps = min(reps, c.TopKRepeats) // deterministic: a few draws show it
				}
				e, err := s.monteCarlo(gr, ly.Name, est, keep, ghat, reps)
				if err != nil {
					return nil, fmt.Errorf("%s: %v", ly.Name, err)
				}
				e.Expected = math.Sqrt(exp[est] / gr.total)
				cs.Errors[est] = e
			}
			cases = append(cases, cs)
		}
	}
	return cases, nil
}

func toF64(t *ir.Tensor) []float64 {
	out := make([]float64, len(t.F32))
	for i, v := range t.F32 {
		out[i] = float64(v)
	}
	return out
}
