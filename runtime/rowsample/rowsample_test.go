package rowsample

import (
	"math"
	"slices"
	"testing"
)

func TestChooseWinners(t *testing.T) {
	p := []float64{0.5, 0.3, 0.1, 0.05, 0.05}
	for _, c := range []struct {
		p    []float64
		k    int
		want int
	}{
		// scores (1−P_c)/(k−c): c=0 1/2, c=1 0.5/1 — a tie keeps the first (CRS).
		{p, 2, 0},
		// c=0 1/3, c=1 0.5/2, c=2 0.2/1 = 0.2: two winners.
		{p, 3, 2},
		// c=0 .25, c=1 .5/3, c=2 .2/2 = .1, c=3 .1/1 = .1: first minimum.
		{p, 4, 2},
		// c=0 .5, c=1 .4/1: one winner.
		{[]float64{0.6, 0.1, 0.1, 0.1, 0.1}, 2, 1},
		// flat p: P_c = c/N < c/k, so never a winner.
		{[]float64{0.2, 0.2, 0.2, 0.2, 0.2}, 3, 0},
	} {
		var s Scratch
		if got := s.chooseWinners(c.p, s.sortedOrder(c.p), c.k); got != c.want {
			t.Errorf("chooseWinners(%v, k=%d) = %d, want %d", c.p, c.k, got, c.want)
		}
	}

	// Unsorted rows: the winners are rows 2 and 1 (p .5 and .3, weight 1);
	// the third slot is drawn from rows {0, 3, 4}, leftover mass R = 0.2,
	// with weight R/(1·p_j).
	var s Scratch
	q := []float64{0.05, 0.3, 0.5, 0.05, 0.1}
	for _, u := range []float64{0, 0.24, 0.26, 0.49, 0.51, 0.999} {
		idx, w := make([]int64, 3), make([]float64, 3)
		s.sampleBlock("wta", q, 3, func(int) float64 { return u }, idx, w)
		// cum over rows 0, 3, 4 = .05, .10, .20: u·R < .05 → row 0, < .1 → row 3.
		wantRow, wantW := int64(4), 2.0
		switch {
		case u*0.2 < 0.05:
			wantRow, wantW = 0, 4
		case u*0.2 < 0.1:
			wantRow, wantW = 3, 4
		}
		if idx[0] != 2 || idx[1] != 1 || w[0] != 1 || w[1] != 1 || idx[2] != wantRow || math.Abs(w[2]-wantW) > 1e-12 {
			t.Errorf("u=%v: idx %v weights %v, want [2 1 %d] [1 1 %v]", u, idx, w, wantRow, wantW)
		}
	}

	// topk: the k largest, ties by index, weight 1.
	idx, w := make([]int64, 3), make([]float64, 3)
	s.sampleBlock("topk", []float64{0.1, 0.3, 0.1, 0.4, 0.1}, 3, nil, idx, w)
	if !slices.Equal(idx, []int64{3, 1, 0}) || !slices.Equal(w, []float64{1, 1, 1}) {
		t.Errorf("topk: idx %v weights %v, want [3 1 0] [1 1 1]", idx, w)
	}

	// Winners holding all the mass: the stochastic row gets weight 0.
	s.sampleBlock("wta", []float64{0.5, 0.5, 0, 0}, 3, func(int) float64 { return 0.5 }, idx, w)
	if idx[0] != 0 || idx[1] != 1 || w[2] != 0 || w[0] != 1 || w[1] != 1 {
		t.Errorf("negligible leftover: idx %v weights %v, want winners 0 1 and a weight-0 row", idx, w)
	}
}

func TestProbabilities(t *testing.T) {
	var s Scratch
	norms := []float64{1, 1e-6, 1e-6}
	if p := s.probabilities(norms, []float64{0, 1, 1}); !(p[0] > 0.2) {
		t.Errorf("ĝ=0 row: p %v, want the floor to keep it comparable", p)
	}
	if p := s.probabilities([]float64{0, 0, 0}, nil); !slices.Equal(p, []float64{1. / 3, 1. / 3, 1. / 3}) {
		t.Errorf("all-zero rows: p %v, want uniform", p)
	}
}
