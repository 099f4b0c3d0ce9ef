//go:build amd64 && !purego

#include "textflag.h"

// The AVX-512 micro-kernel: a 12×32 tile of C in 24 ZMM accumulators.
//
// Register budget (32 ZMM): Z0..Z23 hold the tile (row i in Z(2i), Z(2i+1)),
// Z24:Z25 the 32 floats of packed B for the current depth step, and Z26..Z31
// rotate as broadcasts of packed A so that consecutive FMAs never wait on
// the same broadcast. Per depth step that is 2 vector loads + 12 broadcasts
// for 24 FMAs (0.58 loads per FMA; 6×16 AVX2 needs 0.67), and 176 bytes read
// per 384 multiply-adds. 14×32 would use all 32 registers (28 + 2 + 2) for a
// 3 % better ratio but leaves edge tiles on every BERT shape (768 and 3072
// are multiples of 12, not of 14); 6×64 reads fewer instructions per FMA but
// 280 bytes per 384 multiply-adds and needs a B micro-panel twice as big in
// L1. Zen 4 issues one 512-bit FMA per cycle with 4-cycle latency, so 24
// independent accumulators hide the latency with room to spare.

// One depth step: load 32 floats of B, broadcast the 12 A values, 24 FMAs.
#define STEP512(aoff, boff) \
	VMOVUPS boff(BX), Z24; \
	VMOVUPS (boff+64)(BX), Z25; \
	VBROADCASTSS aoff(AX), Z26; \
	VFMADD231PS  Z24, Z26, Z0; \
	VFMADD231PS  Z25, Z26, Z1; \
	VBROADCASTSS (aoff+4)(AX), Z27; \
	VFMADD231PS  Z24, Z27, Z2; \
	VFMADD231PS  Z25, Z27, Z3; \
	VBROADCASTSS (aoff+8)(AX), Z28; \
	VFMADD231PS  Z24, Z28, Z4; \
	VFMADD231PS  Z25, Z28, Z5; \
	VBROADCASTSS (aoff+12)(AX), Z29; \
	VFMADD231PS  Z24, Z29, Z6; \
	VFMADD231PS  Z25, Z29, Z7; \
	VBROADCASTSS (aoff+16)(AX), Z30; \
	VFMADD231PS  Z24, Z30, Z8; \
	VFMADD231PS  Z25, Z30, Z9; \
	VBROADCASTSS (aoff+20)(AX), Z31; \
	VFMADD231PS  Z24, Z31, Z10; \
	VFMADD231PS  Z25, Z31, Z11; \
	VBROADCASTSS (aoff+24)(AX), Z26; \
	VFMADD231PS  Z24, Z26, Z12; \
	VFMADD231PS  Z25, Z26, Z13; \
	VBROADCASTSS (aoff+28)(AX), Z27; \
	VFMADD231PS  Z24, Z27, Z14; \
	VFMADD231PS  Z25, Z27, Z15; \
	VBROADCASTSS (aoff+32)(AX), Z28; \
	VFMADD231PS  Z24, Z28, Z16; \
	VFMADD231PS  Z25, Z28, Z17; \
	VBROADCASTSS (aoff+36)(AX), Z29; \
	VFMADD231PS  Z24, Z29, Z18; \
	VFMADD231PS  Z25, Z29, Z19; \
	VBROADCASTSS (aoff+40)(AX), Z30; \
	VFMADD231PS  Z24, Z30, Z20; \
	VFMADD231PS  Z25, Z30, Z21; \
	VBROADCASTSS (aoff+44)(AX), Z31; \
	VFMADD231PS  Z24, Z31, Z22; \
	VFMADD231PS  Z25, Z31, Z23

// Store one row: C = acc (beta == 0, C is never read).
#define STORE512(lo, hi) \
	VMOVUPS lo, (DI);   \
	VMOVUPS hi, 64(DI); \
	ADDQ    DX, DI

// Store one row: C = acc + beta*C, beta broadcast in Z26.
#define STOREBETA512(lo, hi) \
	VFMADD231PS (DI), Z26, lo;   \
	VFMADD231PS 64(DI), Z26, hi; \
	VMOVUPS     lo, (DI);        \
	VMOVUPS     hi, 64(DI);      \
	ADDQ        DX, DI

