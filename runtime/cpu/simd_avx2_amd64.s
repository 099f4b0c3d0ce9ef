//go:build amd64 && !purego

#include "textflag.h"

// AVX2/FMA forms of the float32 kernels of simd_amd64.s, for machines
// without AVX-512: the same polynomials on 8 lanes, in the same order of
// operations, so both give the same bits (fastmath_test.go checks that).
// AVX2 has no opmask registers, so these take n a multiple of 8; the Go
// wrappers (simd_avx2_amd64.go) run the last n%8 elements through the
// same code in a padded buffer. The constants are ·fm's (fastmath.go),
// broadcast into Y4 where an instruction needs them; the clamp bounds sit
// in Y12–Y15 because VMAXPS/VMINPS propagate a NaN only from their
// second (register) operand.

#define FM(i) ·fm+(4*(i))(SB)

// Clamp bounds: Y12/Y13 = ∓4 for erf, Y14/Y15 = −104/89 for exp.
#define LOADCLAMPS2 \
	VBROADCASTSS FM(0), Y12;  \
	VBROADCASTSS FM(1), Y13;  \
	VBROADCASTSS FM(23), Y14; \
	VBROADCASTSS FM(24), Y15

// FMAC: p = p·t2 + fm[i], through Y4.
#define FMAC(i, t2, p) \
	VBROADCASTSS FM(i), Y4; \
	VFMADD213PS  Y4, t2, p

// ERF2 sets p = erf(t) by erf32's rational form (t clamped in place; t2,
// q scratch), as simd_amd64.s's ERF.
#define ERF2(t, t2, p, q) \
	VMAXPS       t, Y12, t;  \
	VMINPS       t, Y13, t;  \
	VMULPS       t, t, t2;   \
	VBROADCASTSS FM(2), p;   \
	FMAC(3, t2, p);          \
	FMAC(4, t2, p);          \
	FMAC(5, t2, p);          \
	FMAC(6, t2, p);          \
	FMAC(7, t2, p);          \
	FMAC(8, t2, p);          \
	VMULPS       t, p, p;    \
	VBROADCASTSS FM(9), q;   \
	FMAC(10, t2, q);         \
	FMAC(11, t2, q);         \
	FMAC(12, t2, q);         \
	FMAC(13, t2, q);         \
	VDIVPS       q, p, p

// EXP2 sets p = exp(x) as simd_amd64.s's EXP (x clamped and reduced in
// place; n, d scratch). VSCALEFPS's p·2^n becomes two exact powers of
// two, 2^(n>>1) and 2^(n − n>>1), each a normal float32 over the clamped
// range, multiplied in turn: the first product is exact, the second
// rounds once, as VSCALEFPS does, into a subnormal or +Inf where p·2^n
// is one.
#define EXP2(x, n, p, d) \
	VMAXPS       x, Y14, x;     \
	VMINPS       x, Y15, x;     \
	VBROADCASTSS FM(14), n;     \
	VMULPS       n, x, n;       \
	VROUNDPS     $8, n, n;      \
	VBROADCASTSS FM(15), Y4;    \
	VFNMADD231PS Y4, n, x;      \
	VBROADCASTSS FM(16), Y4;    \
	VFNMADD231PS Y4, n, x;      \
	VBROADCASTSS FM(17), p;     \
	FMAC(18, x, p);             \
	FMAC(19, x, p);             \
	FMAC(20, x, p);             \
	FMAC(21, x, p);             \
	FMAC(22, x, p);             \
	FMAC(22, x, p);             \
	VCVTPS2DQ    n, n;          \
	VPSRAD       $1, n, d;      \
	VPSUBD       d, n, n;       \
	VPBROADCASTD FM(22), Y4;    \
	VPSLLD       $23, d, d;     \
	VPADDD       Y4, d, d;      \
	VMULPS       d, p, p;       \
	VPSLLD       $23, n, n;     \
	VPADDD       Y4, n, n;      \
	VMULPS       n, p, p

