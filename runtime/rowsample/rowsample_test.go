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
		s.sampleBlock("wta", q, 3, func(int) uint64 { return uint64(u*(1<<53)) << 11 }, idx, w)
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

	// At most k rows with p > 0: all of them exactly, then weight-0 rows
	// (WTACRS.md §4 step 5), for every estimator.
	for _, est := range []string{"wta", "crs", "topk"} {
		s.sampleBlock(est, []float64{0, 0.5, 0, 0.5}, 3, func(int) uint64 { return 1 << 63 }, idx, w)
		if !slices.Equal(idx, []int64{1, 3, 0}) || !slices.Equal(w, []float64{1, 1, 0}) {
			t.Errorf("%s, two rows with p > 0: idx %v weights %v, want [1 3 0] [1 1 0]", est, idx, w)
		}
	}
}

func TestProbabilities(t *testing.T) {
	var s Scratch
	norms := []float64{1, 1e-6, 1e-6}
	if p := s.probabilities(norms, []float64{0, 1, 1}, nil); !(p[0] > 0.2) {
		t.Errorf("ĝ=0 row: p %v, want the floor to keep it comparable", p)
	}
	if p := s.probabilities([]float64{0, 0, 0}, nil, nil); !slices.Equal(p, []float64{0, 0, 0}) {
		t.Errorf("all-zero rows: p %v, want 0", p)
	}
	// Padding rows: p = 0 whatever their norm and ĝ; the floor comes from
	// the real rows' ĝ only, so a padding row's large ĝ does not raise it.
	p := s.probabilities([]float64{1, 1, 1, 5}, []float64{0, 2, 1, 1e9}, []bool{true, true, true, false})
	if p[3] != 0 || math.Abs(p[0]/p[1]-(2e-6+1e-30)/(2+2e-6+1e-30)) > 1e-12 {
		t.Errorf("padding: p %v, want p[3] = 0 and p[0]/p[1] = floor/(2+floor)", p)
	}
	if p := s.probabilities([]float64{1, math.Inf(1), 1}, nil, []bool{true, true, false}); !slices.Equal(p, []float64{0.5, 0.5, 0}) {
		t.Errorf("Inf row with padding: p %v, want uniform over the real rows", p)
	}
}
