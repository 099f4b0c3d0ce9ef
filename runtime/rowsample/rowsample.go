package rowsample

import (
	"cmp"
	"math"
	"math/bits"
	"slices"
	"sort"
)

// Block samples k of the N rows of one block from their norms ‖X_i‖, the
// gradient-norm estimates g (nil for none) and the padding mask real (nil:
// every row is real; false: a padding row) into idx and weight (each of
// length k). Draw t takes the 64-bit random word random(t). k must be < N.
func (s *Scratch) Block(est string, norms, g []float64, real []bool, k int, random func(t int) uint64, idx []int64, weight []float64) {
	s.sampleBlock(est, s.probabilities(norms, g, real), k, random, idx, weight)
}

// floorRel and floorAbs make the floor added to ĝ:
// floor = 1e-6·max(ĝ over the real rows) + 1e-30. A real row with ĝ_i = 0
// (an `ema` position never seen, a `cache` row whose gradient was zero
// last time) but ‖X_i‖ > 0 must keep p_i > 0, or the estimator is biased;
// 1e-6 relative keeps such rows rare without changing the others'
// probabilities measurably, and the absolute 1e-30 covers an all-zero ĝ
// (then p ∝ ‖X_i‖, the `none` source). Such rows stay drawable however
// small p_i is: see drawLeftover.
const (
	floorRel = 1e-6
	floorAbs = 1e-30
)

// drawScale is the total integer weight the draws quantise the leftover
// probabilities to (drawLeftover): 2^32, so that every weight is at least
// 1 and T = Σ weights stays far below 2^64 (the draw's relative error is
// T/2^64) and below 2^53 (T converts to float64 exactly) for any N < 2^52.
const drawScale = 1 << 32

// Scratch is one goroutine's reusable buffers; the zero value is ready.
type Scratch struct {
	p, rest     []float64
	cum, w      []uint64
	order, rows []int
	winner      []bool
}

// grow returns buf resized to n, reallocating only when too small.
func grow[T any](buf []T, n int) []T {
	if cap(buf) < n {
		return make([]T, n)
	}
	return buf[:n]
}

// probabilities returns p_i ∝ ‖X_i‖·(ĝ_i + floor) in float64, summing to 1
// (or all 0). Without gnorm ĝ = 1, and the constant (1 + floor) cancels:
// p ∝ ‖X_i‖. Padding rows (real[i] false) get p_i = 0 exactly: their
// gradient rows G_i are 0 (the attention mask hides them from every query
// and the loss ignores them), so their terms X_iᵀG_i of dW are 0 and
// leaving them out of the draw changes nothing in expectation while it
// spends the whole budget on the rows that matter. If the total is 0 (every
// real row zero) p is all 0 (sampleBlock then keeps nothing of value); if
// it is not finite (Inf/NaN in X), p is uniform over the real rows.
func (s *Scratch) probabilities(norms, g []float64, real []bool) []float64 {
	s.p = grow(s.p, len(norms))
	p := s.p
	floor := 0.0
	if g != nil {
		top := 0.0
		for i, v := range g {
			if real == nil || real[i] {
				top = max(top, v)
			}
		}
		floor = floorRel*top + floorAbs
	}
	total := 0.0
	for i, a := range norms {
		w := a
		switch {
		case real != nil && !real[i]:
			w = 0
		case g != nil:
			w = a * (g[i] + floor)
		}
		p[i] = w
		total += w
	}
	switch {
	case total == 0:
		return p
	case !(total > 0) || math.IsInf(total, 0):
		n := 0
		for i := range p {
			if real == nil || real[i] {
				n++
			}
		}
		for i := range p {
			p[i] = 0
			if real == nil || real[i] {
				p[i] = 1 / float64(n)
			}
		}
		return p
	}
	for i := range p {
		p[i] /= total
	}
	return p
}

// sampleBlock fills the k slots (idx, weight) of one block from its row
// probabilities p (k < len(p)). The scheme, which every backend follows
// bit for bit:
//
//   - Rows with p = 0 (padding, zero rows) contribute nothing to dW. When
//     at most k rows have p > 0, the block is exact: slots 0..n−1 are those
//     n rows in increasing index with weight 1, and the other slots are the
//     first rows with p = 0, in increasing index, with weight 0 (so the
//     block still has k rows). This holds for every estimator and covers
//     WTACRS.md §4 step 5 (leftover mass 0). Otherwise:
//   - Sorted order: rows by decreasing p, ties by increasing row index.
//   - topk (biased baseline, not an estimator of dW): slot t = the t-th row
//     of the sorted order, weight 1.
//   - crs: c* = 0 and the k slots are all draws (below).
//   - wta: c* = chooseWinners over the sorted p; slots 0..c*-1 are the c*
//     first rows of the sorted order, weight 1; slots c*..k-1 are draws.
//   - Draws: see drawLeftover.
func (s *Scratch) sampleBlock(est string, p []float64, k int, random func(t int) uint64, idx []int64, weight []float64) {
	positive := 0
	for _, v := range p {
		if v > 0 {
			positive++
		}
	}
	if positive <= k {
		s.keepPositive(p, idx, weight)
		return
	}
	c := 0
	if est == "topk" || est == "wta" {
		order := s.sortedOrder(p)
		if est == "topk" {
			c = k
		} else {
			c = s.chooseWinners(p, order, k)
		}
		for t := 0; t < c; t++ {
			idx[t], weight[t] = int64(order[t]), 1
		}
	}
	if c < k {
		s.drawLeftover(p, s.winnersMask(c), random, idx[c:], weight[c:])
	}
}

