//go:build amd64 && !purego

#include "textflag.h"

// Packing helpers: copy n chunks of w floats, read contiguously from src and
// written to dst at a stride of stride floats (one chunk per micro-panel).
// Plain SSE moves (baseline amd64), so they serve every kernel; the point is
// only to avoid a memmove call or a bounce through the stack per chunk.

// func spreadChunks12(dst, src *float32, n, stride int)
TEXT ·spreadChunks12(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	MOVQ stride+24(FP), R8
	SHLQ $2, R8
	TESTQ CX, CX
	JZ   done12

loop12:
	MOVUPS (SI), X0
	MOVUPS 16(SI), X1
	MOVUPS 32(SI), X2
	MOVUPS X0, (DI)
	MOVUPS X1, 16(DI)
	MOVUPS X2, 32(DI)
	ADDQ   $48, SI
	ADDQ   R8, DI
	DECQ   CX
	JNZ    loop12

done12:
	RET

// func spreadChunks6(dst, src *float32, n, stride int)
TEXT ·spreadChunks6(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	MOVQ stride+24(FP), R8
	SHLQ $2, R8
	TESTQ CX, CX
	JZ   done6

loop6:
	MOVUPS (SI), X0
	MOVQ   16(SI), X1
	MOVUPS X0, (DI)
	MOVQ   X1, 16(DI)
	ADDQ   $24, SI
	ADDQ   R8, DI
	DECQ   CX
	JNZ    loop6

done6:
	RET

// func spreadChunks32(dst, src *float32, n, stride int)
TEXT ·spreadChunks32(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	MOVQ stride+24(FP), R8
	SHLQ $2, R8
	TESTQ CX, CX
	JZ   done32

loop32:
	MOVUPS (SI), X0
	MOVUPS 16(SI), X1
	MOVUPS 32(SI), X2
	MOVUPS 48(SI), X3
	MOVUPS 64(SI), X4
	MOVUPS 80(SI), X5
	MOVUPS 96(SI), X6
	MOVUPS 112(SI), X7
	MOVUPS X0, (DI)
	MOVUPS X1, 16(DI)
	MOVUPS X2, 32(DI)
	MOVUPS X3, 48(DI)
	MOVUPS X4, 64(DI)
	MOVUPS X5, 80(DI)
	MOVUPS X6, 96(DI)
	MOVUPS X7, 112(DI)
	ADDQ   $128, SI
	ADDQ   R8, DI
	DECQ   CX
	JNZ    loop32

done32:
	RET

// func spreadChunks16(dst, src *float32, n, stride int)
TEXT ·spreadChunks16(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	MOVQ stride+24(FP), R8
	SHLQ $2, R8
	TESTQ CX, CX
	JZ   done16

loop16:
	MOVUPS (SI), X0
	MOVUPS 16(SI), X1
	MOVUPS 32(SI), X2
	MOVUPS 48(SI), X3
	MOVUPS X0, (DI)
	MOVUPS X1, 16(DI)
	MOVUPS X2, 32(DI)
	MOVUPS X3, 48(DI)
	ADDQ   $64, SI
	ADDQ   R8, DI
	DECQ   CX
	JNZ    loop16

done16:
	RET

// func prefetchLines(p *float32, bytes int)
// Asks for every 64-byte line of [p, p+bytes) to be brought into L2
// (PREFETCHT1); it never faults, so it cannot read past anything.
TEXT ·prefetchLines(SB), NOSPLIT, $0-16
	MOVQ p+0(FP), SI
	MOVQ bytes+8(FP), CX
	TESTQ CX, CX
	JLE  donepf

looppf:
	PREFETCHT1 (SI)
	ADDQ       $64, SI
	SUBQ       $64, CX
	JG         looppf

donepf:
	RET
