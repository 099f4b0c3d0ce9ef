//go:build amd64 && !purego

#include "textflag.h"
#include "tile_amd64.h"

// One depth step of the 6×16 micro-kernel: load 16 floats of packed B into
// Y12:Y13, broadcast each of the 6 packed A values, and FMA into the 12
// accumulators Y0..Y11 (row i lives in Y(2i), Y(2i+1)). Two broadcast
// registers alternate so consecutive FMAs do not wait on one broadcast.
#define STEP(aoff, boff) \
	VMOVUPS      boff(BX), Y12;       \
	VMOVUPS      (boff+32)(BX), Y13;  \
	FMA_ROWS6(aoff, Y12, Y13, Y14, Y15, Y14, Y15, Y14, Y15, Y0, Y1, Y2, Y3, Y4, Y5, Y6, Y7, Y8, Y9, Y10, Y11)

// func kernel6x16(k int, a, b, c *float32, ldc int, alpha, beta float32)
TEXT ·kernel6x16(SB), NOSPLIT, $0-48
	KERNEL_ARGS

	// Start pulling the C tile into cache now; it is needed only after the
	// k loop, by which time the loads have landed.
	MOVQ       DI, R8
	PREFETCH_ROWS6(60)

	ZERO12(VXORPS, Y0, Y1, Y2, Y3, Y4, Y5, Y6, Y7, Y8, Y9, Y10, Y11)

	// Unrolled by 4 to amortise the loop overhead.
	DEPTH_LOOP(STEP, 24, 64, loop4, tail, loop1, done)
	VBROADCASTSS alpha+40(FP), Y14
	SCALE12(Y14, Y0, Y1, Y2, Y3, Y4, Y5, Y6, Y7, Y8, Y9, Y10, Y11)

	// beta == ±0 means overwrite (C may hold NaN); see BETA_OR.
	BETA_OR(nobeta, Y15)
	STOREBETA_ROWS6(32, Y15, Y0, Y1, Y2, Y3, Y4, Y5, Y6, Y7, Y8, Y9, Y10, Y11)
	VZEROUPPER
	RET

nobeta:
	STORE_ROWS6(32, Y0, Y1, Y2, Y3, Y4, Y5, Y6, Y7, Y8, Y9, Y10, Y11)
	VZEROUPPER
	RET
