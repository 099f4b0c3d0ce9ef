package rowsample

import (
	"cmp"
	"math"
	"slices"
	"sort"
)

// Block samples k of the N rows of one block from their norms ‖X_i‖ (and
// the gradient-norm estimates g, nil for none) into idx and weight (each
// of length k), drawing uniform(t) for draw t. k must be < N.
func (s *Scratch) Block(est string, norms, g []float64, k int, uniform func(t int) float64, idx []int64, weight []float64) {
	s.sampleBlock(est, s.probabilities(norms, g), k, uniform, idx, weight)
}

// negligibleMass is the leftover probability below which WTA's
// stochastic rows carry weight 0 (WTACRS.md §4 step 5): the winners then
// hold all but a rounding error of the mass, and dividing by it would only
// amplify noise.
const negligibleMass = 1e-12

// floorRel and floorAbs make the floor added to ĝ:
// floor = 1e-6·max(ĝ) + 1e-30. A row with ĝ_i = 0 (say a padding position
// whose gradient was zero last time) but ‖X_i‖ > 0 must keep p_i > 0, or the
// estimator is biased; 1e-6 relative keeps such rows rare without changing
// the others' probabilities measurably, and the absolute 1e-30 covers an
// all-zero ĝ (then p ∝ ‖X_i‖, the `none` source).
const (
	floorRel = 1e-6
	floorAbs = 1e-30
)

// Scratch is one goroutine's reusable buffers; the zero value is ready.
type Scratch struct {
	p, cum, rest []float64
	order, rows  []int
	winner       []bool
}

// grow returns buf resized to n, reallocating only when too small.
func grow[T any](buf []T, n int) []T {
	if cap(buf) < n {
		return make([]T, n)
	}
	return buf[:n]
}

// probabilities returns p_i ∝ ‖X_i‖·(ĝ_i + floor) in float64, summing to 1.
// Without gnorm ĝ = 1, and the constant (1 + floor) cancels: p ∝ ‖X_i‖. If
// the total is 0 (all rows zero) or not finite (Inf/NaN in X), p is uniform.
func (s *Scratch) probabilities(norms, g []float64) []float64 {
	s.p = grow(s.p, len(norms))
	p := s.p
	floor := 0.0
	if g != nil {
		floor = floorRel*slices.Max(g) + floorAbs
	}
	total := 0.0
	for i, a := range norms {
		w := a
		if g != nil {
			w = a * (g[i] + floor)
		}
		p[i] = w
		total += w
	}
	if !(total > 0) || math.IsInf(total, 0) {
		for i := range p {
			p[i] = 1 / float64(len(p))
		}
		return p
	}
	for i := range p {
		p[i] /= total
	}
	return p
}

// sampleBlock fills the k slots (idx, weight) of one block from its row
// probabilities p (k < len(p)). The scheme, which the CUDA backend follows
// bit for bit:
//
//   - Sorted order: rows by decreasing p, ties by increasing row index.
//   - topk (biased baseline, not an estimator of dW): slot t = the t-th row
//     of the sorted order, weight 1.
//   - crs: c* = 0 and the k slots are all draws (below).
//   - wta: c* = chooseWinners over the sorted p; slots 0..c*-1 are the c*
//     first rows of the sorted order, weight 1; slots c*..k-1 are draws.
//   - Draws: s = k − c* i.i.d. draws from the leftover rows (those not
//     winners), taken in increasing row index with their inclusive running
//     sum cum of p in float64; R = cum[last]. Draw t (0 ≤ t < s) of block b
//     takes u = float64(rng.Uniform(Seed, Step, StreamOf(node name),
//     b·k + t)), and picks the first leftover row m with cum[m] > u·R
//     (binary search; rows with p = 0 are never picked). Its weight is
//     R/(s·p_j): the draw probability is p_j/R, so the slot is unbiased for
//     the leftover part of the sum. R equals 1 − P_{c*} of WTACRS.md up to
//     rounding; using the sum that defines the draws keeps them consistent.
//     For crs R = Σp ≈ 1 and the weight is the usual 1/(k·p_j).
//   - If R ≤ 1e-12 no draw is made: slot c*+t gets leftover row t (in
//     increasing index) with weight 0, so the block still has k rows.
func (s *Scratch) sampleBlock(est string, p []float64, k int, uniform func(t int) float64, idx []int64, weight []float64) {
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
		s.drawLeftover(p, s.winnersMask(c), uniform, idx[c:], weight[c:])
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

// drawLeftover fills len(idx) slots with i.i.d. draws from the rows not in
// winner, as sampleBlock describes.
func (s *Scratch) drawLeftover(p []float64, winner []bool, uniform func(t int) float64, idx []int64, weight []float64) {
	s.rows, s.cum = s.rows[:0], s.cum[:0]
	acc := 0.0
	for j, pj := range p {
		if winner != nil && winner[j] {
			continue
		}
		acc += pj
		s.rows = append(s.rows, j)
		s.cum = append(s.cum, acc)
	}
	draws := len(idx)
	if acc <= negligibleMass {
		for t := range idx {
			idx[t], weight[t] = int64(s.rows[t]), 0
		}
		return
	}
	for t := range idx {
		target := uniform(t) * acc
		m := sort.Search(len(s.cum), func(i int) bool { return s.cum[i] > target })
		m = min(m, len(s.cum)-1) // u < 1 makes target < acc; guard anyway
		j := s.rows[m]
		idx[t], weight[t] = int64(j), acc/(float64(draws)*p[j])
	}
}
