package gemm

// Tile of the pure-Go kernel: the AVX2 kernel's layout.
const (
	genericMR = 6
	genericNR = 16
)

// kernelGeneric is the portable micro-kernel with the same contract as the
// assembly one. It is the only kernel off amd64 and the reference the
// assembly is tested against; CRSC_GEMM=generic forces it.
func kernelGeneric(k int, a, b, c []float32, ldc int, alpha, beta float32) {
	const mr, nr = genericMR, genericNR
	var acc [mr][nr]float32
	a = a[:k*mr]
	b = b[:k*nr]
	for p := range k {
		ap := (*[mr]float32)(a[p*mr:])
		bp := (*[nr]float32)(b[p*nr:])
		for i := range mr {
			ai := ap[i]
			row := &acc[i]
			for j := range nr {
				row[j] += ai * bp[j]
			}
		}
	}
	for i := range mr {
		row := c[i*ldc : i*ldc+nr]
		for j := range row {
			if beta == 0 {
				row[j] = alpha * acc[i][j]
			} else {
				row[j] = alpha*acc[i][j] + beta*row[j]
			}
		}
	}
}