// func kernel12x32(k int, a, b, c *float32, ldc int, alpha, beta float32)
TEXT ·kernel12x32(SB), NOSPLIT, $0-48
	MOVQ k+0(FP), CX
	MOVQ a+8(FP), AX
	MOVQ b+16(FP), BX
	MOVQ c+24(FP), DI
	MOVQ ldc+32(FP), DX
	SHLQ $2, DX

	// Pull the C tile (12 rows of 128 bytes) towards L1 while the k loop
	// runs; it is only touched after the loop.
	MOVQ DI, R8
	PREFETCHT0 (R8)
	PREFETCHT0 64(R8)
	ADDQ       DX, R8
	PREFETCHT0 (R8)
	PREFETCHT0 64(R8)
	ADDQ       DX, R8
	PREFETCHT0 (R8)
	PREFETCHT0 64(R8)
	ADDQ       DX, R8
	PREFETCHT0 (R8)
	PREFETCHT0 64(R8)
	ADDQ       DX, R8
	PREFETCHT0 (R8)
	PREFETCHT0 64(R8)
	ADDQ       DX, R8
	PREFETCHT0 (R8)
	PREFETCHT0 64(R8)
	ADDQ       DX, R8
	PREFETCHT0 (R8)
	PREFETCHT0 64(R8)
	ADDQ       DX, R8
	PREFETCHT0 (R8)
	PREFETCHT0 64(R8)
	ADDQ       DX, R8
	PREFETCHT0 (R8)
	PREFETCHT0 64(R8)
	ADDQ       DX, R8
	PREFETCHT0 (R8)
	PREFETCHT0 64(R8)
	ADDQ       DX, R8
	PREFETCHT0 (R8)
	PREFETCHT0 64(R8)
	ADDQ       DX, R8
	PREFETCHT0 (R8)
	PREFETCHT0 64(R8)

	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	VPXORD Z4, Z4, Z4
	VPXORD Z5, Z5, Z5
	VPXORD Z6, Z6, Z6
	VPXORD Z7, Z7, Z7
	VPXORD Z8, Z8, Z8
	VPXORD Z9, Z9, Z9
	VPXORD Z10, Z10, Z10
	VPXORD Z11, Z11, Z11
	VPXORD Z12, Z12, Z12
	VPXORD Z13, Z13, Z13
	VPXORD Z14, Z14, Z14
	VPXORD Z15, Z15, Z15
	VPXORD Z16, Z16, Z16
	VPXORD Z17, Z17, Z17
	VPXORD Z18, Z18, Z18
	VPXORD Z19, Z19, Z19
	VPXORD Z20, Z20, Z20
	VPXORD Z21, Z21, Z21
	VPXORD Z22, Z22, Z22
	VPXORD Z23, Z23, Z23

	// Unrolled by 4 to amortise the loop overhead.
	MOVQ CX, R9
	SHRQ $2, R9
	JZ   tail512

loop512:
	STEP512(0, 0)
	STEP512(48, 128)
	STEP512(96, 256)
	STEP512(144, 384)
	ADDQ $192, AX
	ADDQ $512, BX
	DECQ R9
	JNZ  loop512

tail512:
	ANDQ $3, CX
	JZ   done512

loop512x1:
	STEP512(0, 0)
	ADDQ $48, AX
	ADDQ $128, BX
	DECQ CX
	JNZ  loop512x1

done512:
	VBROADCASTSS alpha+40(FP), Z26
	VMULPS       Z26, Z0, Z0
	VMULPS       Z26, Z1, Z1
	VMULPS       Z26, Z2, Z2
	VMULPS       Z26, Z3, Z3
	VMULPS       Z26, Z4, Z4
	VMULPS       Z26, Z5, Z5
	VMULPS       Z26, Z6, Z6
	VMULPS       Z26, Z7, Z7
	VMULPS       Z26, Z8, Z8
	VMULPS       Z26, Z9, Z9
	VMULPS       Z26, Z10, Z10
	VMULPS       Z26, Z11, Z11
	VMULPS       Z26, Z12, Z12
	VMULPS       Z26, Z13, Z13
	VMULPS       Z26, Z14, Z14
	VMULPS       Z26, Z15, Z15
	VMULPS       Z26, Z16, Z16
	VMULPS       Z26, Z17, Z17
	VMULPS       Z26, Z18, Z18
	VMULPS       Z26, Z19, Z19
	VMULPS       Z26, Z20, Z20
	VMULPS       Z26, Z21, Z21
	VMULPS       Z26, Z22, Z22
	VMULPS       Z26, Z23, Z23

	// beta == ±0 means overwrite (C may hold NaN); see kernel6x16.
	MOVL beta+44(FP), R10
	SHLL $1, R10
	JZ   nobeta512

	VBROADCASTSS beta+44(FP), Z26
	STOREBETA512(Z0, Z1)
	STOREBETA512(Z2, Z3)
	STOREBETA512(Z4, Z5)
	STOREBETA512(Z6, Z7)
	STOREBETA512(Z8, Z9)
	STOREBETA512(Z10, Z11)
	STOREBETA512(Z12, Z13)
	STOREBETA512(Z14, Z15)
	STOREBETA512(Z16, Z17)
	STOREBETA512(Z18, Z19)
	STOREBETA512(Z20, Z21)
	STOREBETA512(Z22, Z23)
	VZEROUPPER
	RET

nobeta512:
	STORE512(Z0, Z1)
	STORE512(Z2, Z3)
	STORE512(Z4, Z5)
	STORE512(Z6, Z7)
	STORE512(Z8, Z9)
	STORE512(Z10, Z11)
	STORE512(Z12, Z13)
	STORE512(Z14, Z15)
	STORE512(Z16, Z17)
	STORE512(Z18, Z19)
	STORE512(Z20, Z21)
	STORE512(Z22, Z23)
	VZEROUPPER
	RET
