//go:build amd64 && !purego

package cpu

// rowMaxAbsBitsAVX512 is the largest of the float32 bits of |x[i]|, i < n.
//
//go:noescape
func rowMaxAbsBitsAVX512(x *float32, n int) uint32

// quantizeRowAVX512 sets dst[i] to src[i]'s code under inv, i < n, for a
// finite row and a finite inv (quantize.go routes the others to Go).
//
//go:noescape
func quantizeRowAVX512(dst *int8, src *float32, n int, inv float32)

// dequantizeRowAVX512 sets dst[i] = float32(src[i])·s, i < n.
//
//go:noescape
func dequantizeRowAVX512(dst *float32, src *int8, n int, s float32)
