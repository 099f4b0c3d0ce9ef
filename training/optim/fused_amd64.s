//go:build amd64 && !purego

#include "textflag.h"

// The AdamW element loop of fused.go's adamwGo, 16 (AVX-512) or 8 (AVX2)
// elements at a time. Bit-identity with the Go loop rests on three rules:
//   - only IEEE-exact, correctly rounded operations (VDIVPS, VSQRTPS,
//     VMULPS, VADDPS, VSUBPS), each rounded to float32 as the Go loop's
//     conversions round it; no fused multiply-add, no reciprocal
//     approximations;
//   - the Go loop's order of operations;
//   - the Go loop's operand order too, which only matters when both
//     operands of a commutative op are NaN (x86 then returns the first
//     source's NaN): the compiler emits (1−β1)·g + β1·m with the gradient
//     term first, and so on, and the kernels follow it.
// sqrt(float64(v)) rounded to float32 is the correctly rounded float32
// square root (double rounding is harmless for sqrt from 53 to 24 bits),
// which is what VSQRTPS computes. MXCSR is Go's default (no FTZ/DAZ), so
// denormals behave as in the scalar loop.
//
// Constants (adamwArgs, broadcast once): Z20/Y6 β1, Z21/Y7 1−β1,
// Z22/Y8 β2, Z23/Y9 1−β2, Z24/Y10 eps, Z25/Y11 stepSize,
// Z26/Y12 √(1−β2^t), Z27/Y13 decayFactor, Z28/Y14 averageOver,
// Z29/Y15 clipScale. Flags in DX: 1 decay, 2 average, 4 clip; the branches
// on them are perfectly predicted and cost nothing next to the divides.

// ADAMW_ARGS loads the arguments: DI = p, SI = grad, R8 = m, R9 = v,
// CX = n, DX = flags, and the ten adamwArgs constants broadcast into c0..c9.
#define ADAMW_ARGS(c0, c1, c2, c3, c4, c5, c6, c7, c8, c9) \
	MOVQ         p+0(FP), DI;      \
	MOVQ         grad+8(FP), SI;   \
	MOVQ         m+16(FP), R8;     \
	MOVQ         v+24(FP), R9;     \
	MOVQ         n+32(FP), CX;     \
	MOVQ         k+40(FP), AX;     \
	MOVQ         flags+48(FP), DX; \
	VBROADCASTSS 0(AX), c0;        \
	VBROADCASTSS 4(AX), c1;        \
	VBROADCASTSS 8(AX), c2;        \
	VBROADCASTSS 12(AX), c3;       \
	VBROADCASTSS 16(AX), c4;       \
	VBROADCASTSS 20(AX), c5;       \
	VBROADCASTSS 24(AX), c6;       \
	VBROADCASTSS 28(AX), c7;       \
	VBROADCASTSS 32(AX), c8;       \
	VBROADCASTSS 36(AX), c9

// SCALEGRAD divides the gradient g by averageOver (avg) under flag 2 and
// multiplies it by clipScale (clip) under flag 4.
#define SCALEGRAD(g, avg, clip, noavg, noclip) \
	TESTQ  $2, DX;     \
	JZ     noavg;      \
	VDIVPS avg, g, g;  \
noavg:                 \
	TESTQ  $4, DX;     \
	JZ     noclip;     \
	VMULPS clip, g, g; \
noclip:

// DECAY multiplies the parameters p by decayFactor (d) under flag 1.
#define DECAY(p, d, nodecay) \
	TESTQ  $1, DX;   \
	JZ     nodecay;  \
	VMULPS d, p, p;  \
nodecay:

// ADAMW_NEXT steps the four pointers by bytes and n by lanes, and loops.
#define ADAMW_NEXT(bytes, lanes, loop) \
	ADDQ $bytes, DI; \
	ADDQ $bytes, SI; \
	ADDQ $bytes, R8; \
	ADDQ $bytes, R9; \
	SUBQ $lanes, CX; \
	JMP  loop

// TAILMASK sets K1 to the low CX bits (1 ≤ CX ≤ 15), as runtime/cpu's
// tailmask_amd64.h does.
#define TAILMASK \
	MOVL  $1, AX; \
	SHLL  CX, AX; \
	DECL  AX;     \
	KMOVW AX, K1

// MOMENTS512 takes g in Z0, m in Z1, v in Z3 and leaves the new m in Z1,
// the new v in Z3 and the update (m/denom)·stepSize in Z2.
#define MOMENTS512 \
	VMULPS  Z1, Z20, Z1; \
	VMULPS  Z0, Z21, Z2; \
	VADDPS  Z1, Z2, Z1;  \
	VMULPS  Z3, Z22, Z3; \
	VMULPS  Z0, Z0, Z4;  \
	VMULPS  Z23, Z4, Z4; \
	VADDPS  Z3, Z4, Z3;  \
	VSQRTPS Z3, Z5;      \
	VDIVPS  Z26, Z5, Z5; \
	VADDPS  Z24, Z5, Z5; \
	VDIVPS  Z5, Z1, Z2;  \
	VMULPS  Z25, Z2, Z2

