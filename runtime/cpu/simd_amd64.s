//go:build amd64 && !purego

#include "textflag.h"
#include "tailmask_amd64.h"

// AVX-512 forms of the float32 kernels in fastmath.go and philox.go. The
// constants come from the Go array ·fm (fastmath.go), by byte offset
// 4·index; see its comment for the layout. Broadcast memory operands
// (.BCST) keep them out of registers except the clamp bounds, which sit
// in Z28–Z31 because VMAXPS/VMINPS propagate a NaN only from their
// second (register) operand.

#define FM(i) ·fm+(4*(i))(SB)

// Clamp bounds: Z30/Z31 = ∓4 for erf, Z28/Z29 = −104/89 for exp.
#define LOADCLAMPS \
	VBROADCASTSS FM(0), Z30;  \
	VBROADCASTSS FM(1), Z31;  \
	VBROADCASTSS FM(23), Z28; \
	VBROADCASTSS FM(24), Z29

// ERF sets p = erf(t) by erf32's rational form (t clamped in place; t2,
// q scratch).
#define ERF(t, t2, p, q) \
	VMAXPS           t, Z30, t;     \
	VMINPS           t, Z31, t;     \
	VMULPS           t, t, t2;      \
	VBROADCASTSS     FM(2), p;      \
	VFMADD213PS.BCST FM(3), t2, p;  \
	VFMADD213PS.BCST FM(4), t2, p;  \
	VFMADD213PS.BCST FM(5), t2, p;  \
	VFMADD213PS.BCST FM(6), t2, p;  \
	VFMADD213PS.BCST FM(7), t2, p;  \
	VFMADD213PS.BCST FM(8), t2, p;  \
	VMULPS           t, p, p;       \
	VBROADCASTSS     FM(9), q;      \
	VFMADD213PS.BCST FM(10), t2, q; \
	VFMADD213PS.BCST FM(11), t2, q; \
	VFMADD213PS.BCST FM(12), t2, q; \
	VFMADD213PS.BCST FM(13), t2, q; \
	VDIVPS           q, p, p

// EXP sets p = exp(x) as exp32 does (x clamped and reduced in place; n
// scratch): n = round(x·log2e), r = x − n·ln2 in two parts, a degree-6
// polynomial, and VSCALEFPS for the 2^n, which also yields the subnormal
// results and +Inf past the range that exp32 handles with branches.
#define EXP(x, n, p) \
	VMAXPS           x, Z28, x;     \
	VMINPS           x, Z29, x;     \
	VMULPS.BCST      FM(14), x, n;  \
	VRNDSCALEPS      $8, n, n;      \
	VFNMADD231PS.BCST FM(15), n, x; \
	VFNMADD231PS.BCST FM(16), n, x; \
	VBROADCASTSS     FM(17), p;     \
	VFMADD213PS.BCST FM(18), x, p;  \
	VFMADD213PS.BCST FM(19), x, p;  \
	VFMADD213PS.BCST FM(20), x, p;  \
	VFMADD213PS.BCST FM(21), x, p;  \
	VFMADD213PS.BCST FM(22), x, p;  \
	VFMADD213PS.BCST FM(22), x, p;  \
	VSCALEFPS        n, p, p

// MAP_ARGS loads DI = dst, SI = x, CX = n of a func(dst, x *float32, n int, ...).
#define MAP_ARGS \
	MOVQ dst+0(FP), DI; \
	MOVQ x+8(FP), SI;   \
	MOVQ n+16(FP), CX

// TAIL jumps to done when no elements are left (CX = 0), else sets K1 to
// the CX lanes of the final, partial vector.
#define TAIL(done) \
	TESTQ CX, CX; \
	JZ    done;   \
	TAILMASK

// MAP16 runs OP (Z1 = f(Z0)) over the n float32s of x into dst, 16 at a
// time and then the masked tail, and returns.
#define MAP16(OP, loop, tail, done) \
loop:                             \
	CMPQ      CX, $16;            \
	JLT       tail;               \
	VMOVUPS   (SI), Z0;           \
	OP;                           \
	VMOVUPS   Z1, (DI);           \
	ADDQ      $64, SI;            \
	ADDQ      $64, DI;            \
	SUBQ      $16, CX;            \
	JMP       loop;               \
