package gemm

import (
	"fmt"
	"math"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
)

// impl is one way of running the packed GEMM: a micro-kernel and the tile
// and cache blocking tuned for it. The tile (mr×nr) fixes the packed layout,
// so packing, edge handling and the parallel split all read it from here
// rather than from constants.
type impl struct {
	name   string
	kernel kernelFunc
	mr, nr int // register tile of the kernel
	// Cache blocking: a kc×nr micro-panel of B stays in L1 (or at least
	// L2) while the kernel sweeps an mc×kc block of A held in L2; the
	// kc×nc block of B lives in L3. mc is a multiple of mr, nc of nr.
	mc, kc, nc int
}

// maxTile bounds mr·nr over all kernels (the edge-tile scratch size).
const maxTile = 12 * 32

// The built-in implementations, fastest first. Blocking was tuned on Zen 4
// (32 KiB L1d, 1 MiB L2 per core, shared L3) and retuned for AVX2 on Zen 5
// (48 KiB L1d, 1 MiB L2).
var (
	// 6×16 tile in 12 YMM accumulators: a 256-deep B micro-panel is
	// 16 KiB of L1, the 192×256 A block 192 KiB of L2. On Zen 5, with
	// the sides taking turns call by call against OpenBLAS, this ran
	// 2–7 % faster than the Zen 4 choice of kc = 384, mc = 144 on most
	// BERT shapes and slower on none beyond noise (Zen 4 had preferred
	// the deeper block for its fewer passes over C; why Zen 5 does not is
	// not settled).
	implAVX2Desc = &impl{name: implAVX2, kernel: kernelAVX2, mr: 6, nr: 16, mc: 192, kc: 256, nc: 3072}
	// 12×32 tile in 24 ZMM accumulators (see kernel512_amd64.s). Its B
	// micro-panel is 128 bytes per depth step, 48 KiB at kc = 384, more
	// than L1; it streams from L2 instead, which the kernel tolerates
	// (about 7 bytes per cycle of 32), and measured as fast as kc = 192
	// while halving the passes over C. mc = 96 keeps the A block at
	// 144 KiB of L2 next to the B micro-panel.
	implAVX512Desc = &impl{name: implAVX512, kernel: kernelAVX512, mr: 12, nr: 32, mc: 96, kc: 384, nc: 3072}
	// The pure-Go kernel keeps the AVX2 layout so the two are easy to
	// compare.
	implGenericDesc = &impl{name: implGeneric, kernel: kernelGeneric, mr: genericMR, nr: genericNR, mc: 144, kc: 256, nc: 3072}
)

// Below this many multiply-adds a GEMM runs on one goroutine: waking a second
// core costs more than it saves.
const parallelMinMNK = 1 << 17

// SgemmBatched parallelises across the batch (one GEMM per goroutine) when a
// single GEMM has fewer multiply-adds than this; bigger ones are split
// internally, which stays balanced when the batch is not a multiple of the
// thread count and needs only one set of packing buffers in cache.
const batchSerialMaxMNK = 1 << 24

// kernelFunc computes one full mr×nr tile: c = alpha·(a·b) + beta·c, where a
// is a packed mr×k micro-panel, b a packed k×nr micro-panel and c is
// row-major with stride ldc. beta == 0 must not read c.
type kernelFunc func(k int, a, b, c []float32, ldc int, alpha, beta float32)

// Names accepted by CRSC_GEMM and reported by Impl.
const (
	implGeneric  = "generic"
	implAVX2     = "avx2"
	implAVX512   = "avx512"
	implOpenBLAS = "openblas"
)

var (
	implName   string
	implCur    *impl // nil when implBLAS is set
	implBLAS   *BLAS
	numThreads atomic.Int64
)

func init() {
	numThreads.Store(int64(runtime.GOMAXPROCS(0)))
	setImpl(os.Getenv("CRSC_GEMM"))
}

// builtinImpls lists the built-in implementations this CPU can run, fastest
// first; the last is always the pure-Go one.
func builtinImpls() []*impl {
	var l []*impl
	if haveAVX512 {
		l = append(l, implAVX512Desc)
	}
	if haveAVX2 {
		l = append(l, implAVX2Desc)
	}
	return append(l, implGenericDesc)
}

