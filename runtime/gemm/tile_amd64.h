// Macros shared by the AVX2 (kernel_amd64.s) and AVX-512 (kernel512_amd64.s)
// micro-kernels. A tile row i lives in a register pair (lo, hi); w is the
// byte width of one register (32 for YMM, 64 for ZMM).

// Load the kernel arguments: CX = k, AX = a, BX = b, DI = c, DX = ldc in bytes.
#define KERNEL_ARGS \
	MOVQ k+0(FP), CX;    \
	MOVQ a+8(FP), AX;    \
	MOVQ b+16(FP), BX;   \
	MOVQ c+24(FP), DI;   \
	MOVQ ldc+32(FP), DX; \
	SHLQ $2, DX

// Prefetch one row of C at R8 (off: the row's second cache line), or three
// or six rows from R8 on, leaving R8 at the last.
#define PREFETCH_ROW(off) \
	PREFETCHT0 (R8); \
	PREFETCHT0 off(R8)

#define PREFETCH_ROWS3(off) \
	PREFETCH_ROW(off); \
	ADDQ DX, R8;       \
	PREFETCH_ROW(off); \
	ADDQ DX, R8;       \
	PREFETCH_ROW(off)

#define PREFETCH_ROWS6(off) \
	PREFETCH_ROWS3(off); \
	ADDQ DX, R8;         \
	PREFETCH_ROWS3(off)

// One row of one depth step: broadcast the A value at aoff(AX) into c and
// multiply-add it with the B registers b0:b1 into the row's pair lo:hi.
#define FMA_ROW(aoff, b0, b1, c, lo, hi) \
	VBROADCASTSS aoff(AX), c; \
	VFMADD231PS  b0, c, lo;   \
	VFMADD231PS  b1, c, hi

// Six rows of one depth step, row i broadcasting its A value into ci.
#define FMA_ROWS6(aoff, b0, b1, c0, c1, c2, c3, c4, c5, r0, r1, r2, r3, r4, r5, r6, r7, r8, r9, r10, r11) \
	FMA_ROW(aoff, b0, b1, c0, r0, r1);        \
	FMA_ROW((aoff+4), b0, b1, c1, r2, r3);    \
	FMA_ROW((aoff+8), b0, b1, c2, r4, r5);    \
	FMA_ROW((aoff+12), b0, b1, c3, r6, r7);   \
	FMA_ROW((aoff+16), b0, b1, c4, r8, r9);   \
	FMA_ROW((aoff+20), b0, b1, c5, r10, r11)

// Advance the packed A and B pointers and count down one loop.
#define NEXT_STEP(astep, bstep, count, loop) \
	ADDQ $astep, AX; \
	ADDQ $bstep, BX; \
	DECQ count;      \
	JNZ  loop

// Apply op (x, r, r) to three registers r0..r2 with x0..x2.
#define OP3(op, x0, x1, x2, r0, r1, r2) \
	op x0, r0, r0; \
	op x1, r1, r1; \
	op x2, r2, r2

// Apply the three-register macro m(x, ...) to twelve registers.
#define BY3(m, x, r0, r1, r2, r3, r4, r5, r6, r7, r8, r9, r10, r11) \
	m(x, r0, r1, r2); \
	m(x, r3, r4, r5); \
	m(x, r6, r7, r8); \
	m(x, r9, r10, r11)

// The depth loop: step(aoff, boff) over the k (CX) depth steps of a by b
// bytes each, unrolled by 4 (R9 counts the fours), then the k%4 left.
#define DEPTH_LOOP(step, a, b, loop4, tail, loop1, done) \
	MOVQ CX, R9;                                  \
	SHRQ $2, R9;                                  \
	JZ   tail;                                    \
loop4:                                            \
	step(0, 0);                                   \
	step(a, b);                                   \
	step((2*a), (2*b));                           \
	step((3*a), (3*b));                           \
	NEXT_STEP((4*a), (4*b), R9, loop4);           \
tail:                                             \
	ANDQ $3, CX;                                  \
	JZ   done;                                    \
loop1:                                            \
	step(0, 0);                                   \
	NEXT_STEP(a, b, CX, loop1);                   \
done:

// Zero three or twelve registers with the xor op (VXORPS or VPXORD).
#define ZERO3(op, r0, r1, r2) OP3(op, r0, r1, r2, r0, r1, r2)

#define ZERO12(op, r0, r1, r2, r3, r4, r5, r6, r7, r8, r9, r10, r11) \
	BY3(ZERO3, op, r0, r1, r2, r3, r4, r5, r6, r7, r8, r9, r10, r11)

// Multiply three or twelve registers by s.
#define SCALE3(s, r0, r1, r2) OP3(VMULPS, s, s, s, r0, r1, r2)

#define SCALE12(s, r0, r1, r2, r3, r4, r5, r6, r7, r8, r9, r10, r11) \
	BY3(SCALE3, s, r0, r1, r2, r3, r4, r5, r6, r7, r8, r9, r10, r11)

// Store one row of the tile: C = acc (beta == 0, C is never read).
#define STORE_ROW(w, lo, hi) \
	VMOVUPS lo, (DI);  \
	VMOVUPS hi, w(DI); \
	ADDQ    DX, DI

// Store one row of the tile: C = acc + beta*C, beta broadcast in b.
#define STOREBETA_ROW(w, b, lo, hi) \
	VFMADD231PS (DI), b, lo;  \
	VFMADD231PS w(DI), b, hi; \
	STORE_ROW(w, lo, hi)

// Store six rows of the tile, plain or with beta.
#define STORE_ROWS6(w, r0, r1, r2, r3, r4, r5, r6, r7, r8, r9, r10, r11) \
	STORE_ROW(w, r0, r1); \
	STORE_ROW(w, r2, r3); \
	STORE_ROW(w, r4, r5); \
	STORE_ROW(w, r6, r7); \
	STORE_ROW(w, r8, r9); \
	STORE_ROW(w, r10, r11)

#define STOREBETA_ROWS6(w, b, r0, r1, r2, r3, r4, r5, r6, r7, r8, r9, r10, r11) \
	STOREBETA_ROW(w, b, r0, r1); \
	STOREBETA_ROW(w, b, r2, r3); \
	STOREBETA_ROW(w, b, r4, r5); \
	STOREBETA_ROW(w, b, r6, r7); \
	STOREBETA_ROW(w, b, r8, r9); \
	STOREBETA_ROW(w, b, r10, r11)

// The end of a kernel: if beta (a float32 argument) is ±0 jump to nobeta,
// which overwrites C (it may hold NaN garbage that 0*C would propagate;
// shifting out the sign bit makes -0 test as zero too); else broadcast beta
// into b.
#define BETA_OR(nobeta, b) \
	MOVL         beta+44(FP), R10; \
	SHLL         $1, R10;          \
	JZ           nobeta;           \
	VBROADCASTSS beta+44(FP), b
