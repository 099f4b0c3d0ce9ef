//go:build amd64 && !purego

#include "textflag.h"
#include "tailmask_amd64.h"

// bfloat16 conversions of bf16.go, 16 elements per vector, a masked final
// vector for the last n%16 (the masked loads suppress faults past the end).

// VCVTNEPS2BF16 Z0, Y1 (AVX512_BF16), which the Go assembler does not
// know: EVEX.512.F3.0F38.W0 72 /r with ModRM 11 001 000.
#define CVTNE_Z0_Y1 \
	BYTE $0x62; BYTE $0xF2; BYTE $0x7E; BYTE $0x48; BYTE $0x72; BYTE $0xC8

// func f32ToBF16AVX512(dst *uint16, src *float32, n int)
TEXT ·f32ToBF16AVX512(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX

narrowloop:
	CMPQ      CX, $16
	JLT       narrowtail
	VMOVUPS   (SI), Z0
	CVTNE_Z0_Y1
	VMOVDQU16 Y1, (DI)
	ADDQ      $64, SI
	ADDQ      $32, DI
	SUBQ      $16, CX
	JMP       narrowloop

narrowtail:
	TESTQ     CX, CX
	JZ        narrowdone
	TAILMASK
	VMOVUPS.Z (SI), K1, Z0
	CVTNE_Z0_Y1
	VMOVDQU16 Y1, K1, (DI)

narrowdone:
	VZEROUPPER
	RET

// func bf16ToF32AVX512(dst *float32, src *uint16, n int)
TEXT ·bf16ToF32AVX512(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX

widenloop:
	CMPQ      CX, $16
	JLT       widentail
	VPMOVZXWD (SI), Z0
	VPSLLD    $16, Z0, Z0
	VMOVUPS   Z0, (DI)
	ADDQ      $32, SI
	ADDQ      $64, DI
	SUBQ      $16, CX
	JMP       widenloop

widentail:
	TESTQ       CX, CX
	JZ          widendone
	TAILMASK
	VMOVDQU16.Z (SI), K1, Y0
	VPMOVZXWD   Y0, Z0
	VPSLLD      $16, Z0, Z0
	VMOVUPS     Z0, K1, (DI)

widendone:
	VZEROUPPER
	RET