// setImpl picks the implementation: "" means the fastest built-in kernel;
// "avx512", "avx2" and "generic" force that kernel; "openblas" uses
// OpenBLAS if it loads. Anything unavailable falls back to the fastest
// built-in kernel, so a bad environment variable can slow a program down but
// never break it. It must not run concurrently with Sgemm.
func setImpl(name string) {
	implBLAS = nil
	if name == implOpenBLAS {
		if bl, err := OpenBLAS(); err == nil {
			bl.SetThreads(Threads())
			implName, implCur, implBLAS = implOpenBLAS, nil, bl
			return
		}
	}
	avail := builtinImpls()
	implCur = avail[0]
	for _, im := range avail {
		if im.name == name {
			implCur = im
		}
	}
	implName = implCur.name
}

// Impl reports what Sgemm currently uses: "avx512", "avx2", "generic" or
// "openblas".
func Impl() string { return implName }

// SetThreads sets how many goroutines one Sgemm call (or one SgemmBatched
// call) may use. n < 1 restores the default, runtime.GOMAXPROCS(0).
func SetThreads(n int) {
	if n < 1 {
		n = runtime.GOMAXPROCS(0)
	}
	numThreads.Store(int64(n))
	if implBLAS != nil {
		implBLAS.SetThreads(n)
	}
}

// Threads reports the thread count set by SetThreads.
func Threads() int { return int(numThreads.Load()) }

// Sgemm computes C = alpha*op(A)*op(B) + beta*C where op(X) is X or Xᵀ; A is
// m×k (or k×m when transA), B is k×n (or n×k when transB), C is m×n; lda, ldb
// and ldc are row strides. beta == 0 overwrites C without reading it.
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if implBLAS != nil {
		implBLAS.Sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	checkArgs(transA, transB, m, n, k, a, lda, b, ldb, c, ldc)
	g := gemmArgs{transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, nil}
	g.run(Threads(), implCur)
}

// Epilogue is the work a GEMM does on each tile of C once the tile's sums
// are complete, while it is still in cache, instead of in separate passes
// over C afterwards (a linear layer's bias Add, its activation and the
// residual Add after it, as one op):
//
//	C = Act(alpha·op(A)·op(B) + Bias) + Residual
//
// Each step is rounded as the separate op would round it, so C is bit for
// bit what the unfused ops give. A nil field skips its step.
type Epilogue struct {
	Bias []float32 // added to every row of C; len(Bias) ≥ n
	// Act maps a run of finished elements of one row in place. It must be
	// elementwise, each output depending on the element at its position
	// alone, so that how C is tiled cannot change the result.
	Act func(x []float32)
	// Residual is an m×n matrix with row stride LDR, added last.
	Residual []float32
	LDR      int
}

// apply runs the epilogue on the rows×cols block of C that starts at c[0],
// which is element (i0, j0) of the GEMM's C.
func (e *Epilogue) apply(c []float32, ldc, i0, j0, rows, cols int) {
	if e.Bias != nil {
		bias := e.Bias[j0 : j0+cols]
		addBiasTile(c, ldc, rows, bias)
	}
	for i := range rows {
		row := c[i*ldc : i*ldc+cols]
		if e.Act != nil {
			e.Act(row)
		}
		if e.Residual != nil {
			r := e.Residual[(i0+i)*e.LDR+j0:][:cols]
			for j, v := range r {
				row[j] += v
			}
		}
	}
}

// Apply runs the epilogue on a finished rows×cols C (row stride ldc) as
// separate passes: for products a caller computes some other way. The
// result is the same as SgemmEpilogue's.
func (e *Epilogue) Apply(c []float32, ldc, rows, cols int) {
	e.check(rows, cols)
	if rows > 0 && cols > 0 {
		e.apply(c, ldc, 0, 0, rows, cols)
	}
}

// check panics when the epilogue's operands do not cover an m×n C.
func (e *Epilogue) check(m, n int) {
	if e.Bias != nil && len(e.Bias) < n {
		panic(fmt.Sprintf("gemm: bias has %d elements, need %d", len(e.Bias), n))
	}
	if e.Residual != nil {
		checkMatrix("residual", e.Residual, m, n, e.LDR)
	}
}