// keepPositive is sampleBlock's exact case: every row with p > 0 with
// weight 1, then rows with p = 0 with weight 0 to fill the k slots.
func (s *Scratch) keepPositive(p []float64, idx []int64, weight []float64) {
	t := 0
	for j, v := range p {
		if v > 0 {
			idx[t], weight[t] = int64(j), 1
			t++
		}
	}
	for j, v := range p {
		if t == len(idx) {
			break
		}
		if !(v > 0) {
			idx[t], weight[t] = int64(j), 0
			t++
		}
	}
}

// sortedOrder returns the row indices by decreasing p, ties by index, so
// the winners are deterministic whatever the sort algorithm.
func (s *Scratch) sortedOrder(p []float64) []int {
	s.order = grow(s.order, len(p))
	for i := range s.order {
		s.order[i] = i
	}
	slices.SortFunc(s.order, func(a, b int) int {
		if c := cmp.Compare(p[b], p[a]); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	return s.order
}

// chooseWinners returns c* = argmin_{0≤c<k} (1 − P_c)/(k − c), the first
// minimum on ties, with P_c the sum of the c largest p (order sorts p
// decreasingly). 1 − P_c is taken as the sum of the rows after the c
// largest, accumulated from the smallest up: that avoids the cancellation
// of 1 − P_c when the winners hold nearly all the mass, and cannot go
// negative. c = 0 scores 1/k, plain CRS, so winners are only taken when they
// lower the variance (P_c > c/k).
func (s *Scratch) chooseWinners(p []float64, order []int, k int) int {
	s.rest = grow(s.rest, len(order))
	acc := 0.0
	for j := len(order) - 1; j >= 0; j-- {
		acc += p[order[j]]
		s.rest[j] = acc // sum of sorted positions j..N-1 = 1 − P_j
	}
	best, bestScore := 0, s.rest[0]/float64(k)
	for c := 1; c < k; c++ {
		if score := s.rest[c] / float64(k-c); score < bestScore {
			best, bestScore = c, score
		}
	}
	return best
}

// winnersMask marks the first c rows of s.order (nil when c = 0).
func (s *Scratch) winnersMask(c int) []bool {
	if c == 0 {
		return nil
	}
	s.winner = grow(s.winner, len(s.order))
	clear(s.winner)
	for _, j := range s.order[:c] {
		s.winner[j] = true
	}
	return s.winner
}

// drawLeftover fills the s = len(idx) slots with i.i.d. draws from the
// leftover rows L: those with p > 0 that are not winners (sampleBlock only
// calls it when L is not empty).
//
// The draw is exact integer arithmetic, so that every row of L can be
// drawn and the weight is the inverse of the probability actually used:
//
//   - R = Σ_{j∈L} p_j in float64, in increasing row index (R is 1 − P_{c*}
//     of WTACRS.md up to rounding).
//   - Integer weights w_j = ⌈p_j/R · 2^32⌉ ≥ 1 (a uint64; at most 2^32+1)
//     and their inclusive running sums W_j over L in increasing index;
//     T = Σ w_j.
//   - Draw t (0 ≤ t < s) of block b takes r = rng.Uint64(Seed, Step,
//     StreamOf(node name), b·k + t) (the backends' random(t)) and
//     U = ⌊r·T / 2^64⌋ ∈ [0, T) (the high word of the 128-bit product), and
//     picks the first row m of L with W_m > U.
//   - Its weight is T/(s·w_j), computed in float64 from the exact integers.
//
// A row's draw probability is w_j/T within a relative T/2^64 ≈ 2^-32 (every
// U ∈ [0, T) is hit by ⌊2^64/T⌋ or ⌈2^64/T⌉ values of r), for the smallest
// row as for the largest, so the weight T/(s·w_j) makes each slot unbiased
// for Σ_{j∈L} X_jᵀG_j to that precision; quantising p_j to w_j only moves
// the probabilities (by at most 2^-32 of R each), not the unbiasedness.
// The former 24-bit float draw could not reach rows with p_j < 2^-24·R and
// was biased ~1e-4 relative on ordinary rows.
func (s *Scratch) drawLeftover(p []float64, winner []bool, random func(t int) uint64, idx []int64, weight []float64) {
	s.rows = s.rows[:0]
	R := 0.0
	for j, pj := range p {
		if pj > 0 && (winner == nil || !winner[j]) {
			R += pj
			s.rows = append(s.rows, j)
		}
	}
	s.w, s.cum = grow(s.w, len(s.rows)), grow(s.cum, len(s.rows))
	var T uint64
	for m, j := range s.rows {
		s.w[m] = uint64(math.Ceil(p[j] / R * drawScale))
		T += s.w[m]
		s.cum[m] = T
	}
	draws := float64(len(idx))
	for t := range idx {
		u, _ := bits.Mul64(random(t), T)
		m := sort.Search(len(s.cum), func(i int) bool { return s.cum[i] > u })
		idx[t], weight[t] = int64(s.rows[m]), float64(T)/(draws*float64(s.w[m]))
	}
}