tail:                             \
	TAIL(done);                   \
	VMOVUPS.Z (SI), K1, Z0;       \
	OP;                           \
	VMOVUPS   Z1, K1, (DI);       \
done:                             \
	VZEROUPPER;                   \
	RET

// FOLD16TO4 folds the 16 float32 lanes of Z15 to 4 in X1 with op (VADDPS
// or VMAXPS): 16 → 8 → 4.
#define FOLD16TO4(op) \
	VEXTRACTF32X8 $1, Z15, Y1; \
	op            Y1, Y15, Y1; \
	VEXTRACTF128  $1, Y1, X2;  \
	op            X2, X1, X1

// FOLDPD sums the 8 float64 lanes of z (y: its low half) into the low
// lane of x (the X form of r; t scratch): 8 → 4 → 2 → 1.
#define FOLDPD(z, y, r, x, t) \
	VEXTRACTF64X4 $1, z, r; \
	VADDPD        r, y, r;  \
	VEXTRACTF128  $1, r, t; \
	VADDPD        t, x, x;  \
	VPERMILPD     $1, x, t; \
	VADDSD        t, x, x

// GELU: Z1 = 0.5·x·(1 + erf(x/√2)) for x in Z0.
#define GELU \
	VMULPS.BCST FM(25), Z0, Z2; \
	ERF(Z2, Z3, Z1, Z5);        \
	VMULPS.BCST FM(26), Z0, Z6; \
	VFMADD213PS Z6, Z6, Z1

// func geluErfAVX512(dst, x *float32, n int)
TEXT ·geluErfAVX512(SB), NOSPLIT, $0-24
	MAP_ARGS
	LOADCLAMPS

	MAP16(GELU, geluloop, gelutail, geludone)

// GELUGRAD: Z1 = dy·(0.5 + 0.5·erf(x/√2) + x·exp(−x²/2)/√(2π)) for x in
// Z0, dy in Z7.
#define GELUGRAD \
	VMULPS.BCST  FM(25), Z0, Z2; \
	ERF(Z2, Z3, Z1, Z5);         \
	VBROADCASTSS FM(26), Z6;     \
	VFMADD213PS  Z6, Z6, Z1;     \
	VMULPS       Z0, Z0, Z8;     \
	VMULPS.BCST  FM(27), Z8, Z8; \
	EXP(Z8, Z9, Z10);            \
	VMULPS.BCST  FM(28), Z0, Z11; \
	VFMADD231PS  Z11, Z10, Z1;   \
	VMULPS       Z7, Z1, Z1

