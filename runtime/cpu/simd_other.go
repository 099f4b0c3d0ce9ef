//go:build !amd64 || purego

package cpu

// Without the assembly (other architectures, or the purego build tag)
// every kernel takes its pure-Go path.
const hasAVX512 = false

var useAVX512 = false

const hasAVX2 = false

var useAVX2 = false

type unaryAVX2 int

const (
	geluErfUnary unaryAVX2 = iota
	geluTanhUnary
)

func mapAVX2(k unaryAVX2, dst, x []float32)      { panic("unreachable") }
func geluErfGradAVX2Slices(dst, dy, x []float32) { panic("unreachable") }
func layerNormRowAVX2(out, row, sc, b []float32, eps float64) (mu, is float64) {
	panic("unreachable")
}
func normRowSumsAVX2Slices(g, y []float32, bias, rs, xh, sc, colS, colB []float64) (sg, sgx float64) {
	panic("unreachable")
}
func normRowDxAVX2Slices(out, g []float32, xh, sc []float64, c [3]float64) { panic("unreachable") }
func dropoutAVX2(out, x *float32, mask *bool, n int, v *philoxVecs, ratio, scale float32) {
	panic("unreachable")
}
func expShiftAVX2Slices(dst, x []float32, m float32) float64 { panic("unreachable") }

func geluErfAVX512(dst, x *float32, n int)         { panic("unreachable") }
func geluErfGradAVX512(dst, dy, x *float32, n int) { panic("unreachable") }
func geluTanhAVX512(dst, x *float32, n int)        { panic("unreachable") }
func expShiftAVX512(dst, x *float32, n int, m float32) float32 {
	panic("unreachable")
}
func dropoutAVX512(out, x *float32, mask *bool, n int, v *philoxVecs, ratio, scale float32) {
	panic("unreachable")
}
func maxAVX512(x *float32, n int) float32      { panic("unreachable") }
func scaleAVX512(x *float32, n int, s float32) { panic("unreachable") }
func normRowSumsAVX512(dy, y *float32, bias, rs, xh, sc, colS, colB *float64, n int, sums *[2]float64) {
	panic("unreachable")
}
func normRowDxAVX512(out, dy *float32, xh, sc *float64, n int, c *[3]float64) { panic("unreachable") }
func rowMaxAbsBitsAVX512(x *float32, n int) uint32                            { panic("unreachable") }
func quantizeRowAVX512(dst *int8, src *float32, n int, inv float32)           { panic("unreachable") }
func dequantizeRowAVX512(dst *float32, src *int8, n int, s float32)           { panic("unreachable") }
func rowSumAVX512(x *float32, n int) float64                                  { panic("unreachable") }
func rowSumSqDevAVX512(x *float32, n int, mu float64) float64                 { panic("unreachable") }
func normRowOutAVX512(out, x, sc, b *float32, n int, mu, is float64)          { panic("unreachable") }
