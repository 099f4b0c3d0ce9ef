package gpu

import "crsc/runtime/rowsample"

// selectRows runs WTA-CRS's row selection on the host for B blocks of N
// rows, between the GPU's row norms and its gather of the chosen rows. It
// is the CPU backend's own code (package rowsample), so given the same
// norms both backends pick the same rows with the same weights; draw t of
// block b takes uniform(b·k + t), as the CPU numbers its draws.
func selectRows(est string, norms, g []float64, B, N, k int, uniform func(i uint64) float64) (idx []int64, weight []float64) {
	idx = make([]int64, B*k)
	weight = make([]float64, B*k)
	var s rowsample.Scratch
	for b := 0; b < B; b++ {
		var gb []float64
		if g != nil {
			gb = g[b*N : (b+1)*N]
		}
		u := func(t int) float64 { return uniform(uint64(b)*uint64(k) + uint64(t)) }
		s.Block(est, norms[b*N:(b+1)*N], gb, k, u, idx[b*k:(b+1)*k], weight[b*k:(b+1)*k])
	}
	return idx, weight
}
