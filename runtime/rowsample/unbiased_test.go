package rowsample

import (
	"math"
	"math/bits"
	"math/rand"
	"testing"

	"crsc/runtime/rng"
	"crsc/runtime/rowsample/rowsampletest"
)

// edgeLayer is one linear layer's rows at the edges WTA-CRS must stay
// unbiased at: heavy-tailed row norms (so WTA takes winners, c* > 0, and
// differs from CRS), gradient rows that are zero or tiny, and a ĝ that is a
// noisy estimate of ‖G_i‖ with exact zeros (rows whose gradient vanished)
// and tiny values.
type edgeLayer struct {
	N, d, m int
	x, g    []float64 // [N, d], [N, m]
	norms   []float64 // ‖X_i‖
	ghat    []float64 // ĝ_i
	exact   []float64 // Xᵀ·G, [d, m]
}

func newEdgeLayer(seed int64, N, d, m int) *edgeLayer {
	r := rand.New(rand.NewSource(seed))
	l := &edgeLayer{N: N, d: d, m: m, x: make([]float64, N*d), g: make([]float64, N*m),
		norms: make([]float64, N), ghat: make([]float64, N), exact: make([]float64, d*m)}
	for i := 0; i < N; i++ {
		// Lognormal row norms (a heavy tail), rows around a common
		// direction as real activations and gradients are, so that the
		// terms X_iᵀG_i add up coherently and a bias in how the large
		// rows are weighted shows against the noise.
		sx := math.Exp(1.5 * r.NormFloat64())
		for j := 0; j < d; j++ {
			l.x[i*d+j] = sx * (1 + r.NormFloat64())
		}
		sg := math.Exp(0.5 * r.NormFloat64())
		kind := r.Intn(10)
		switch kind {
		case 0: // G_i = 0, ĝ_i = 0
			sg = 0
		case 1: // tiny gradient
			sg *= 1e-4
		}
		gn := 0.0
		for j := 0; j < m; j++ {
			v := sg * (1 + r.NormFloat64())
			l.g[i*m+j] = v
			gn += v * v
		}
		// ĝ: the true norm times a lognormal error; some tiny-gradient
		// rows are estimated as exactly 0, others as tiny.
		l.ghat[i] = math.Sqrt(gn) * math.Exp(0.7*r.NormFloat64())
		if kind == 1 && r.Intn(2) == 0 {
			l.ghat[i] = 0
		}
		s := 0.0
		for j := 0; j < d; j++ {
			s += l.x[i*d+j] * l.x[i*d+j]
		}
		l.norms[i] = math.Sqrt(s)
	}
	l.exact = l.product(nil, nil)
	return l
}

// product is Σ_t weight_t · X_{idx_t}ᵀ G_{idx_t} (idx nil: every row, weight 1).
func (l *edgeLayer) product(idx []int64, weight []float64) []float64 {
	out := make([]float64, l.d*l.m)
	add := func(i int, w float64) {
		for a := 0; a < l.d; a++ {
			xv := w * l.x[i*l.d+a]
			for b := 0; b < l.m; b++ {
				out[a*l.m+b] += xv * l.g[i*l.m+b]
			}
		}
	}
	if idx == nil {
		for i := 0; i < l.N; i++ {
			add(i, 1)
		}
		return out
	}
	for t, i := range idx {
		add(int(i), weight[t])
	}
	return out
}

// kernelRandom is the random word the kernels give draw t of block 0.
func kernelRandom(seed int) func(t int) uint64 {
	stream := rng.StreamOf("edge.sample")
	return func(t int) uint64 { return rng.Uint64(uint64(seed), 7, stream, uint64(t)) }
}

// sampler draws one (idx, weight) sample of k rows for a seed.
type sampler func(s *Scratch, seed int, idx []int64, weight []float64)

func (l *edgeLayer) check(k, S int, draw sampler) rowsampletest.Result {
	var s Scratch
	idx, weight := make([]int64, k), make([]float64, k)
	return rowsampletest.Check(l.exact, S, func(seed int) []float64 {
		draw(&s, seed, idx, weight)
		return l.product(idx, weight)
	})
}