// SgemmEpilogue computes C = alpha·op(A)·op(B) with the epilogue ep (nil:
// none) applied to C as each tile of it is finished. C is not read.
func SgemmEpilogue(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, ep *Epilogue) {
	checkArgs(transA, transB, m, n, k, a, lda, b, ldb, c, ldc)
	if ep != nil {
		ep.check(m, n)
	}
	if implBLAS != nil {
		implBLAS.Sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, 0, c, ldc)
		if ep != nil {
			ep.Apply(c, ldc, m, n)
		}
		return
	}
	g := gemmArgs{transA, transB, m, n, k, alpha, a, lda, b, ldb, 0, c, ldc, ep}
	g.run(Threads(), implCur)
}

// addBiasRows adds bias to each of the rows of C.
func addBiasRows(c []float32, ldc, rows int, bias []float32) {
	for i := range rows {
		row := c[i*ldc : i*ldc+len(bias)]
		for j, v := range bias {
			row[j] += v
		}
	}
}

// SgemmBatched runs batch independent GEMMs with the same shape; matrix i of
// A starts at a[i*strideA] (likewise B and C). A stride of 0 broadcasts one
// matrix to every GEMM. With strideC == 0 the GEMMs run in order on the same
// C, so beta == 1 accumulates.
func SgemmBatched(transA, transB bool, m, n, k int, alpha float32, a []float32, lda, strideA int, b []float32, ldb, strideB int, beta float32, c []float32, ldc, strideC int, batch int) {
	if batch < 0 || strideA < 0 || strideB < 0 || strideC < 0 {
		panic(fmt.Sprintf("gemm: negative batch or stride (batch=%d strides=%d,%d,%d)", batch, strideA, strideB, strideC))
	}
	if batch == 0 {
		return
	}
	// Checking the last matrix of each operand covers all earlier ones.
	last := batch - 1
	checkArgs(transA, transB, m, n, k,
		tail(a, last*strideA), lda, tail(b, last*strideB), ldb, tail(c, last*strideC), ldc)
	runBatch(batch, strideC != 0, func(i int) gemmArgs {
		return gemmArgs{transA, transB, m, n, k, alpha, a[i*strideA:], lda, b[i*strideB:], ldb, beta, c[i*strideC:], ldc, nil}
	})
}

// SgemmOffsets runs len(aOff) independent GEMMs with the same shape, C =
// alpha·op(A)·op(B), matrix i of A starting at a[aOff[i]] (likewise B and
// C): batched products whose operands are strided views, such as
// attention's heads read out of [batch, seq, heads, dim]. The C matrices
// must not overlap; C is not read.
func SgemmOffsets(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, aOff []int, b []float32, ldb int, bOff []int, c []float32, ldc int, cOff []int) {
	if len(bOff) != len(aOff) || len(cOff) != len(aOff) {
		panic(fmt.Sprintf("gemm: %d, %d and %d offsets for A, B and C", len(aOff), len(bOff), len(cOff)))
	}
	for i := range aOff {
		if aOff[i] < 0 || bOff[i] < 0 || cOff[i] < 0 {
			panic(fmt.Sprintf("gemm: negative offset in batch element %d", i))
		}
		checkArgs(transA, transB, m, n, k, tail(a, aOff[i]), lda, tail(b, bOff[i]), ldb, tail(c, cOff[i]), ldc)
	}
	if len(aOff) == 0 {
		return
	}
	runBatch(len(aOff), true, func(i int) gemmArgs {
		return gemmArgs{transA, transB, m, n, k, alpha, a[aOff[i]:], lda, b[bOff[i]:], ldb, 0, c[cOff[i]:], ldc, nil}
	})
}

