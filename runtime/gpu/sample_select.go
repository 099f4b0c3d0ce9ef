package gpu

import "crsc/runtime/rowsample"

// selectRows runs WTA-CRS's row selection on the host for B blocks of N
// rows, between the GPU's row norms and its gather of the chosen rows. It
// is the CPU backend's own code (package rowsample), so given the same
// norms both backends pick the same rows with the same weights; draw t of
// block b takes the 64-bit word random(b·k + t), as the CPU numbers its
// draws.
func selectRows(est string, norms, g []float64, real []bool, B, N, k int, random func(i uint64) uint64) (idx []int64, weight []float64) {
	idx = make([]int64, B*k)
	weight = make([]float64, B*k)
	var s rowsample.Scratch
	for b := 0; b < B; b++ {
		var gb []float64
		var mb []bool
		if g != nil {
			gb = g[b*N : (b+1)*N]
		}
		if real != nil {
			mb = real[b*N : (b+1)*N]
		}
		u := func(t int) uint64 { return random(uint64(b)*uint64(k) + uint64(t)) }
		s.Block(est, norms[b*N:(b+1)*N], gb, mb, k, u, idx[b*k:(b+1)*k], weight[b*k:(b+1)*k])
	}
	return idx, weight
}
