//go:build amd64 && !purego

#include "textflag.h"

// Packing helpers: copy n chunks of w floats, read contiguously from src and
// written to dst at a stride of stride floats (one chunk per micro-panel).
// Plain SSE moves (baseline amd64), so they serve every kernel; the point is
// only to avoid a memmove call or a bounce through the stack per chunk.

// Load the arguments (DI = dst, SI = src, CX = n, R8 = stride in bytes);
// jump to done when n is 0.
#define SPREAD_ARGS(done) \
	MOVQ  dst+0(FP), DI;     \
	MOVQ  src+8(FP), SI;     \
	MOVQ  n+16(FP), CX;      \
	MOVQ  stride+24(FP), R8; \
	SHLQ  $2, R8;            \
	TESTQ CX, CX;            \
	JZ    done

// Step to the next chunk (src by the chunk's bytes, dst by the stride).
#define SPREAD_NEXT(bytes, loop) \
	ADDQ $bytes, SI; \
	ADDQ R8, DI;     \
	DECQ CX;         \
	JNZ  loop

// Load the 16-byte vectors r0..r3 from src+off on, or store them to dst+off on.
#define LOAD4(off, r0, r1, r2, r3) \
	MOVUPS off(SI), r0;      \
	MOVUPS (off+16)(SI), r1; \
	MOVUPS (off+32)(SI), r2; \
	MOVUPS (off+48)(SI), r3

#define STORE4(off, r0, r1, r2, r3) \
	MOVUPS r0, off(DI);      \
	MOVUPS r1, (off+16)(DI); \
	MOVUPS r2, (off+32)(DI); \
	MOVUPS r3, (off+48)(DI)

// Copy one chunk of 12, 6, 32 or 16 floats from SI to DI.
#define COPY12 \
	MOVUPS (SI), X0;   \
	MOVUPS 16(SI), X1; \
	MOVUPS 32(SI), X2; \
	MOVUPS X0, (DI);   \
	MOVUPS X1, 16(DI); \
	MOVUPS X2, 32(DI)

#define COPY6 \
	MOVUPS (SI), X0;   \
	MOVQ   16(SI), X1; \
	MOVUPS X0, (DI);   \
	MOVQ   X1, 16(DI)

#define COPY32 \
	LOAD4(0, X0, X1, X2, X3);  \
	LOAD4(64, X4, X5, X6, X7); \
	STORE4(0, X0, X1, X2, X3);  \
	STORE4(64, X4, X5, X6, X7)

#define COPY16 \
	LOAD4(0, X0, X1, X2, X3);  \
	STORE4(0, X0, X1, X2, X3)

// A spreadChunks body: load the arguments, then copy a chunk, step (bytes:
// a chunk's size) and repeat until CX is 0, then return.
#define SPREAD(copy, bytes, loop, done) \
	SPREAD_ARGS(done);               \
loop:                                \
	copy;                            \
	SPREAD_NEXT(bytes, loop);        \
done:                                \
	RET

// func spreadChunks12(dst, src *float32, n, stride int)
TEXT ·spreadChunks12(SB), NOSPLIT, $0-32
	SPREAD(COPY12, 48, loop12, done12)

// func spreadChunks6(dst, src *float32, n, stride int)
TEXT ·spreadChunks6(SB), NOSPLIT, $0-32
	SPREAD(COPY6, 24, loop6, done6)

// func spreadChunks32(dst, src *float32, n, stride int)
TEXT ·spreadChunks32(SB), NOSPLIT, $0-32
	SPREAD(COPY32, 128, loop32, done32)

// func spreadChunks16(dst, src *float32, n, stride int)
TEXT ·spreadChunks16(SB), NOSPLIT, $0-32
	SPREAD(COPY16, 64, loop16, done16)

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
