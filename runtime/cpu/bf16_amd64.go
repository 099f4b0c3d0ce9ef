//go:build amd64 && !purego

package cpu

import "golang.org/x/sys/cpu"

// hasBF16 reports AVX-512 BF16 (VCVTNEPS2BF16), on top of what useAVX512
// needs (BW+VL for the 16-bit masked stores).
var hasBF16 = hasAVX512 && cpu.X86.HasAVX512BF16

// useBF16Asm selects the assembly narrowing; CRSC_SIMD=off (useAVX512
// false) turns it off with the other kernels.
func useBF16Asm() bool { return useAVX512 && hasBF16 }

// f32ToBF16AVX512 sets dst[i] = BF16FromFloat32(src[i]) for i < n.
//
//go:noescape
func f32ToBF16AVX512(dst *uint16, src *float32, n int)

// bf16ToF32AVX512 sets dst[i] = BF16ToFloat32(src[i]) for i < n (AVX-512F
// and BW only).
//
//go:noescape
func bf16ToF32AVX512(dst *float32, src *uint16, n int)
