package cpu

import (
	"math"
	"testing"
)

func TestErf32(t *testing.T) {
	worst := 0.0
	for x := -6.0; x <= 6; x += 1e-4 {
		d := math.Abs(float64(erf32(float32(x))) - math.Erf(float64(float32(x))))
		worst = math.Max(worst, d)
	}
	if worst > 5e-7 {
		t.Fatalf("erf32 max abs error %g", worst)
	}
}

func TestExp32(t *testing.T) {
	worst := 0.0
	for x := -100.0; x <= 88; x += 1e-3 {
		want := math.Exp(float64(float32(x)))
		got := float64(exp32(float32(x)))
		if want < 1.2e-38 { // subnormal range: absolute error only
			if math.Abs(got-want) > 3e-45 {
				t.Fatalf("exp32(%g) = %g, want %g", x, got, want)
			}
			continue
		}
		worst = math.Max(worst, math.Abs(got-want)/want)
	}
	if worst > 5e-7 {
		t.Fatalf("exp32 max relative error %g", worst)
	}
	if !math.IsInf(float64(exp32(100)), 1) || exp32(-200) != 0 || !math.IsNaN(float64(exp32(float32(math.NaN())))) {
		t.Fatal("exp32 edge cases")
	}
}
