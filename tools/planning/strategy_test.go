package planning

import (
	"strings"
	"testing"

	"crsc/compiler/memplan"
	"crsc/compiler/passes"
)

// TestFit: with room for everything Fit keeps the exact step; with less it
// climbs the ladder to the first strategy within the budget (every one
// before it over, its own peak within); below the leanest it refuses,
// naming the least budget that batch needs.
func TestFit(t *testing.T) {
	req := Request{Arch: "bert-tiny", Batch: 16, Seq: 64, Dropout: 0.1}
	var peaks []int64
	for _, s := range Strategies() {
		r := req
		r.Spec = s.Spec(passes.TrainingSpec{})
		res, err := Plan(r)
		if err != nil {
			t.Fatal(err)
		}
		peaks = append(peaks, res.PlannedPeakBytes)
	}
	for i := 1; i < len(peaks); i++ {
		if peaks[i] >= peaks[i-1] {
			t.Fatalf("%s plans %d bytes, not less than %s's %d", Strategies()[i].Name, peaks[i], Strategies()[i-1].Name, peaks[i-1])
		}
	}
	wta := len(peaks) - 2 // the first sampled rung
	for _, tc := range []struct {
		name   string
		budget int64
		want   int
	}{
		{"room for exact", peaks[0], 0},
		{"just under exact", peaks[0] - 1, 1},
		{"between the bf16 GELU stash and more", (peaks[2] + peaks[3]) / 2, 3},
		{"between all bf16 and WTA@0.3", (peaks[wta-1] + peaks[wta]) / 2, wta},
		{"the leanest exactly", peaks[len(peaks)-1], len(peaks) - 1},
	} {
		got, tried, res, err := Fit(req, tc.budget)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got != tc.want || len(tried) != tc.want+1 || res.PlannedPeakBytes > tc.budget {
			t.Errorf("%s: chose %d after %d tries (peak %d, budget %d), want %d", tc.name, got, len(tried), res.PlannedPeakBytes, tc.budget, tc.want)
		}
		for _, tr := range tried[:len(tried)-1] {
			if tr.Fits || tr.Peak <= tc.budget {
				t.Errorf("%s: %s fits but was passed over", tc.name, tr.Strategy.Name)
			}
		}
	}
	_, _, _, err := Fit(req, peaks[len(peaks)-1]-1)
	if err == nil || !strings.Contains(err.Error(), "no strategy fits batch 16") || !strings.Contains(err.Error(), memplan.FormatBytes(peaks[len(peaks)-1])) {
		t.Errorf("below the leanest: %v", err)
	}
}