// TestUnbiasedAtTheEdges runs WTA-CRS and CRS as the kernels do over 1500
// seeds on N = 2048 heavy-tailed rows with a non-uniform ĝ holding zeros
// and tiny values, and checks that their means converge to Xᵀ·G
// (rowsampletest.Check). The same check must reject three broken variants:
// the unbiasing scale dropped (the reference's first-epoch branch), draws
// without replacement, and a scale computed from ‖X‖ alone while the draws
// use ĝ.
func TestUnbiasedAtTheEdges(t *testing.T) {
	const N, d, m, k, S = 2048, 6, 4, 204, 1500
	l := newEdgeLayer(5, N, d, m)
	var probe Scratch
	p := probe.probabilities(l.norms, l.ghat, nil)
	cStar := probe.chooseWinners(p, probe.sortedOrder(p), k)
	if cStar == 0 || cStar >= k {
		t.Fatalf("c* = %d: the layer must make WTA take winners (0 < c* < k = %d) or it only tests CRS", cStar, k)
	}
	t.Logf("N = %d, k = %d, c* = %d winners, s = %d draws", N, k, cStar, k-cStar)

	kernel := func(est string) sampler {
		return func(s *Scratch, seed int, idx []int64, weight []float64) {
			s.Block(est, l.norms, l.ghat, nil, k, kernelRandom(seed), idx, weight)
		}
	}
	for _, c := range []struct {
		name     string
		draw     sampler
		unbiased bool
	}{
		{"wta", kernel("wta"), true},
		{"crs", kernel("crs"), true},
		{"wta without the 1/(s·p) scale", func(s *Scratch, seed int, idx []int64, weight []float64) {
			kernel("wta")(s, seed, idx, weight)
			for t := range weight {
				weight[t] = 1
			}
		}, false},
		{"wta drawing without replacement", func(s *Scratch, seed int, idx []int64, weight []float64) {
			wtaWithoutReplacement(s, l.norms, l.ghat, k, rand.New(rand.NewSource(int64(seed))), idx, weight)
		}, false},
		{"wta with a scale that ignores ĝ", func(s *Scratch, seed int, idx []int64, weight []float64) {
			kernel("wta")(s, seed, idx, weight)
			scaleIgnoringGhat(l.norms, l.ghat, k, idx, weight)
		}, false},
	} {
		res := l.check(k, S, c.draw)
		t.Logf("%-32s Ratio %10.2f (max %d)  bias of the mean %.4f  single estimate %.3f", c.name, res.Ratio, rowsampletest.MaxRatio, res.RelBias, res.RelSpread)
		if res.Unbiased() != c.unbiased {
			t.Errorf("%s: Ratio %.2f, want it %s %d", c.name, res.Ratio, map[bool]string{true: "≤", false: ">"}[c.unbiased], rowsampletest.MaxRatio)
		}
	}
}

// wtaWithoutReplacement is a broken WTA-CRS: the kernel's winners, then
// s distinct leftover rows drawn successively ∝ p, each with the
// with-replacement weight R/(s·p_j). Inclusion probabilities are not s·p_j/R
// once s·p_j/R is not small, so the large leftover rows are under-weighted.
func wtaWithoutReplacement(s *Scratch, norms, ghat []float64, k int, r *rand.Rand, idx []int64, weight []float64) {
	p := s.probabilities(norms, ghat, nil)
	order := s.sortedOrder(p)
	c := s.chooseWinners(p, order, k)
	left := append([]int(nil), order[c:]...)
	R := 0.0
	for _, j := range left {
		R += p[j]
	}
	for t := 0; t < c; t++ {
		idx[t], weight[t] = int64(order[t]), 1
	}
	mass := R
	for t := c; t < k; t++ {
		u, m := r.Float64()*mass, 0
		for acc := p[left[0]]; acc <= u && m < len(left)-1; acc += p[left[m]] {
			m++
		}
		j := left[m]
		idx[t], weight[t] = int64(j), R/(float64(k-c)*p[j])
		mass -= p[j]
		left = append(left[:m], left[m+1:]...)
	}
}

// scaleIgnoringGhat rewrites the stochastic slots' weights as R'/(s·p'_j)
// with p' ∝ ‖X‖ (ĝ left out) while the rows were drawn with ĝ.
func scaleIgnoringGhat(norms, ghat []float64, k int, idx []int64, weight []float64) {
	var a, b Scratch
	p := a.probabilities(norms, ghat, nil)
	c := a.chooseWinners(p, a.sortedOrder(p), k)
	winner := a.winnersMask(c)
	q := b.probabilities(norms, nil, nil)
	R := 0.0
	for j, v := range q {
		if !winner[j] {
			R += v
		}
	}
	for t := c; t < k; t++ {
		weight[t] = R / (float64(k-c) * q[idx[t]])
	}
}