// runBatch runs the batch GEMMs at(0) … at(batch-1); independent says
// their C matrices are distinct, so they may run at once.
func runBatch(batch int, independent bool, at func(i int) gemmArgs) {
	if implBLAS != nil {
		for i := range batch {
			g := at(i)
			implBLAS.Sgemm(g.transA, g.transB, g.m, g.n, g.k, g.alpha, g.a, g.lda, g.b, g.ldb, g.beta, g.c, g.ldc)
		}
		return
	}
	threads := Threads()
	if g := at(0); threads < 2 || batch < 2 || !independent || g.m*g.n*g.k >= batchSerialMaxMNK {
		for i := range batch {
			g := at(i)
			g.run(threads, implCur)
		}
		return
	}
	// Small GEMMs: each goroutine takes whole GEMMs off a shared counter, so
	// uneven finishing times balance out.
	//
	// A goroutine claims its next GEMM before it runs the current one and
	// prefetches that GEMM's A, B and C: these GEMMs are too small for the
	// hardware prefetcher to get ahead of the packing loops, which
	// otherwise wait on memory for operands another op just wrote (packing
	// a cold 128×64 A measured 4× slower than a cached one; the attention
	// products of BERT-base at 96×128×128×64 gained 5–15 %).
	var next atomic.Int64
	claim := func() int { return int(next.Add(1) - 1) }
	work := func() {
		for i := claim(); i < batch; {
			j := claim()
			if j < batch {
				gj := at(j)
				gj.prefetch()
			}
			g := at(i)
			g.run(1, implCur)
			i = j
		}
	}
	var wg sync.WaitGroup
	for range min(threads, batch) - 1 {
		wg.Go(work)
	}
	work()
	wg.Wait()
}

// prefetch hints that the GEMM's operands will be read soon, and its C
// written (a line must be in cache before a store can complete).
func (g *gemmArgs) prefetch() {
	prefetchMatrix(g.c, g.m, g.n, g.ldc)
	if g.transA {
		prefetchMatrix(g.a, g.k, g.m, g.lda)
	} else {
		prefetchMatrix(g.a, g.m, g.k, g.lda)
	}
	if g.transB {
		prefetchMatrix(g.b, g.n, g.k, g.ldb)
	} else {
		prefetchMatrix(g.b, g.k, g.n, g.ldb)
	}
}

// tail returns s[off:], or an empty slice when off is past the end, so that
// checkArgs reports the short operand instead of a slice-bounds panic.
func tail(s []float32, off int) []float32 {
	if off > len(s) {
		return nil
	}
	return s[off:]
}

// checkArgs panics on inconsistent dimensions, as gonum's BLAS does: the
// assembly kernel relies on these bounds, so they are checked once up front.
func checkArgs(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	if m < 0 || n < 0 || k < 0 {
		panic(fmt.Sprintf("gemm: negative dimension m=%d n=%d k=%d", m, n, k))
	}
	check := checkMatrix
	if transA {
		check("a", a, k, m, lda)
	} else {
		check("a", a, m, k, lda)
	}
	if transB {
		check("b", b, n, k, ldb)
	} else {
		check("b", b, k, n, ldb)
	}
	check("c", c, m, n, ldc)
}

// checkMatrix panics unless s holds a rows×cols matrix with row stride ld.
func checkMatrix(name string, s []float32, rows, cols, ld int) {
	if ld < max(cols, 1) {
		panic(fmt.Sprintf("gemm: ld%s=%d smaller than row width %d", name, ld, cols))
	}
	if rows > 0 && cols > 0 && len(s) < (rows-1)*ld+cols {
		panic(fmt.Sprintf("gemm: %s has %d elements, need %d for %d×%d with stride %d", name, len(s), (rows-1)*ld+cols, rows, cols, ld))
	}
}

// scaleC sets C = beta*C; beta == 0 writes zeros so NaNs in C do not survive.
func scaleC(m, n int, beta float32, c []float32, ldc int) {
	for i := range m {
		row := c[i*ldc : i*ldc+n]
		if beta == 0 {
			clear(row)
			continue
		}
		if beta == 1 {
			continue
		}
		for j := range row {
			row[j] *= beta
		}
	}
}

type gemmArgs struct {
	transA, transB bool
	m, n, k        int
	alpha          float32
	a              []float32
	lda            int
	b              []float32
	ldb            int
	beta           float32
	c              []float32
	ldc            int
	// ep, when set, is applied to each tile of C once its sums are
	// complete; its column j and row i belong to this GEMM's C.
	ep *Epilogue
}