// func geluErfGradAVX512(dst, dy, x *float32, n int)
TEXT ·geluErfGradAVX512(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ dy+8(FP), DX
	MOVQ x+16(FP), SI
	MOVQ n+24(FP), CX
	LOADCLAMPS

gradloop:
	CMPQ    CX, $16
	JLT     gradtail
	VMOVUPS (SI), Z0
	VMOVUPS (DX), Z7
	GELUGRAD
	VMOVUPS Z1, (DI)
	ADDQ    $64, SI
	ADDQ    $64, DX
	ADDQ    $64, DI
	SUBQ    $16, CX
	JMP     gradloop

gradtail:
	TAIL(graddone)
	VMOVUPS.Z (SI), K1, Z0
	VMOVUPS.Z (DX), K1, Z7
	GELUGRAD
	VMOVUPS   Z1, K1, (DI)

graddone:
	VZEROUPPER
	RET

// GELUTANH: Z1 = x / (1 + exp(−2·√(2/π)·(x + 0.044715·x³))) for x in Z0,
// which is 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).
#define GELUTANH \
	VMULPS           Z0, Z0, Z2;     \
	VBROADCASTSS     FM(30), Z3;     \
	VFMADD213PS.BCST FM(31), Z2, Z3; \
	VMULPS           Z0, Z3, Z3;     \
	EXP(Z3, Z4, Z5);                 \
	VADDPS.BCST      FM(22), Z5, Z5; \
	VDIVPS           Z5, Z0, Z1

// func geluTanhAVX512(dst, x *float32, n int)
TEXT ·geluTanhAVX512(SB), NOSPLIT, $0-24
	MAP_ARGS
	LOADCLAMPS

	MAP16(GELUTANH, tanhloop, tanhtail, tanhdone)

// func expShiftAVX512(dst, x *float32, n int, m float32) float32
TEXT ·expShiftAVX512(SB), NOSPLIT, $0-36
	MAP_ARGS
	VBROADCASTSS m+24(FP), Z12
	LOADCLAMPS
	VXORPS       Z15, Z15, Z15

exploop:
	CMPQ    CX, $16
	JLT     exptail
	VMOVUPS (SI), Z0
	VSUBPS  Z12, Z0, Z0
	EXP(Z0, Z1, Z2)
	VMOVUPS Z2, (DI)
	VADDPS  Z2, Z15, Z15
	ADDQ    $64, SI
	ADDQ    $64, DI
	SUBQ    $16, CX
	JMP     exploop

exptail:
	TAIL(expsum)
	VMOVUPS.Z (SI), K1, Z0
	VSUBPS    Z12, Z0, Z0
	EXP(Z0, Z1, Z2)
	VMOVUPS   Z2, K1, (DI)
	VADDPS    Z2, Z15, K1, Z15

expsum:
	// Fold the 16 lane sums: 16 → 8 → 4 → 2 → 1.
	FOLD16TO4(VADDPS)
	VHADDPS       X1, X1, X1
	VHADDPS       X1, X1, X1
	VZEROUPPER
	MOVSS         X1, ret+32(FP)
	RET

// ROUND is one Philox4x32 round on four blocks at once, each block's
// counter words (x0, x1, x2, x3) in one 128-bit lane: VPMULUDQ multiplies
// x0 by M0 and x2 by M1 (the even dwords, against Z1 = [M0, 0, M1, 0]),
// giving [lo0, hi0, lo1, hi1]; VPSHUFD reorders that to [hi1, lo1, hi0,
// lo0]; the three-way XOR (VPTERNLOGD 0x96) adds [x1, 0, x3, 0] (the
// counter shifted down a dword per qword) and the round key [k0, 0, k1, 0].
#define ROUND(src, dst, r) \
	VPMULUDQ   Z1, src, dst;                 \
	VPSHUFD    $0x1B, dst, dst;              \
	VPSRLQ     $32, src, Z8;                 \
	VPTERNLOGD $0x96, (192+64*(r))(R8), Z8, dst

// func dropoutAVX512(out, x *float32, mask *bool, n int, v *philoxVecs, ratio, scale float32)
TEXT ·dropoutAVX512(SB), NOSPLIT, $0-48
	MOVQ         out+0(FP), DI
	MOVQ         x+8(FP), SI
	MOVQ         mask+16(FP), DX
	MOVQ         n+24(FP), CX
	MOVQ         v+32(FP), R8
	VMOVDQU32    0(R8), Z0
	VMOVDQU32    64(R8), Z1
	VMOVDQU32    128(R8), Z2
	VBROADCASTSS ratio+40(FP), Z3
	VBROADCASTSS scale+44(FP), Z4
	VBROADCASTSS FM(29), Z5

droploop:
	CMPQ CX, $16
	JLT  dropdone
	ROUND(Z0, Z6, 0)
	ROUND(Z6, Z7, 1)
	ROUND(Z7, Z6, 2)
	ROUND(Z6, Z7, 3)
	ROUND(Z7, Z6, 4)
	ROUND(Z6, Z7, 5)
	ROUND(Z7, Z6, 6)
	ROUND(Z6, Z7, 7)
	ROUND(Z7, Z6, 8)
	ROUND(Z6, Z7, 9)

	// keep = float32(w >> 8)·2^-24 >= ratio, exactly rng.ToUniform's
	// value (both steps are exact in float32).
	VPSRLD    $8, Z7, Z7
	VCVTDQ2PS Z7, Z7
	VMULPS    Z5, Z7, Z7
	VCMPPS    $13, Z3, Z7, K1
	VMULPS.Z  (SI), Z4, K1, Z9
	VMOVUPS   Z9, (DI)
	TESTQ     DX, DX
	JZ        dropnomask
	VPMOVM2B  K1, X10
	VPABSB    X10, X10
	VMOVDQU   X10, (DX)
	ADDQ      $16, DX

dropnomask:
	VPADDD Z2, Z0, Z0
	ADDQ   $64, SI
	ADDQ   $64, DI
	SUBQ   $16, CX
	JMP    droploop

dropdone:
	VZEROUPPER
	RET

// func maxAVX512(x *float32, n int) float32
TEXT ·maxAVX512(SB), NOSPLIT, $0-20
	MOVQ         x+0(FP), SI
	MOVQ         n+8(FP), CX
	MOVL         $0xff800000, AX // -Inf
	VPBROADCASTD AX, Z14
	VMOVAPS      Z14, Z15

maxloop:
	CMPQ   CX, $16
	JLT    maxtail
	VMAXPS (SI), Z15, Z15
	ADDQ   $64, SI
	SUBQ   $16, CX
	JMP    maxloop

maxtail:
	TAIL(maxfold)
	VMOVAPS Z14, Z0
	VMOVUPS (SI), K1, Z0 // lanes past the end stay -Inf
	VMAXPS  Z0, Z15, Z15

maxfold:
	FOLD16TO4(VMAXPS)
	VPERMILPS     $0x4E, X1, X2
	VMAXPS        X2, X1, X1
	VPERMILPS     $0xB1, X1, X2
	VMAXPS        X2, X1, X1
	VZEROUPPER
	MOVSS         X1, ret+16(FP)
	RET

// func scaleAVX512(x *float32, n int, s float32)
TEXT ·scaleAVX512(SB), NOSPLIT, $0-20
	MOVQ         x+0(FP), SI
	MOVQ         n+8(FP), CX
	VBROADCASTSS s+16(FP), Z12

scaleloop:
	CMPQ    CX, $16
	JLT     scaletail
	VMULPS  (SI), Z12, Z0
	VMOVUPS Z0, (SI)
	ADDQ    $64, SI
	SUBQ    $16, CX
	JMP     scaleloop

scaletail:
	TAIL(scaledone)
	VMOVUPS.Z (SI), K1, Z0
	VMULPS    Z0, Z12, Z0
	VMOVUPS   Z0, K1, (SI)

scaledone:
	VZEROUPPER
	RET

// NORMSUMS: one group of 8 (mask kmask; all ones but in the tail) of
// normRowSumsAVX512: x̂ = (y − bias)·rs (stored), colS += g·x̂, colB += g,
// Z10 += g·sc, Z11 += g·sc·x̂.
#define NORMSUMS(kmask) \
	VCVTPS2PD.Z (R10), kmask, Z0;     \
	VSUBPD.Z    (R11), Z0, kmask, Z0; \
	VMULPD.Z    (R12), Z0, kmask, Z0; \
	VMOVUPD     Z0, kmask, (DX);      \
	VCVTPS2PD.Z (SI), kmask, Z1;      \
	VMOVUPD.Z   (R8), kmask, Z2;      \
	VFMADD231PD Z0, Z1, Z2;           \
	VMOVUPD     Z2, kmask, (R8);      \
	VADDPD.Z    (R9), Z1, kmask, Z3;  \
	VMOVUPD     Z3, kmask, (R9);      \
	VMULPD.Z    (BX), Z1, kmask, Z4;  \
	VADDPD      Z4, Z10, Z10;         \
	VFMADD231PD Z0, Z4, Z11

// func normRowSumsAVX512(dy, y *float32, bias, rs, xh, sc, colS, colB *float64, n int, sums *[2]float64)
TEXT ·normRowSumsAVX512(SB), NOSPLIT, $0-80
	MOVQ   dy+0(FP), SI
	MOVQ   y+8(FP), R10
	MOVQ   bias+16(FP), R11
	MOVQ   rs+24(FP), R12
	MOVQ   xh+32(FP), DX
	MOVQ   sc+40(FP), BX
	MOVQ   colS+48(FP), R8
	MOVQ   colB+56(FP), R9
	MOVQ   n+64(FP), CX
	VXORPD Z10, Z10, Z10
	VXORPD Z11, Z11, Z11
	MOVL   $0xff, AX
	KMOVW  AX, K2

sumsloop:
	CMPQ CX, $8
	JLT  sumstail
	NORMSUMS(K2)
	ADDQ $32, SI
	ADDQ $32, R10
	ADDQ $64, R11
	ADDQ $64, R12
	ADDQ $64, DX
	ADDQ $64, BX
	ADDQ $64, R8
	ADDQ $64, R9
	SUBQ $8, CX
	JMP  sumsloop

sumstail:
	TAIL(sumsfold)
	NORMSUMS(K1)

sumsfold:
	// Fold the 8 lanes of each: 8 → 4 → 2 → 1.
	FOLDPD(Z10, Y10, Y0, X0, X1)
	FOLDPD(Z11, Y11, Y2, X2, X3)
	MOVQ          sums+72(FP), AX
	VMOVSD        X0, (AX)
	VMOVSD        X2, 8(AX)
	VZEROUPPER
	RET

// NORMDX: one group of 8 of normRowDxAVX512:
// out = float32(is·((g·sc − mg) − x̂·mgx)), with Z12..Z14 = is, mg, mgx.
#define NORMDX(kmask) \
	VCVTPS2PD.Z  (SI), kmask, Z1; \
	VMULPD.Z     (BX), Z1, kmask, Z1; \
	VSUBPD       Z13, Z1, Z1; \
	VMOVUPD.Z    (DX), kmask, Z0; \
	VFNMADD231PD Z14, Z0, Z1; \
	VMULPD       Z12, Z1, Z1; \
	VCVTPD2PS    Z1, Y1;      \
	VMOVUPS      Y1, kmask, (DI)

// func normRowDxAVX512(out, dy *float32, xh, sc *float64, n int, c *[3]float64)
TEXT ·normRowDxAVX512(SB), NOSPLIT, $0-48
	MOVQ         out+0(FP), DI
	MOVQ         dy+8(FP), SI
	MOVQ         xh+16(FP), DX
	MOVQ         sc+24(FP), BX
	MOVQ         n+32(FP), CX
	MOVQ         c+40(FP), AX
	VBROADCASTSD (AX), Z12
	VBROADCASTSD 8(AX), Z13
	VBROADCASTSD 16(AX), Z14
	MOVL         $0xff, AX
	KMOVW        AX, K2

dxloop:
	CMPQ CX, $8
	JLT  dxtail
	NORMDX(K2)
	ADDQ $32, SI
	ADDQ $32, DI
	ADDQ $64, DX
	ADDQ $64, BX
	SUBQ $8, CX
	JMP  dxloop

dxtail:
	TAIL(dxdone)
	NORMDX(K1)

dxdone:
	VZEROUPPER
	RET

// ROWSUM: Z10 += float64(x) over one group of 8 float32s at SI.
#define ROWSUM(kmask) \
	VCVTPS2PD.Z (SI), kmask, Z0; \
	VADDPD      Z0, Z10, Z10

// func rowSumAVX512(x *float32, n int) float64
TEXT ·rowSumAVX512(SB), NOSPLIT, $0-24
	MOVQ   x+0(FP), SI
	MOVQ   n+8(FP), CX
	VXORPD Z10, Z10, Z10
	MOVL   $0xff, AX
	KMOVW  AX, K2

rsloop:
	CMPQ CX, $8
	JLT  rstail
	ROWSUM(K2)
	ADDQ $32, SI
	SUBQ $8, CX
	JMP  rsloop

rstail:
	TAIL(rsfold)
	ROWSUM(K1)

rsfold:
	FOLDPD(Z10, Y10, Y0, X0, X1)
	VMOVSD X0, ret+16(FP)
	VZEROUPPER
	RET

// ROWSQDEV: Z10 += (float64(x) − mu)² over one group of 8, Z12 = mu; the
// masked-off lanes load 0 and are zeroed again after the subtraction.
#define ROWSQDEV(kmask) \
	VCVTPS2PD.Z (SI), kmask, Z0; \
	VSUBPD.Z    Z12, Z0, kmask, Z0; \
	VFMADD231PD Z0, Z0, Z10

// func rowSumSqDevAVX512(x *float32, n int, mu float64) float64
TEXT ·rowSumSqDevAVX512(SB), NOSPLIT, $0-32
	MOVQ         x+0(FP), SI
	MOVQ         n+8(FP), CX
	VBROADCASTSD mu+16(FP), Z12
	VXORPD       Z10, Z10, Z10
	MOVL         $0xff, AX
	KMOVW        AX, K2

sqloop:
	CMPQ CX, $8
	JLT  sqtail
	ROWSQDEV(K2)
	ADDQ $32, SI
	SUBQ $8, CX
	JMP  sqloop

sqtail:
	TAIL(sqfold)
	ROWSQDEV(K1)

sqfold:
	FOLDPD(Z10, Y10, Y0, X0, X1)
	VMOVSD X0, ret+24(FP)
	VZEROUPPER
	RET

// LNOUT: one group of 8 of normRowOutAVX512, out = float32(((x − mu)·is)·sc
// [+ b]) with each operation rounded in float64 as the scalar loop rounds
// it (no fused multiply-add); Z12, Z13 = mu, is.
#define LNOUT(kmask, BIAS) \
	VCVTPS2PD.Z (SI), kmask, Z0; \
	VSUBPD      Z12, Z0, Z0;     \
	VMULPD      Z13, Z0, Z0;     \
	VCVTPS2PD.Z (BX), kmask, Z1; \
	VMULPD      Z1, Z0, Z0;      \
	BIAS;                        \
	VCVTPD2PS   Z0, Y0;          \
	VMOVUPS     Y0, kmask, (DI)

#define ADDBIAS(kmask) \
	VCVTPS2PD.Z (DX), kmask, Z2; \
	VADDPD      Z2, Z0, Z0

#define NOBIAS

// func normRowOutAVX512(out, x, sc, b *float32, n int, mu, is float64)
TEXT ·normRowOutAVX512(SB), NOSPLIT, $0-56
	MOVQ         out+0(FP), DI
	MOVQ         x+8(FP), SI
	MOVQ         sc+16(FP), BX
	MOVQ         b+24(FP), DX
	MOVQ         n+32(FP), CX
	VBROADCASTSD mu+40(FP), Z12
	VBROADCASTSD is+48(FP), Z13
	MOVL         $0xff, AX
	KMOVW        AX, K2
	TESTQ        DX, DX
	JZ           nbloop

lnloop:
	CMPQ CX, $8
	JLT  lntail
	LNOUT(K2, ADDBIAS(K2))
	ADDQ $32, DI
	ADDQ $32, SI
	ADDQ $32, BX
	ADDQ $32, DX
	SUBQ $8, CX
	JMP  lnloop

lntail:
	TAIL(lndone)
	LNOUT(K1, ADDBIAS(K1))
	JMP lndone

nbloop:
	CMPQ CX, $8
	JLT  nbtail
	LNOUT(K2, NOBIAS)
	ADDQ $32, DI
	ADDQ $32, SI
	ADDQ $32, BX
	SUBQ $8, CX
	JMP  nbloop

nbtail:
	TAIL(lndone)
	LNOUT(K1, NOBIAS)

lndone:
	VZEROUPPER
	RET