// FOLD4PD sums the 4 float64 lanes of y into the low lane of x (its X
// form; t scratch): 4 → 2 → 1.
#define FOLD4PD(y, x, t) \
	VEXTRACTF128 $1, y, t; \
	VADDPD       t, x, x;  \
	VPERMILPD    $1, x, t; \
	VADDSD       t, x, x

// MAP8 runs OP (Y1 = f(Y0)) over the n float32s of x (a multiple of 8)
// into dst, and returns.
#define MAP8(OP, loop, done) \
loop:                        \
	CMPQ    CX, $8;          \
	JLT     done;            \
	VMOVUPS (SI), Y0;        \
	OP;                      \
	VMOVUPS Y1, (DI);        \
	ADDQ    $32, SI;         \
	ADDQ    $32, DI;         \
	SUBQ    $8, CX;          \
	JMP     loop;            \
done:                        \
	VZEROUPPER;              \
	RET

#define MAP_ARGS \
	MOVQ dst+0(FP), DI; \
	MOVQ x+8(FP), SI;   \
	MOVQ n+16(FP), CX

// GELU2: Y1 = 0.5·x·(1 + erf(x/√2)) for x in Y0.
#define GELU2 \
	VBROADCASTSS FM(25), Y2;   \
	VMULPS       Y2, Y0, Y2;   \
	ERF2(Y2, Y3, Y1, Y5);      \
	VBROADCASTSS FM(26), Y6;   \
	VMULPS       Y6, Y0, Y6;   \
	VFMADD213PS  Y6, Y6, Y1

// func geluErfAVX2(dst, x *float32, n int)
TEXT ·geluErfAVX2(SB), NOSPLIT, $0-24
	MAP_ARGS
	LOADCLAMPS2
	MAP8(GELU2, geluloop, geludone)

// GELUGRAD2: Y1 = dy·(0.5 + 0.5·erf(x/√2) + x·exp(−x²/2)/√(2π)) for x in
// Y0, dy in Y7.
#define GELUGRAD2 \
	VBROADCASTSS FM(25), Y2;   \
	VMULPS       Y2, Y0, Y2;   \
	ERF2(Y2, Y3, Y1, Y5);      \
	VBROADCASTSS FM(26), Y6;   \
	VFMADD213PS  Y6, Y6, Y1;   \
	VMULPS       Y0, Y0, Y8;   \
	VBROADCASTSS FM(27), Y4;   \
	VMULPS       Y4, Y8, Y8;   \
	EXP2(Y8, Y9, Y10, Y5);     \
	VBROADCASTSS FM(28), Y11;  \
	VMULPS       Y11, Y0, Y11; \
	VFMADD231PS  Y11, Y10, Y1; \
	VMULPS       Y7, Y1, Y1

