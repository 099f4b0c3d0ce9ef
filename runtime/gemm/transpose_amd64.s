//go:build amd64 && !purego

#include "textflag.h"

// transpose16 turns blocks of 16 depth steps of a row-major operand into
// the depth-major order of a packed micro-panel: for each block it loads
// 16 floats of each of `rows` source rows (12 or 16; the missing rows are
// zero), transposes the 16×16 tile in registers, and stores column c of the
// tile (rows 0..15 of depth step c) at dst + c·dstStride floats, masked to
// the low `rows` lanes so that a 12-row panel gets exactly 12 floats per
// depth step. It replaces a scalar load and store per element (packing an
// untransposed A, or a transposed B) with 64 shuffles per 256 elements.
//
// The transpose: unpack pairs of rows into 2×2 blocks (VUNPCK*PS), pairs of
// those into 4×4 blocks per 128-bit lane (VUNPCK*PD), then gather the lanes
// of four 4-row groups (two VSHUFF32X4 rounds).

// COLS finishes the columns e, 4+e, 8+e, 12+e from u(e), u(4+e), u(8+e),
// u(12+e) and stores them at R11 + (0, 4, 8, 12)·dstStride.
#define COLS(a, b, c, d) \
	VSHUFF32X4 $0x88, b, a, Z16; \
	VSHUFF32X4 $0xDD, b, a, Z17; \
	VSHUFF32X4 $0x88, d, c, Z18; \
	VSHUFF32X4 $0xDD, d, c, Z19; \
	VSHUFF32X4 $0x88, Z18, Z16, Z20; \
	VSHUFF32X4 $0xDD, Z18, Z16, Z21; \
	VSHUFF32X4 $0x88, Z19, Z17, Z22; \
	VSHUFF32X4 $0xDD, Z19, Z17, Z23; \
	VMOVUPS    Z20, K1, (R11); \
	VMOVUPS    Z22, K1, (R11)(R8*4); \
	VMOVUPS    Z21, K1, (R11)(R8*8); \
	VMOVUPS    Z23, K1, (R11)(R13*1)

// func transpose16(dst *float32, dstStride int, src *float32, srcStride int, rows, blocks int)
TEXT ·transpose16(SB), NOSPLIT, $0-48
	MOVQ dst+0(FP), DI
	MOVQ dstStride+8(FP), R8
	SHLQ $2, R8
	MOVQ src+16(FP), SI
	MOVQ srcStride+24(FP), R9
	SHLQ $2, R9
	MOVQ rows+32(FP), R10

	// K1: the store mask, the low `rows` lanes.
	MOVQ  R10, CX
	MOVL  $1, AX
	SHLL  CX, AX
	DECL  AX
	KMOVW AX, K1

	LEAQ (R9)(R9*2), R12 // 3·srcStride
	LEAQ (R8)(R8*2), R13
	SHLQ $2, R13         // 12·dstStride

	MOVQ blocks+40(FP), CX
	TESTQ CX, CX
	JZ   done

block:
	// Rows 0..11 (and 12..15 when rows == 16) into Z0..Z15.
	MOVQ    SI, R11
	VMOVUPS (R11), Z0
	VMOVUPS (R11)(R9*1), Z1
	VMOVUPS (R11)(R9*2), Z2
	VMOVUPS (R11)(R12*1), Z3
	LEAQ    (R11)(R9*4), R11
	VMOVUPS (R11), Z4
	VMOVUPS (R11)(R9*1), Z5
	VMOVUPS (R11)(R9*2), Z6
	VMOVUPS (R11)(R12*1), Z7
	LEAQ    (R11)(R9*4), R11
	VMOVUPS (R11), Z8
	VMOVUPS (R11)(R9*1), Z9
	VMOVUPS (R11)(R9*2), Z10
	VMOVUPS (R11)(R12*1), Z11
	CMPQ    R10, $16
	JNE     zero4
	LEAQ    (R11)(R9*4), R11
	VMOVUPS (R11), Z12
	VMOVUPS (R11)(R9*1), Z13
	VMOVUPS (R11)(R9*2), Z14
	VMOVUPS (R11)(R12*1), Z15
	JMP     shuffle

