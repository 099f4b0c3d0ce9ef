//go:build amd64 && !purego

#include "textflag.h"
#include "tailmask_amd64.h"

// 8-bit rows of quant.go, 16 elements per vector, a masked final vector for
// the last n%16 (the masked loads suppress faults past the end). Each gives
// the bits of the pure-Go loop for the rows it is called on: finite rows
// with a finite inverse scale (quantizeRowGo takes the others).

DATA absmask<>+0(SB)/4, $0x7fffffff
GLOBL absmask<>(SB), RODATA|NOPTR, $4

// func rowMaxAbsBitsAVX512(x *float32, n int) uint32
// The largest of the bits of |x[i]|: as unsigned integers, the bits of
// non-negative floats order as the floats do, and every NaN is above +Inf.
TEXT ·rowMaxAbsBitsAVX512(SB), NOSPLIT, $0-20
	MOVQ         x+0(FP), SI
	MOVQ         n+8(FP), CX
	VPBROADCASTD absmask<>(SB), Z2
	VPXORD       Z0, Z0, Z0

maxloop:
	CMPQ    CX, $16
	JLT     maxtail
	VPANDD  (SI), Z2, Z1
	VPMAXUD Z1, Z0, Z0
	ADDQ    $64, SI
	SUBQ    $16, CX
	JMP     maxloop

maxtail:
	TESTQ     CX, CX
	JZ        maxreduce
	TAILMASK
	VMOVDQU32.Z (SI), K1, Z1
	VPANDD    Z1, Z2, Z1
	VPMAXUD   Z1, Z0, Z0

maxreduce:
	VEXTRACTI32X8 $1, Z0, Y1
	VPMAXUD       Y1, Y0, Y0
	VEXTRACTI128  $1, Y0, X1
	VPMAXUD       X1, X0, X0
	VPSHUFD       $0x4e, X0, X1
	VPMAXUD       X1, X0, X0
	VPSHUFD       $0xb1, X0, X1
	VPMAXUD       X1, X0, X0
	VMOVD         X0, AX
	MOVL          AX, ret+16(FP)
	VZEROUPPER
	RET

// func quantizeRowAVX512(dst *int8, src *float32, n int, inv float32)
// dst[i] = round-half-even(src[i]·inv) saturated to int8: for a finite row
// and inverse scale the product is within ±127·(1+2^-23), so nothing
// saturates and the codes are the Go loop's.
TEXT ·quantizeRowAVX512(SB), NOSPLIT, $0-28
	MOVQ         dst+0(FP), DI
	MOVQ         src+8(FP), SI
	MOVQ         n+16(FP), CX
	VBROADCASTSS inv+24(FP), Z2

qloop:
	CMPQ      CX, $16
	JLT       qtail
	VMULPS    (SI), Z2, Z0
	VCVTPS2DQ Z0, Z0
	VPMOVSDB  Z0, X1
	VMOVDQU   X1, (DI)
	ADDQ      $64, SI
	ADDQ      $16, DI
	SUBQ      $16, CX
	JMP       qloop

qtail:
	TESTQ     CX, CX
	JZ        qdone
	TAILMASK
	VMOVUPS.Z (SI), K1, Z0
	VMULPS    Z0, Z2, Z0
	VCVTPS2DQ Z0, Z0
	VPMOVSDB  Z0, X1
	VMOVDQU8  X1, K1, (DI)

qdone:
	VZEROUPPER
	RET

// func dequantizeRowAVX512(dst *float32, src *int8, n int, s float32)
// dst[i] = float32(src[i])·s.
TEXT ·dequantizeRowAVX512(SB), NOSPLIT, $0-28
	MOVQ         dst+0(FP), DI
	MOVQ         src+8(FP), SI
	MOVQ         n+16(FP), CX
	VBROADCASTSS s+24(FP), Z2

dloop:
	CMPQ      CX, $16
	JLT       dtail
	VPMOVSXBD (SI), Z0
	VCVTDQ2PS Z0, Z0
	VMULPS    Z0, Z2, Z0
	VMOVUPS   Z0, (DI)
	ADDQ      $16, SI
	ADDQ      $64, DI
	SUBQ      $16, CX
	JMP       dloop

dtail:
	TESTQ       CX, CX
	JZ          ddone
	TAILMASK
	VMOVDQU8.Z  (SI), K1, X0
	VPMOVSXBD   X0, Z0
	VCVTDQ2PS   Z0, Z0
	VMULPS      Z0, Z2, Z0
	VMOVUPS     Z0, K1, (DI)

ddone:
	VZEROUPPER
	RET
