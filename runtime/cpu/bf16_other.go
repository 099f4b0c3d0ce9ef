//go:build !amd64 || purego

package cpu

// Without the assembly the conversions take their pure-Go loops.
const hasBF16 = false

func useBF16Asm() bool { return false }

func f32ToBF16AVX512(dst *uint16, src *float32, n int) { panic("unreachable") }
func bf16ToF32AVX512(dst *float32, src *uint16, n int) { panic("unreachable") }