// run spreads one GEMM over goroutines. Each goroutine gets an independent
// sub-GEMM with its own packing buffers, so they never wait for each other
// (a shared packed B behind a barrier measured slower on a busy 2-core
// machine: one descheduled goroutine stalls every other at each barrier).
// The price is that an operand not cut by the split is packed once per
// goroutine, so the split is chosen to pack the least (see splitPlan).
//
// Every element of C comes out bit-identical whatever the thread count:
// slabs of C do not change how an element is summed, and whether the depth
// is split in two depends on the shape only.
func (g *gemmArgs) run(threads int, im *impl) {
	if g.m == 0 || g.n == 0 {
		return
	}
	if g.k == 0 || g.alpha == 0 {
		scaleC(g.m, g.n, g.beta, g.c, g.ldc)
		if g.ep != nil {
			g.ep.apply(g.c, g.ldc, 0, 0, g.m, g.n)
		}
		return
	}
	if g.splitDepth(im) {
		g.runSplitK(threads, im)
		return
	}
	g.runSlabs(threads, im)
}

// runSlabs cuts C into one slab of rows or of columns per goroutine.
func (g *gemmArgs) runSlabs(threads int, im *impl) {
	if g.m*g.n*g.k < parallelMinMNK {
		threads = 1
	}
	mPanels, nPanels := ceilDiv(g.m, im.mr), ceilDiv(g.n, im.nr)
	threads = min(threads, max(mPanels, nPanels))
	if threads <= 1 {
		g.serial(0, g.m, 0, g.n, im)
		return
	}
	var part func(t int)
	if g.splitPlan(threads, im) == splitM {
		threads = min(threads, mPanels)
		part = func(t int) {
			g.serial(split(g.m, mPanels, im.mr, t, threads), split(g.m, mPanels, im.mr, t+1, threads), 0, g.n, im)
		}
	} else {
		threads = min(threads, nPanels)
		part = func(t int) {
			g.serial(0, g.m, split(g.n, nPanels, im.nr, t, threads), split(g.n, nPanels, im.nr, t+1, threads), im)
		}
	}
	var wg sync.WaitGroup
	for t := 1; t < threads; t++ {
		wg.Go(func() { part(t) })
	}
	part(0)
	wg.Wait()
}

type splitKind int

const (
	splitM splitKind = iota // slabs of rows of C; B packed by every goroutine
	splitN                  // slabs of columns of C; A packed by every goroutine
)

// splitKMaxMN caps the partial sum a depth split keeps: one extra m×n
// buffer. 1<<20 floats (4 MiB) covers 768×768 weight gradients, the case
// that needs it, without growing the runtime's footprint much.
const splitKMaxMN = 1 << 20

// packCost estimates the packing work of one of threads goroutines for a
// slab split of an m×n×k GEMM (packing is memory-bound and is what
// separates the splits; the multiply-adds are the same), in element copies.
// A is re-packed for every nc-wide column block, B once. bWeight is what
// one element of B costs relative to a plain copy.
func packCost(m, n, k, threads, bWeight float64, im *impl, how splitKind) float64 {
	aPasses := func(cols float64) float64 { return math.Ceil(cols / float64(im.nc)) }
	if how == splitM {
		return m/threads*k*aPasses(n) + bWeight*k*n
	}
	return m*k*aPasses(n/threads) + bWeight*k*n/threads
}

// bWeight: packing a transposed B scatters each stored row down a panel
// column, about twice the cost of the chunk copies of the other packings.
// Counting it double makes NT 4096×3072×768 split by columns, which
// measured 5–15 % faster than rows on both kernels.
func (g *gemmArgs) bWeight() float64 {
	if g.transB {
		return 2
	}
	return 1
}

// splitPlan picks the slab split that packs least.
func (g *gemmArgs) splitPlan(threads int, im *impl) splitKind {
	m, n, k, t, bw := float64(g.m), float64(g.n), float64(g.k), float64(threads), g.bWeight()
	if packCost(m, n, k, t, bw, im, splitN) < packCost(m, n, k, t, bw, im, splitM) {
		return splitN
	}
	return splitM
}

