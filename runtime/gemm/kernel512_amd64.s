//go:build amd64 && !purego

#include "textflag.h"
#include "tile_amd64.h"

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
	VMOVUPS boff(BX), Z24;       \
	VMOVUPS (boff+64)(BX), Z25; \
	FMA_ROWS6(aoff, Z24, Z25, Z26, Z27, Z28, Z29, Z30, Z31, Z0, Z1, Z2, Z3, Z4, Z5, Z6, Z7, Z8, Z9, Z10, Z11); \
	FMA_ROWS6((aoff+24), Z24, Z25, Z26, Z27, Z28, Z29, Z30, Z31, Z12, Z13, Z14, Z15, Z16, Z17, Z18, Z19, Z20, Z21, Z22, Z23)

// func kernel12x32(k int, a, b, c *float32, ldc int, alpha, beta float32)
TEXT ·kernel12x32(SB), NOSPLIT, $0-48
	KERNEL_ARGS

	// Pull the C tile (12 rows of 128 bytes) towards L1 while the k loop
	// runs; it is only touched after the loop.
	MOVQ       DI, R8
	PREFETCH_ROWS6(64)
	ADDQ DX, R8
	PREFETCH_ROWS6(64)

	ZERO12(VPXORD, Z0, Z1, Z2, Z3, Z4, Z5, Z6, Z7, Z8, Z9, Z10, Z11)
	ZERO12(VPXORD, Z12, Z13, Z14, Z15, Z16, Z17, Z18, Z19, Z20, Z21, Z22, Z23)

	// Unrolled by 4 to amortise the loop overhead.
	DEPTH_LOOP(STEP512, 48, 128, loop512, tail512, loop512x1, done512)
	VBROADCASTSS alpha+40(FP), Z26
	SCALE12(Z26, Z0, Z1, Z2, Z3, Z4, Z5, Z6, Z7, Z8, Z9, Z10, Z11)
	SCALE12(Z26, Z12, Z13, Z14, Z15, Z16, Z17, Z18, Z19, Z20, Z21, Z22, Z23)

	// beta == ±0 means overwrite (C may hold NaN); see BETA_OR.
	BETA_OR(nobeta512, Z26)
	STOREBETA_ROWS6(64, Z26, Z0, Z1, Z2, Z3, Z4, Z5, Z6, Z7, Z8, Z9, Z10, Z11)
	STOREBETA_ROWS6(64, Z26, Z12, Z13, Z14, Z15, Z16, Z17, Z18, Z19, Z20, Z21, Z22, Z23)
	VZEROUPPER
	RET

nobeta512:
	STORE_ROWS6(64, Z0, Z1, Z2, Z3, Z4, Z5, Z6, Z7, Z8, Z9, Z10, Z11)
	STORE_ROWS6(64, Z12, Z13, Z14, Z15, Z16, Z17, Z18, Z19, Z20, Z21, Z22, Z23)
	VZEROUPPER
	RET