// func geluErfGradAVX2(dst, dy, x *float32, n int)
TEXT ·geluErfGradAVX2(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ dy+8(FP), DX
	MOVQ x+16(FP), SI
	MOVQ n+24(FP), CX
	LOADCLAMPS2

gradloop:
	CMPQ    CX, $8
	JLT     graddone
	VMOVUPS (SI), Y0
	VMOVUPS (DX), Y7
	GELUGRAD2
	VMOVUPS Y1, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DX
	ADDQ    $32, DI
	SUBQ    $8, CX
	JMP     gradloop

graddone:
	VZEROUPPER
	RET

// GELUTANH2: Y1 = x / (1 + exp(−2·√(2/π)·(x + 0.044715·x³))) for x in Y0.
#define GELUTANH2 \
	VMULPS       Y0, Y0, Y2;   \
	VBROADCASTSS FM(30), Y3;   \
	FMAC(31, Y2, Y3);          \
	VMULPS       Y0, Y3, Y3;   \
	EXP2(Y3, Y6, Y5, Y7);      \
	VBROADCASTSS FM(22), Y4;   \
	VADDPS       Y4, Y5, Y5;   \
	VDIVPS       Y5, Y0, Y1

// func geluTanhAVX2(dst, x *float32, n int)
TEXT ·geluTanhAVX2(SB), NOSPLIT, $0-24
	MAP_ARGS
	LOADCLAMPS2
	MAP8(GELUTANH2, tanhloop, tanhdone)

// func expShiftAVX2(dst, x *float32, n int, m float32, sums *[8]float32)
// sets dst[i] = exp(x[i] − m) over n (a multiple of 8) and adds each lane's
// results to sums (8 float32 lanes, as the AVX-512 kernel's 16).
TEXT ·expShiftAVX2(SB), NOSPLIT, $0-40
	MAP_ARGS
	VBROADCASTSS m+24(FP), Y8
	MOVQ         sums+32(FP), AX
	VMOVUPS      (AX), Y11
	LOADCLAMPS2

exploop:
	CMPQ    CX, $8
	JLT     expdone
	VMOVUPS (SI), Y0
	VSUBPS  Y8, Y0, Y0
	EXP2(Y0, Y1, Y2, Y3)
	VMOVUPS Y2, (DI)
	VADDPS  Y2, Y11, Y11
	ADDQ    $32, SI
	ADDQ    $32, DI
	SUBQ    $8, CX
	JMP     exploop

expdone:
	VMOVUPS Y11, (AX)
	VZEROUPPER
	RET

// The LayerNorm row kernels of simd_amd64.s on 4 float64 lanes (n a
// multiple of 4; the Go wrappers take the rest).

// func rowSumAVX2(x *float32, n int) float64
TEXT ·rowSumAVX2(SB), NOSPLIT, $0-24
	MOVQ   x+0(FP), SI
	MOVQ   n+8(FP), CX
	VXORPD Y10, Y10, Y10

rsloop:
	CMPQ      CX, $4
	JLT       rsfold
	VCVTPS2PD (SI), Y0
	VADDPD    Y0, Y10, Y10
	ADDQ      $16, SI
	SUBQ      $4, CX
	JMP       rsloop

rsfold:
	FOLD4PD(Y10, X10, X1)
	VMOVSD X10, ret+16(FP)
	VZEROUPPER
	RET

// func rowSumSqDevAVX2(x *float32, n int, mu float64) float64
TEXT ·rowSumSqDevAVX2(SB), NOSPLIT, $0-32
	MOVQ         x+0(FP), SI
	MOVQ         n+8(FP), CX
	VBROADCASTSD mu+16(FP), Y12
	VXORPD       Y10, Y10, Y10

sqloop:
	CMPQ        CX, $4
	JLT         sqfold
	VCVTPS2PD   (SI), Y0
	VSUBPD      Y12, Y0, Y0
	VFMADD231PD Y0, Y0, Y10
	ADDQ        $16, SI
	SUBQ        $4, CX
	JMP         sqloop

sqfold:
	FOLD4PD(Y10, X10, X1)
	VMOVSD X10, ret+24(FP)
	VZEROUPPER
	RET

// func normRowOutAVX2(out, x, sc, b *float32, n int, mu, is float64)
// out = float32(((x − mu)·is)·sc [+ b]), each step rounded in float64.
TEXT ·normRowOutAVX2(SB), NOSPLIT, $0-56
	MOVQ         out+0(FP), DI
	MOVQ         x+8(FP), SI
	MOVQ         sc+16(FP), BX
	MOVQ         b+24(FP), DX
	MOVQ         n+32(FP), CX
	VBROADCASTSD mu+40(FP), Y12
	VBROADCASTSD is+48(FP), Y13

lnloop:
	CMPQ      CX, $4
	JLT       lndone
	VCVTPS2PD (SI), Y0
	VSUBPD    Y12, Y0, Y0
	VMULPD    Y13, Y0, Y0
	VCVTPS2PD (BX), Y1
	VMULPD    Y1, Y0, Y0
	TESTQ     DX, DX
	JZ        lnstore
	VCVTPS2PD (DX), Y2
	VADDPD    Y2, Y0, Y0
	ADDQ      $16, DX

lnstore:
	VCVTPD2PSY Y0, X0
	VMOVUPS    X0, (DI)
	ADDQ       $16, DI
	ADDQ       $16, SI
	ADDQ       $16, BX
	SUBQ       $4, CX
	JMP        lnloop

lndone:
	VZEROUPPER
	RET

// The norm-gradient row kernels of simd_amd64.s (normRowSums, normRowDx)
// on 4 float64 lanes, n a multiple of 4.

// func normRowSumsAVX2(dy, y *float32, bias, rs, xh, sc, colS, colB *float64, n int, sums *[2]float64)
TEXT ·normRowSumsAVX2(SB), NOSPLIT, $0-80
	MOVQ   dy+0(FP), SI
	MOVQ   y+8(FP), R10
	MOVQ   bias+16(FP), R11
	MOVQ   rs+24(FP), R12
	MOVQ   xh+32(FP), DX
	MOVQ   sc+40(FP), BX
	MOVQ   colS+48(FP), R8
	MOVQ   colB+56(FP), R9
	MOVQ   n+64(FP), CX
	VXORPD Y10, Y10, Y10
	VXORPD Y11, Y11, Y11

sumsloop:
	CMPQ        CX, $4
	JLT         sumsfold
	VCVTPS2PD   (R10), Y0
	VSUBPD      (R11), Y0, Y0
	VMULPD      (R12), Y0, Y0
	VMOVUPD     Y0, (DX)
	VCVTPS2PD   (SI), Y1
	VMOVUPD     (R8), Y2
	VFMADD231PD Y0, Y1, Y2
	VMOVUPD     Y2, (R8)
	VADDPD      (R9), Y1, Y3
	VMOVUPD     Y3, (R9)
	VMULPD      (BX), Y1, Y4
	VADDPD      Y4, Y10, Y10
	VFMADD231PD Y0, Y4, Y11
	ADDQ        $16, SI
	ADDQ        $16, R10
	ADDQ        $32, R11
	ADDQ        $32, R12
	ADDQ        $32, DX
	ADDQ        $32, BX
	ADDQ        $32, R8
	ADDQ        $32, R9
	SUBQ        $4, CX
	JMP         sumsloop

sumsfold:
	FOLD4PD(Y10, X10, X1)
	FOLD4PD(Y11, X11, X2)
	MOVQ   sums+72(FP), AX
	VMOVSD X10, (AX)
	VMOVSD X11, 8(AX)
	VZEROUPPER
	RET

// func normRowDxAVX2(out, dy *float32, xh, sc *float64, n int, c *[3]float64)
// out = float32(is·((g·sc − mg) − x̂·mgx)), c = (is, mg, mgx).
TEXT ·normRowDxAVX2(SB), NOSPLIT, $0-48
	MOVQ         out+0(FP), DI
	MOVQ         dy+8(FP), SI
	MOVQ         xh+16(FP), DX
	MOVQ         sc+24(FP), BX
	MOVQ         n+32(FP), CX
	MOVQ         c+40(FP), AX
	VBROADCASTSD (AX), Y12
	VBROADCASTSD 8(AX), Y13
	VBROADCASTSD 16(AX), Y14

dxloop:
	CMPQ         CX, $4
	JLT          dxdone
	VCVTPS2PD    (SI), Y1
	VMULPD       (BX), Y1, Y1
	VSUBPD       Y13, Y1, Y1
	VMOVUPD      (DX), Y0
	VFNMADD231PD Y14, Y0, Y1
	VMULPD       Y12, Y1, Y1
	VCVTPD2PSY   Y1, X1
	VMOVUPS      X1, (DI)
	ADDQ         $16, SI
	ADDQ         $16, DI
	ADDQ         $32, DX
	ADDQ         $32, BX
	SUBQ         $4, CX
	JMP          dxloop

dxdone:
	VZEROUPPER
	RET

// ROUND2 is one Philox4x32 round on two blocks at once (one per 128-bit
// lane), as simd_amd64.s's ROUND on four: VPMULUDQ multiplies x0 by M0
// and x2 by M1 (Y1 = [M0, 0, M1, 0] per lane), VPSHUFD reorders the
// products, and two XORs add the shifted counter and round key r (the
// low 32 bytes of philoxVecs.keys[r], at R8).
#define ROUND2(src, dst, r) \
	VPMULUDQ Y1, src, dst;        \
	VPSHUFD  $0x1B, dst, dst;     \
	VPSRLQ   $32, src, Y8;        \
	VPXOR    (192+64*(r))(R8), Y8, Y8; \
	VPXOR    Y8, dst, dst

#define PHILOX2(ctr, a, b) \
	ROUND2(ctr, a, 0); \
	ROUND2(a, b, 1);   \
	ROUND2(b, a, 2);   \
	ROUND2(a, b, 3);   \
	ROUND2(b, a, 4);   \
	ROUND2(a, b, 5);   \
	ROUND2(b, a, 6);   \
	ROUND2(a, b, 7);   \
	ROUND2(b, a, 8);   \
	ROUND2(a, b, 9)

// KEEP2: m = all ones where float32(w >> 8)·2^-24 >= ratio (Y3), exactly
// rng.ToUniform's rule; out = x·scale (Y4) there, +0 elsewhere.
#define KEEP2(w, m, xoff) \
	VPSRLD    $8, w, w;         \
	VCVTDQ2PS w, w;             \
	VMULPS    Y5, w, w;         \
	VCMPPS    $13, Y3, w, m;    \
	VMULPS    xoff(SI), Y4, w;  \
	VANDPS    m, w, w;          \
	VMOVUPS   w, xoff(DI)

// func dropoutAVX2(out, x *float32, mask *bool, n int, v *philoxVecs, ratio, scale float32)
// is dropoutAVX512 on two YMM halves of v's four blocks per 16 elements
// (n a multiple of 16): the same words, so the same mask.
TEXT ·dropoutAVX2(SB), NOSPLIT, $0-48
	MOVQ         out+0(FP), DI
	MOVQ         x+8(FP), SI
	MOVQ         mask+16(FP), DX
	MOVQ         n+24(FP), CX
	MOVQ         v+32(FP), R8
	VMOVDQU      0(R8), Y0   // blocks 0, 1
	VMOVDQU      32(R8), Y9  // blocks 2, 3
	VMOVDQU      64(R8), Y1
	VMOVDQU      128(R8), Y2
	VBROADCASTSS ratio+40(FP), Y3
	VBROADCASTSS scale+44(FP), Y4
	VBROADCASTSS FM(29), Y5

droploop:
	CMPQ CX, $16
	JLT  dropdone
	PHILOX2(Y0, Y6, Y7)
	KEEP2(Y7, Y10, 0)
	PHILOX2(Y9, Y6, Y11)
	KEEP2(Y11, Y12, 32)
	TESTQ DX, DX
	JZ    dropnomask
	// The 16 lane masks (−1 or 0) to bytes 1 or 0, in element order.
	VPACKSSDW    Y12, Y10, Y13
	VPERMQ       $0xD8, Y13, Y13
	VEXTRACTI128 $1, Y13, X14
	VPACKSSWB    X14, X13, X13
	VPABSB       X13, X13
	VMOVDQU      X13, (DX)
	ADDQ         $16, DX

dropnomask:
	VPADDD Y2, Y0, Y0
	VPADDD Y2, Y9, Y9
	ADDQ   $64, SI
	ADDQ   $64, DI
	SUBQ   $16, CX
	JMP    droploop

dropdone:
	VZEROUPPER
	RET