// splitDepth reports whether the GEMM is computed as two half-depth GEMMs
// whose results are summed. That suits a small C with a long depth (the
// weight gradients Xᵀ·G): two goroutines then each pack half of A and half
// of B, where slabs of C would have each pack all of one operand. The
// decision is made for two goroutines whatever the thread count, so that
// the summation order, and with it every bit of C, never depends on it.
func (g *gemmArgs) splitDepth(im *impl) bool {
	if g.m*g.n > splitKMaxMN || g.k < 2*im.kc || g.m*g.n*g.k < parallelMinMNK {
		return false
	}
	m, n, k, bw := float64(g.m), float64(g.n), float64(g.k), g.bWeight()
	slabs := min(packCost(m, n, k, 2, bw, im, splitM), packCost(m, n, k, 2, bw, im, splitN))
	// Each half packs half the depth of both operands; the sum reads the
	// partial and reads and writes C, about 3·m·n/2 element moves per
	// goroutine.
	return packCost(m, n, k/2, 1, bw, im, splitM)+3*m*n/2 < slabs
}

// runSplitK computes C = beta·C + alpha·A₀·B₀ in place and alpha·A₁·B₁
// into a pooled m×n buffer, the depth cut in two even halves (in steps of
// kStep, not of kc: 4096 in kc = 384 blocks would split 5:6), each half on
// half the goroutines, and then adds the buffer into C with the rows split
// across all of them.
func (g *gemmArgs) runSplitK(threads int, im *impl) {
	const kStep = 16
	kSteps := ceilDiv(g.k, kStep)
	kMid := split(g.k, kSteps, kStep, 1, 2)
	lo, hi := *g, *g
	lo.k, hi.k = kMid, g.k-kMid
	lo.ep, hi.ep = nil, nil
	if g.transA {
		hi.a = g.a[kMid*g.lda:]
	} else {
		hi.a = g.a[kMid:]
	}
	if g.transB {
		hi.b = g.b[kMid:]
	} else {
		hi.b = g.b[kMid*g.ldb:]
	}
	part := partialPool.Get().(*partialBuf)
	part.c = grow(part.c, g.m*g.n)
	hi.c, hi.ldc, hi.beta = part.c, g.n, 0
	if threads < 2 {
		lo.runSlabs(1, im)
		hi.runSlabs(1, im)
	} else {
		var wg sync.WaitGroup
		wg.Go(func() { hi.runSlabs(threads/2, im) })
		lo.runSlabs(threads-threads/2, im)
		wg.Wait()
	}
	add := func(t, parts int) {
		i0, i1 := g.m*t/parts, g.m*(t+1)/parts
		for i := i0; i < i1; i++ {
			dst := g.c[i*g.ldc : i*g.ldc+g.n]
			src := part.c[i*g.n : i*g.n+g.n]
			for j := range dst {
				dst[j] += src[j]
			}
		}
		if g.ep != nil && i1 > i0 {
			g.ep.apply(g.c[i0*g.ldc:], g.ldc, i0, 0, i1-i0, g.n)
		}
	}
	parts := max(threads, 1)
	var wg sync.WaitGroup
	for t := 1; t < parts; t++ {
		wg.Go(func() { add(t, parts) })
	}
	add(0, parts)
	wg.Wait()
	partialPool.Put(part)
}

// partialBuf holds one goroutine's partial product in a depth split.
type partialBuf struct{ c []float32 }

var partialPool = sync.Pool{New: func() any { return new(partialBuf) }}

// split returns where part t of parts starts when n elements, grouped into
// panels of width w, are divided evenly by whole panels.
func split(n, panels, w, t, parts int) int {
	return min(n, t*panels/parts*w)
}

// packBuffers holds one goroutine's packed copies of A and B blocks. They are
// pooled because a 3 MiB B block per call would otherwise dominate
// allocation in a training loop.
type packBuffers struct {
	a, b []float32
	tile [maxTile]float32 // scratch for edge tiles
}

var packPool = sync.Pool{New: func() any { return new(packBuffers) }}

