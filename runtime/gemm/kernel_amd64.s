//go:build amd64 && !purego

#include "textflag.h"

// One depth step of the 6×16 micro-kernel: load 16 floats of packed B into
// Y12:Y13, broadcast each of the 6 packed A values, and FMA into the 12
// accumulators Y0..Y11 (row i lives in Y(2i), Y(2i+1)). Two broadcast
// registers alternate so consecutive FMAs do not wait on one broadcast.
#define STEP(aoff, boff) \
	VMOVUPS      boff(BX), Y12;       \
	VMOVUPS      (boff+32)(BX), Y13;  \
	VBROADCASTSS aoff(AX), Y14;       \
	VFMADD231PS  Y12, Y14, Y0;        \
	VFMADD231PS  Y13, Y14, Y1;        \
	VBROADCASTSS (aoff+4)(AX), Y15;   \
	VFMADD231PS  Y12, Y15, Y2;        \
	VFMADD231PS  Y13, Y15, Y3;        \
	VBROADCASTSS (aoff+8)(AX), Y14;   \
	VFMADD231PS  Y12, Y14, Y4;        \
	VFMADD231PS  Y13, Y14, Y5;        \
	VBROADCASTSS (aoff+12)(AX), Y15;  \
	VFMADD231PS  Y12, Y15, Y6;        \
	VFMADD231PS  Y13, Y15, Y7;        \
	VBROADCASTSS (aoff+16)(AX), Y14;  \
	VFMADD231PS  Y12, Y14, Y8;        \
	VFMADD231PS  Y13, Y14, Y9;        \
	VBROADCASTSS (aoff+20)(AX), Y15;  \
	VFMADD231PS  Y12, Y15, Y10;       \
	VFMADD231PS  Y13, Y15, Y11

// Store one row of the tile: C = acc (beta == 0, C is never read).
#define STORE(lo, hi) \
	VMOVUPS lo, (DI);   \
	VMOVUPS hi, 32(DI); \
	ADDQ    DX, DI

// Store one row of the tile: C = acc + beta*C, beta broadcast in Y15.
#define STOREBETA(lo, hi) \
	VFMADD231PS (DI), Y15, lo;   \
	VFMADD231PS 32(DI), Y15, hi; \
	VMOVUPS     lo, (DI);        \
	VMOVUPS     hi, 32(DI);      \
	ADDQ        DX, DI

// func kernel6x16(k int, a, b, c *float32, ldc int, alpha, beta float32)
TEXT ·kernel6x16(SB), NOSPLIT, $0-48
	MOVQ k+0(FP), CX
	MOVQ a+8(FP), AX
	MOVQ b+16(FP), BX
	MOVQ c+24(FP), DI
	MOVQ ldc+32(FP), DX
	SHLQ $2, DX

	// Start pulling the C tile into cache now; it is needed only after the
	// k loop, by which time the loads have landed.
	MOVQ       DI, R8
	PREFETCHT0 (R8)
	PREFETCHT0 60(R8)
	ADDQ       DX, R8
	PREFETCHT0 (R8)
	PREFETCHT0 60(R8)
	ADDQ       DX, R8
	PREFETCHT0 (R8)
	PREFETCHT0 60(R8)
	ADDQ       DX, R8
	PREFETCHT0 (R8)
	PREFETCHT0 60(R8)
	ADDQ       DX, R8
	PREFETCHT0 (R8)
	PREFETCHT0 60(R8)
	ADDQ       DX, R8
	PREFETCHT0 (R8)
	PREFETCHT0 60(R8)

	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11

	// Unrolled by 4 to amortise the loop overhead.
	MOVQ CX, R9
	SHRQ $2, R9
	JZ   tail

loop4:
	STEP(0, 0)
	STEP(24, 64)
	STEP(48, 128)
	STEP(72, 192)
	ADDQ $96, AX
	ADDQ $256, BX
	DECQ R9
	JNZ  loop4

tail:
	ANDQ $3, CX
	JZ   done

loop1:
	STEP(0, 0)
	ADDQ $24, AX
	ADDQ $64, BX
	DECQ CX
	JNZ  loop1

done:
	VBROADCASTSS alpha+40(FP), Y14
	VMULPS       Y14, Y0, Y0
	VMULPS       Y14, Y1, Y1
	VMULPS       Y14, Y2, Y2
	VMULPS       Y14, Y3, Y3
	VMULPS       Y14, Y4, Y4
	VMULPS       Y14, Y5, Y5
	VMULPS       Y14, Y6, Y6
	VMULPS       Y14, Y7, Y7
	VMULPS       Y14, Y8, Y8
	VMULPS       Y14, Y9, Y9
	VMULPS       Y14, Y10, Y10
	VMULPS       Y14, Y11, Y11

	// beta == ±0 means overwrite: C may hold NaN garbage that 0*C would
	// propagate. Shifting out the sign bit makes -0 test as zero too.
	MOVL beta+44(FP), R10
	SHLL $1, R10
	JZ   nobeta

	VBROADCASTSS beta+44(FP), Y15
	STOREBETA(Y0, Y1)
	STOREBETA(Y2, Y3)
	STOREBETA(Y4, Y5)
	STOREBETA(Y6, Y7)
	STOREBETA(Y8, Y9)
	STOREBETA(Y10, Y11)
	VZEROUPPER
	RET

nobeta:
	STORE(Y0, Y1)
	STORE(Y2, Y3)
	STORE(Y4, Y5)
	STORE(Y6, Y7)
	STORE(Y8, Y9)
	STORE(Y10, Y11)
	VZEROUPPER
	RET
