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

// Gathering helpers: the transposed-A packing, several depth steps at a
// time. Chunk i of each of the `rows` source rows (rows lda bytes apart) is
// copied to dst+i*stride, the rows one after another, so each panel gets
// one contiguous 192-byte run (three whole cache lines) per call instead of
// a 24- or 48-byte piece per row: the stores fill lines and the store
// buffer drains in line-sized writes.

// Load the arguments (DI = dst, SI = src rows 0–3, R11 = src row 4 on,
// CX = n, R8 = stride in bytes, R9 = lda in bytes, R10 = 3·lda); jump to
// done when n is 0.
#define GATHER_ARGS(done) \
	MOVQ  dst+0(FP), DI;     \
	MOVQ  src+8(FP), SI;     \
	MOVQ  lda+16(FP), R9;    \
	SHLQ  $2, R9;            \
	MOVQ  n+24(FP), CX;      \
	MOVQ  stride+32(FP), R8; \
	SHLQ  $2, R8;            \
	LEAQ  (R9)(R9*2), R10;   \
	LEAQ  (SI)(R9*4), R11;   \
	TESTQ CX, CX;            \
	JZ    done

// Copy 6 floats from the source at s0 (s16: 16 bytes on) to off(DI).
#define ROW6(s0, s16, off) \
	MOVUPS s0, X0;            \
	MOVQ   s16, X1;           \
	MOVUPS X0, off(DI);       \
	MOVQ   X1, (off+16)(DI)

// Copy 12 floats from the source at s0 (s16, s32: 16 and 32 bytes on) to
// off(DI).
#define ROW12(s0, s16, s32, off) \
	MOVUPS s0, X0;            \
	MOVUPS s16, X1;           \
	MOVUPS s32, X2;           \
	MOVUPS X0, off(DI);       \
	MOVUPS X1, (off+16)(DI);  \
	MOVUPS X2, (off+32)(DI)

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

// func gatherChunks6x8(dst, src *float32, lda, n, stride int)
TEXT ·gatherChunks6x8(SB), NOSPLIT, $0-40
	GATHER_ARGS(done6x8)

loop6x8:
	ROW6((SI), 16(SI), 0)
	ROW6((SI)(R9*1), 16(SI)(R9*1), 24)
	ROW6((SI)(R9*2), 16(SI)(R9*2), 48)
	ROW6((SI)(R10*1), 16(SI)(R10*1), 72)
	ROW6((R11), 16(R11), 96)
	ROW6((R11)(R9*1), 16(R11)(R9*1), 120)
	ROW6((R11)(R9*2), 16(R11)(R9*2), 144)
	ROW6((R11)(R10*1), 16(R11)(R10*1), 168)
	ADDQ $24, SI
	ADDQ $24, R11
	ADDQ R8, DI
	DECQ CX
	JNZ  loop6x8

done6x8:
	RET

// func gatherChunks12x4(dst, src *float32, lda, n, stride int)
TEXT ·gatherChunks12x4(SB), NOSPLIT, $0-40
	GATHER_ARGS(done12x4)

loop12x4:
	ROW12((SI), 16(SI), 32(SI), 0)
	ROW12((SI)(R9*1), 16(SI)(R9*1), 32(SI)(R9*1), 48)
	ROW12((SI)(R9*2), 16(SI)(R9*2), 32(SI)(R9*2), 96)
	ROW12((SI)(R10*1), 16(SI)(R10*1), 32(SI)(R10*1), 144)
	ADDQ $48, SI
	ADDQ R8, DI
	DECQ CX
	JNZ  loop12x4

done12x4:
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
