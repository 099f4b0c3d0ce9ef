// Macros the AVX-512 kernels of this package share (#include'd by the .s
// files that use them).

// TAILMASK sets K1 to the low CX bits (1 ≤ CX ≤ 15): the lanes of a final,
// partial vector of n%16 float32s (or n%8 float64s).
#define TAILMASK \
	MOVL  $1, AX; \
	SHLL  CX, AX; \
	DECL  AX;     \
	KMOVW AX, K1