func grow(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

// serial computes rows [i0,i1) × columns [j0,j1) of C on the calling
// goroutine with the classic GotoBLAS loop nest: jc (nc columns) → pc (kc
// depth, B packed) → ic (mc rows, A packed) → micro-kernel tiles.
func (g *gemmArgs) serial(i0, i1, j0, j1 int, im *impl) {
	if i0 >= i1 || j0 >= j1 {
		return
	}
	if g.k == 0 {
		scaleC(i1-i0, j1-j0, g.beta, g.c[i0*g.ldc+j0:], g.ldc)
		return
	}
	kcMax := depthBlock(g.k, im.kc)
	bufs := packPool.Get().(*packBuffers)
	bufs.a = grow(bufs.a, min(im.mc, roundUp(i1-i0, im.mr))*kcMax)
	bufs.b = grow(bufs.b, kcMax*min(im.nc, roundUp(j1-j0, im.nr)))
	for jc := j0; jc < j1; jc += im.nc {
		nc := min(im.nc, j1-jc)
		for pc := 0; pc < g.k; pc += kcMax {
			kc := min(kcMax, g.k-pc)
			g.packB(pc, jc, kc, nc, im.nr, bufs.b)
			for ic := i0; ic < i1; ic += im.mc {
				mc := min(im.mc, i1-ic)
				g.packA(ic, pc, mc, kc, im.mr, bufs.a)
				g.macroKernel(ic, jc, pc, mc, nc, kc, bufs.a, bufs.b, bufs.tile[:], im)
			}
		}
	}
	packPool.Put(bufs)
}

// depthBlock is the depth of the blocks k is cut into: as even as whole
// multiples of 8 allow, and at most kc. Even blocks keep a short last block
// from paying the kernel's per-block load and store of C on little work
// (k = 2048 in kc = 384 blocks would end in a 128-deep one; in six blocks of
// 344 none is short).
func depthBlock(k, kc int) int {
	return min(kc, roundUp(ceilDiv(k, ceilDiv(k, kc)), 8))
}

// macroKernel multiplies a packed mc×kc block of A by a packed kc×nc block of
// B into C[ic:ic+mc, jc:jc+nc]. The jr loop is outside so one B micro-panel
// stays close (L1 for AVX2, L2 for AVX-512, see impl) while all A
// micro-panels of the block stream past it from L2.
func (g *gemmArgs) macroKernel(ic, jc, pc, mc, nc, kc int, pa, pb, tmp []float32, im *impl) {
	// Only the first slice of k applies the caller's beta; later ones add
	// onto what the first wrote.
	beta := g.beta
	if pc > 0 {
		beta = 1
	}
	mr, nr, kern := im.mr, im.nr, im.kernel
	// The last slice of the depth finishes C's sums: the epilogue runs
	// then, tile by tile.
	var ep *Epilogue
	if pc+kc == g.k {
		ep = g.ep
	}
	for jr := 0; jr < nc; jr += nr {
		cols := min(nr, nc-jr)
		bp := pb[jr*kc : (jr+nr)*kc]
		for ir := 0; ir < mc; ir += mr {
			rows := min(mr, mc-ir)
			ap := pa[ir*kc : (ir+mr)*kc]
			off := (ic+ir)*g.ldc + jc + jr
			if rows == mr && cols == nr {
				kern(kc, ap, bp, g.c[off:], g.ldc, g.alpha, beta)
			} else {
				// Edge tile: the packed panels are zero-padded, so the
				// kernel can compute a full tile into scratch; only the
				// valid part is merged into C.
				kern(kc, ap, bp, tmp, nr, g.alpha, 0)
				for i := range rows {
					dst := g.c[off+i*g.ldc : off+i*g.ldc+cols]
					src := tmp[i*nr : i*nr+cols]
					if beta == 0 {
						copy(dst, src)
						continue
					}
					for j := range dst {
						dst[j] = beta*dst[j] + src[j]
					}
				}
			}
			if ep != nil {
				ep.apply(g.c[off:], g.ldc, ic+ir, jc+jr, rows, cols)
			}
		}
	}
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }
func roundUp(a, b int) int { return ceilDiv(a, b) * b }
