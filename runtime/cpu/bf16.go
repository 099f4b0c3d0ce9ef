package cpu

import (
	"unsafe"

	"crsc/compiler/ir"
)

// bfloat16 conversion for Cast to and from ONNX type 16 (ir.BFloat16,
// stored packed two elements per int32 word). Training graphs use it to
// keep activations for backward in half the memory (passes.Stash), so it
// sits on the step's path twice per stashed tensor and is vectorized: the
// AVX-512 BF16 VCVTNEPS2BF16 (bf16_amd64.s) narrows 16 floats at a time,
// and a zero-extend and shift widens them; both paths give the bits of
// ir.BF16FromFloat32 / ir.BF16ToFloat32.

// bf16Chunk is the elements one unit of parallel work covers: even, so no
// two goroutines write halves of the same word.
const bf16Chunk = 4096

// packBF16 rounds src to bfloat16 into the packed words dst
// (len(dst) = (len(src)+1)/2; a final odd element's high half is 0).
func packBF16(ctx *Ctx, dst []int32, src []float32) {
	n := len(src)
	if n == 0 {
		return
	}
	if n%2 == 1 {
		dst[len(dst)-1] = 0
	}
	half := unsafe.Slice((*uint16)(unsafe.Pointer(unsafe.SliceData(dst))), 2*len(dst))
	parallelFor(ctx, (n+bf16Chunk-1)/bf16Chunk, n, func(lo, hi int) {
		a, b := lo*bf16Chunk, min(hi*bf16Chunk, n)
		if useBF16Asm() {
			f32ToBF16AVX512(&half[a], &src[a], b-a)
			return
		}
		for i := a; i < b; i++ {
			half[i] = ir.BF16FromFloat32(src[i])
		}
	})
}

// unpackBF16 widens the first len(dst) bfloat16 elements of words into dst.
func unpackBF16(ctx *Ctx, dst []float32, words []int32) {
	n := len(dst)
	if n == 0 {
		return
	}
	half := unsafe.Slice((*uint16)(unsafe.Pointer(unsafe.SliceData(words))), 2*len(words))
	parallelFor(ctx, (n+bf16Chunk-1)/bf16Chunk, n, func(lo, hi int) {
		a, b := lo*bf16Chunk, min(hi*bf16Chunk, n)
		if useAVX512 {
			bf16ToF32AVX512(&dst[a], &half[a], b-a)
			return
		}
		for i := a; i < b; i++ {
			dst[i] = ir.BF16ToFloat32(half[i])
		}
	})
}