// TestEveryRowDrawable: at N = 12,800 with 128 rows whose ĝ is 0 (floored
// to 1e-6·max ĝ), every row with p > 0 can be drawn, and the probability
// of drawing it is its weight's inverse to 2^-31 relative. For each row m
// the smallest 64-bit word that picks it is r_m = ⌈W_{m−1}·2^64/T⌉, and
// row m is picked by exactly r_{m+1} − r_m words. A 24-bit uniform (the
// former draw: r = u·2^40) reaches only a few of the floored rows.
func TestEveryRowDrawable(t *testing.T) {
	const N, k = 12800, 1280
	r := rand.New(rand.NewSource(3))
	norms, ghat := make([]float64, N), make([]float64, N)
	for i := range norms {
		norms[i] = 0.5 + r.Float64()
		ghat[i] = 0.5 + r.Float64()
		if i%100 == 0 {
			ghat[i] = 0
		}
	}
	var s Scratch
	p := s.probabilities(norms, ghat, nil)
	idx, weight := make([]int64, 1), make([]float64, 1)
	// crs: one draw over all rows (the leftover set L is every row).
	s.drawLeftover(p, nil, func(int) uint64 { return 0 }, idx, weight)
	T := s.cum[len(s.cum)-1]
	first := func(m int) uint64 { // ⌈W_{m−1}·2^64 / T⌉, 0 for m = 0
		if m == 0 {
			return 0
		}
		q, rem := bits.Div64(s.cum[m-1], 0, T)
		if rem != 0 {
			q++
		}
		return q
	}
	reach24 := 0
	for m := range s.rows {
		rm := first(m)
		// A draw is O(N): run it for every floored row and a sample of
		// the others.
		if ghat[s.rows[m]] == 0 || m%61 == 0 {
			s.drawLeftover(p, nil, func(int) uint64 { return rm }, idx, weight)
			if idx[0] != int64(s.rows[m]) || weight[0] != float64(T)/float64(s.w[m]) {
				t.Fatalf("row %d: the word %#x picks row %d weight %v, want row %d weight %v", s.rows[m], rm, idx[0], weight[0], s.rows[m], float64(T)/float64(s.w[m]))
			}
			if rm > 0 { // the word just below picks the row before
				s.drawLeftover(p, nil, func(int) uint64 { return rm - 1 }, idx, weight)
				if idx[0] != int64(s.rows[m-1]) {
					t.Fatalf("row %d: the word before its first picks row %d, want %d", s.rows[m], idx[0], s.rows[m-1])
				}
			}
		}
		// Number of words picking row m, against w_m/T·2^64.
		count := -rm // mod 2^64: r_{m+1} − r_m, with r_N = 2^64
		if m+1 < len(s.rows) {
			count = first(m+1) - rm
		}
		want := float64(s.w[m]) / float64(T) * math.Pow(2, 64)
		if rel := math.Abs(float64(count)-want) / want; rel > math.Pow(2, -31) {
			t.Fatalf("row %d: %d words pick it, want %.0f (relative %.2g)", s.rows[m], count, want, rel)
		}
		if ghat[s.rows[m]] == 0 && (rm+(1<<40)-1)>>40 < (rm+count+(1<<40)-1)>>40 {
			reach24++ // some multiple of 2^40 falls in the row's words
		}
	}
	if len(s.rows) != N {
		t.Fatalf("%d rows in the draw, want all %d", len(s.rows), N)
	}
	t.Logf("all %d rows drawable; a 24-bit uniform reaches %d of the 128 rows with ĝ = 0", N, reach24)
	if reach24 > 8 {
		t.Errorf("a 24-bit uniform reaches %d of the 128 floored rows: the scenario no longer shows the old bias", reach24)
	}
}

// TestPaddingExcluded: padding rows (mask false) never take a slot, so
// the k slots all go to real rows; with at most k real rows the block is
// exact (weight 1 each, weight-0 filler); and the padded estimate stays
// unbiased for Xᵀ·G when the padding rows' G is 0.
func TestPaddingExcluded(t *testing.T) {
	const N, d, m, k, S = 1024, 6, 4, 102, 1000
	l := newEdgeLayer(8, N, d, m)
	real := make([]bool, N)
	for i := range real {
		real[i] = i%N < 700 // rows 700.. are padding, G = 0 there
		if !real[i] {
			for j := 0; j < m; j++ {
				l.g[i*m+j] = 0
			}
			l.ghat[i] = 5 // a large ĝ (an ema position average) must not matter
		}
	}
	l.exact = l.product(nil, nil)
	var s Scratch
	idx, weight := make([]int64, k), make([]float64, k)
	res := l.check(k, S, func(s *Scratch, seed int, idx []int64, weight []float64) {
		s.Block("wta", l.norms, l.ghat, real, k, kernelRandom(seed), idx, weight)
		for _, j := range idx {
			if !real[j] {
				t.Fatalf("seed %d: padding row %d drawn", seed, j)
			}
		}
	})
	t.Logf("padded wta: Ratio %.2f, bias of the mean %.4f", res.Ratio, res.RelBias)
	if !res.Unbiased() {
		t.Errorf("padded wta: Ratio %.2f > %d", res.Ratio, rowsampletest.MaxRatio)
	}

	// 60 real rows, k = 102: exact.
	few := make([]bool, N)
	for i := 0; i < 60; i++ {
		few[i*17] = true
	}
	s.Block("wta", l.norms, l.ghat, few, k, kernelRandom(1), idx, weight)
	for t0 := 0; t0 < k; t0++ {
		wantW := 0.0
		if t0 < 60 {
			wantW = 1
		}
		if (t0 < 60 && idx[t0] != int64(t0*17)) || weight[t0] != wantW {
			t.Fatalf("60 real rows: slot %d = row %d weight %v, want row %d weight %v", t0, idx[t0], weight[t0], t0*17, wantW)
		}
	}
}
