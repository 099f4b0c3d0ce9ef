//go:build !amd64 || purego

package optim

// Without the assembly (other architectures, or the purego build tag)
// AdamWInPlace runs its Go loop.
var simdLevel = 0

func maxSIMDLevel() int { return 0 }

func adamwSIMD(p, g, m, v []float32, s *Scalars, decay bool, x GradTransform) int { return 0 }

func sumSquaresSIMD() bool { return false }

func sumSquares4(xs []float32, averageOver float32, lanes *[2 * sumSquaresGroup]float64) {
	panic("unreachable")
}