zero4:
	VPXORD Z12, Z12, Z12
	VPXORD Z13, Z13, Z13
	VPXORD Z14, Z14, Z14
	VPXORD Z15, Z15, Z15

shuffle:
	// Stage 1: t(2i) = lo(r(2i), r(2i+1)), t(2i+1) = hi(...).
	VUNPCKLPS Z1, Z0, Z16
	VUNPCKHPS Z1, Z0, Z17
	VUNPCKLPS Z3, Z2, Z18
	VUNPCKHPS Z3, Z2, Z19
	VUNPCKLPS Z5, Z4, Z20
	VUNPCKHPS Z5, Z4, Z21
	VUNPCKLPS Z7, Z6, Z22
	VUNPCKHPS Z7, Z6, Z23
	VUNPCKLPS Z9, Z8, Z24
	VUNPCKHPS Z9, Z8, Z25
	VUNPCKLPS Z11, Z10, Z26
	VUNPCKHPS Z11, Z10, Z27
	VUNPCKLPS Z13, Z12, Z28
	VUNPCKHPS Z13, Z12, Z29
	VUNPCKLPS Z15, Z14, Z30
	VUNPCKHPS Z15, Z14, Z31

	// Stage 2: u(4g+e) holds rows 4g..4g+3 of column 4L+e in lane L.
	VUNPCKLPD Z18, Z16, Z0
	VUNPCKHPD Z18, Z16, Z1
	VUNPCKLPD Z19, Z17, Z2
	VUNPCKHPD Z19, Z17, Z3
	VUNPCKLPD Z22, Z20, Z4
	VUNPCKHPD Z22, Z20, Z5
	VUNPCKLPD Z23, Z21, Z6
	VUNPCKHPD Z23, Z21, Z7
	VUNPCKLPD Z26, Z24, Z8
	VUNPCKHPD Z26, Z24, Z9
	VUNPCKLPD Z27, Z25, Z10
	VUNPCKHPD Z27, Z25, Z11
	VUNPCKLPD Z30, Z28, Z12
	VUNPCKHPD Z30, Z28, Z13
	VUNPCKLPD Z31, Z29, Z14
	VUNPCKHPD Z31, Z29, Z15

	// Stages 3 and 4 for e = 0..3: column 4L+e gathers lane L of u(e),
	// u(4+e), u(8+e), u(12+e). Columns e, 4+e, 8+e, 12+e go to
	// dst + (e, e+4, e+8, e+12)·dstStride.
	MOVQ DI, R11
	COLS(Z0, Z4, Z8, Z12)
	ADDQ R8, R11
	COLS(Z1, Z5, Z9, Z13)
	ADDQ R8, R11
	COLS(Z2, Z6, Z10, Z14)
	ADDQ R8, R11
	COLS(Z3, Z7, Z11, Z15)

	ADDQ $64, SI
	LEAQ (DI)(R8*8), DI
	LEAQ (DI)(R8*8), DI
	DECQ CX
	JNZ  block

done:
	VZEROUPPER
	RET

// func addBias12x32(c *float32, ldc int, bias *float32)
// Adds the 32 floats at bias to each of 12 rows of 32 floats at c (row
// stride ldc floats): a finished tile of C, still in L1, gets its bias.
TEXT ·addBias12x32(SB), NOSPLIT, $0-24
	MOVQ    c+0(FP), DI
	MOVQ    ldc+8(FP), DX
	SHLQ    $2, DX
	MOVQ    bias+16(FP), SI
	VMOVUPS (SI), Z0
	VMOVUPS 64(SI), Z1
	MOVQ    $12, CX

biasrow:
	VADDPS  (DI), Z0, Z2
	VADDPS  64(DI), Z1, Z3
	VMOVUPS Z2, (DI)
	VMOVUPS Z3, 64(DI)
	ADDQ    DX, DI
	DECQ    CX
	JNZ     biasrow
	VZEROUPPER
	RET
