// Package rowsampletest is the statistical check that a randomized estimator
// of a matrix product (WTA-CRS's dŴ = Xsᵀ·G[idx]) is unbiased, shared by the
// tests of package rowsample (which also run deliberately broken variants
// through it) and of the compiler passes (which run whole training graphs).
package rowsampletest

import "math"

// MaxRatio is the largest Ratio an unbiased estimator passes with. Under
// unbiasedness Ratio is a mean-1 quadratic form; even if one direction
// dominated the variance it would be a χ²₁, whose 0.999 quantile is 10.8.
// A bias of size b in units of the single-estimate spread σ (b = ‖E dŴ −
// dW‖ / √(Σ_e Var dŴ_e)) gives Ratio ≈ 1 + S·b², so with S = 1000 seeds a
// bias of 0.1·σ already reads as Ratio ≈ 11.
const MaxRatio = 10

// Result summarises S estimates of a D-vector against its exact value.
type Result struct {
	// Ratio is ‖mean − exact‖² / (Σ_e var_e / S): the squared error of the
	// mean over S seeds in units of what an unbiased estimator with the
	// observed variance would show (1 on average).
	Ratio float64
	// RelBias is ‖mean − exact‖ / ‖exact‖ and RelSpread the root mean
	// square relative error of a single estimate, for the logs.
	RelBias, RelSpread float64
}

// Unbiased reports whether r passes the check.
func (r Result) Unbiased() bool { return r.Ratio <= MaxRatio }

// Check runs estimate for seeds 0..S-1 and compares the estimates with
// exact.
func Check(exact []float64, S int, estimate func(seed int) []float64) Result {
	D := len(exact)
	sum, sumSq := make([]float64, D), make([]float64, D)
	for s := 0; s < S; s++ {
		e := estimate(s)
		for i, v := range e {
			// Deviations from exact: no cancellation when the spread is
			// small next to the values.
			dv := v - exact[i]
			sum[i] += dv
			sumSq[i] += dv * dv
		}
	}
	var errSq, varSum, msq, norm float64
	for i := range exact {
		mean := sum[i] / float64(S)
		errSq += mean * mean
		varSum += (sumSq[i] - float64(S)*mean*mean) / float64(S-1)
		msq += sumSq[i] / float64(S)
		norm += exact[i] * exact[i]
	}
	r := Result{RelBias: math.Sqrt(errSq / norm), RelSpread: math.Sqrt(msq / norm)}
	switch {
	case errSq == 0:
		r.Ratio = 0
	case varSum == 0: // a deterministic estimate that misses
		r.Ratio = math.Inf(1)
	default:
		r.Ratio = errSq / (varSum / float64(S))
	}
	return r
}