// ADAMW512 is one vector of the AVX-512 loop: p, grad, m and v read with
// ld and written with st (MOVE, or the K1-masked LOADK1/STOREK1 of
// the tail), the labels those of SCALEGRAD and DECAY.
#define ADAMW512(ld, st, noavg, noclip, nodecay) \
	ld((SI), Z0);                           \
	SCALEGRAD(Z0, Z28, Z29, noavg, noclip); \
	ld((R8), Z1);                           \
	ld((R9), Z3);                           \
	MOMENTS512;                             \
	ld((DI), Z6);                           \
	DECAY(Z6, Z27, nodecay);                \
	VSUBPS Z2, Z6, Z6;                      \
	st(Z6, (DI));                           \
	st(Z1, (R8));                           \
	st(Z3, (R9))

#define MOVE(src, dst) VMOVUPS src, dst
#define LOADK1(src, dst) VMOVUPS.Z src, K1, dst
#define STOREK1(src, dst) VMOVUPS src, K1, dst

// func adamwAVX512(p, grad, m, v *float32, n int, k *adamwArgs, flags int)
TEXT ·adamwAVX512(SB), NOSPLIT, $0-56
	ADAMW_ARGS(Z20, Z21, Z22, Z23, Z24, Z25, Z26, Z27, Z28, Z29)

loop512:
	CMPQ    CX, $16
	JLT     tail512
	ADAMW512(MOVE, MOVE, noavg512, noclip512, nodecay512)
	ADAMW_NEXT(64, 16, loop512)

	// The last n%16 elements: the same instructions on a masked vector
	// (lanes past the end load as zero, their results are not stored).
tail512:
	TESTQ     CX, CX
	JZ        done512
	TAILMASK
	ADAMW512(LOADK1, STOREK1, noavgtail512, nocliptail512, nodecaytail512)

done512:
	VZEROUPPER
	RET

// func adamwAVX2(p, grad, m, v *float32, n int, k *adamwArgs, flags int)
// n is a multiple of 8; the Go loop takes the remainder.
TEXT ·adamwAVX2(SB), NOSPLIT, $0-56
	ADAMW_ARGS(Y6, Y7, Y8, Y9, Y10, Y11, Y12, Y13, Y14, Y15)

loop2:
	CMPQ    CX, $8
	JLT     done2
	VMOVUPS (SI), Y0
	SCALEGRAD(Y0, Y14, Y15, noavg2, noclip2)
	// The same sequence as MOMENTS512, in four registers.
	VMOVUPS (R8), Y1
	VMULPS  Y1, Y6, Y1
	VMULPS  Y0, Y7, Y2
	VADDPS  Y1, Y2, Y1
	VMOVUPS (R9), Y3
	VMULPS  Y3, Y8, Y3
	VMULPS  Y0, Y0, Y2
	VMULPS  Y9, Y2, Y2
	VADDPS  Y3, Y2, Y3
	VSQRTPS Y3, Y2
	VDIVPS  Y12, Y2, Y2
	VADDPS  Y10, Y2, Y2
	VDIVPS  Y2, Y1, Y2
	VMULPS  Y11, Y2, Y2
	VMOVUPS (DI), Y0
	DECAY(Y0, Y13, nodecay2)
	VSUBPS  Y2, Y0, Y0
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, (R8)
	VMOVUPS Y3, (R9)
	ADAMW_NEXT(32, 8, loop2)

done2:
	VZEROUPPER
	RET

// func sumSquares4AVX512(x *float32, n int, avg float32, average int, lanes *[8]float64)
//
// Four chunks' sums of squares at once, each lane one of SumSquares'
// sequential chains: lanes 2j and 2j+1 are chunk j's s0 (even elements)
// and s1 (odd ones). Each step loads the next element pair of every
// chunk, divides in float32 (VDIVPS, as a/averageOver), widens to float64
// (exact), squares (exact: 24-bit significands) and adds acc + square, the
// Go loop's operand order, so every lane rounds exactly as the scalar
// chain does.
TEXT ·sumSquares4AVX512(SB), NOSPLIT, $0-40
	MOVQ         x+0(FP), SI
	MOVQ         n+8(FP), CX
	LEAQ         (SI)(CX*4), R8   // chunk 1
	LEAQ         (R8)(CX*4), R9   // chunk 2
	LEAQ         (R9)(CX*4), R10  // chunk 3
	SHLQ         $2, CX           // bytes per chunk
	VBROADCASTSS avg+16(FP), Y15
	MOVQ         average+24(FP), DX
	VXORPD       Z1, Z1, Z1
	XORQ         BX, BX

sumloop:
	CMPQ        BX, CX
	JGE         sumdone
	VMOVQ       (SI)(BX*1), X0
	VPINSRQ     $1, (R8)(BX*1), X0, X0
	VMOVQ       (R9)(BX*1), X2
	VPINSRQ     $1, (R10)(BX*1), X2, X2
	VINSERTF128 $1, X2, Y0, Y0
	TESTQ       DX, DX
	JZ          sumnoavg
	VDIVPS      Y15, Y0, Y0

sumnoavg:
	VCVTPS2PD Y0, Z0
	VMULPD    Z0, Z0, Z0
	VADDPD    Z0, Z1, Z1
	ADDQ      $8, BX
	JMP       sumloop

sumdone:
	MOVQ    lanes+32(FP), AX
	VMOVUPD Z1, (AX)
	VZEROUPPER
	RET
