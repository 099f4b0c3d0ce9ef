package gemm

import (
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
)

// Register block of the micro-kernel: it keeps an mr×nr tile of C in
// registers (12 YMM accumulators for 6×16) while streaming packed A and B.
const (
	mr = 6
	nr = 16
)

// Cache blocking, tuned on Zen 3/4 (32 KiB L1d, 512 KiB–1 MiB L2 per core,
// shared L3). A kc×nr micro-panel of B (16 KiB) stays in L1 while the kernel
// sweeps an mc×kc block of A (144 KiB) that stays in L2; the kc×nc block of B
// (3 MiB) lives in L3.
var (
	blockMC = 144 // multiple of mr
	blockKC = 256
	blockNC = 3072 // multiple of nr
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

const (
	implGeneric  = "generic"
	implAVX2     = "avx2"
	implOpenBLAS = "openblas"
)

var (
	implName   string
	implKernel kernelFunc
	implBLAS   *BLAS
	numThreads atomic.Int64
)

func init() {
	numThreads.Store(int64(runtime.GOMAXPROCS(0)))
	setImpl(os.Getenv("CRSC_GEMM"))
}

// setImpl picks the implementation: "" means the fastest built-in kernel,
// "generic" forces the pure-Go kernel, "openblas" uses OpenBLAS if it loads.
// Anything unavailable falls back to the best built-in kernel, so a bad
// environment variable can slow a program down but never break it.
func setImpl(name string) {
	implBLAS = nil
	if name == implOpenBLAS {
		if bl, err := OpenBLAS(); err == nil {
			implName, implKernel, implBLAS = implOpenBLAS, nil, bl
			return
		}
	}
	if name != implGeneric && haveAVX2 {
		implName, implKernel = implAVX2, kernelAVX2
		return
	}
	implName, implKernel = implGeneric, kernelGeneric
}

// Impl reports what Sgemm currently uses: "avx2", "generic" or "openblas".
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
	g := gemmArgs{transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc}
	g.run(Threads(), implKernel)
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
	at := func(i int) gemmArgs {
		return gemmArgs{transA, transB, m, n, k, alpha, a[i*strideA:], lda, b[i*strideB:], ldb, beta, c[i*strideC:], ldc}
	}
	if implBLAS != nil {
		for i := range batch {
			g := at(i)
			implBLAS.Sgemm(transA, transB, m, n, k, alpha, g.a, lda, g.b, ldb, beta, g.c, ldc)
		}
		return
	}
	threads := Threads()
	if threads < 2 || batch < 2 || strideC == 0 || m*n*k >= batchSerialMaxMNK {
		for i := range batch {
			g := at(i)
			g.run(threads, implKernel)
		}
		return
	}
	// Small GEMMs: each goroutine takes whole GEMMs off a shared counter, so
	// uneven finishing times balance out.
	var next atomic.Int64
	work := func() {
		for {
			i := int(next.Add(1) - 1)
			if i >= batch {
				return
			}
			g := at(i)
			g.run(1, implKernel)
		}
	}
	var wg sync.WaitGroup
	for range min(threads, batch) - 1 {
		wg.Go(work)
	}
	work()
	wg.Wait()
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
	check := func(name string, s []float32, rows, cols, ld int) {
		if ld < max(cols, 1) {
			panic(fmt.Sprintf("gemm: ld%s=%d smaller than row width %d", name, ld, cols))
		}
		if rows > 0 && cols > 0 && len(s) < (rows-1)*ld+cols {
			panic(fmt.Sprintf("gemm: %s has %d elements, need %d for %d×%d with stride %d", name, len(s), (rows-1)*ld+cols, rows, cols, ld))
		}
	}
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
}

// run spreads one GEMM over goroutines by cutting C into one slab per
// goroutine along its larger dimension; each slab is an independent GEMM with
// its own packing buffers. The operand that is not split gets packed once per
// goroutine, which costs a few percent at most for the shapes worth
// splitting, and in exchange the goroutines never wait for each other. (A
// shared packed B behind a barrier measured slower on a busy 2-core machine:
// one descheduled goroutine stalls every other at each barrier.)
func (g *gemmArgs) run(threads int, kern kernelFunc) {
	if g.m == 0 || g.n == 0 {
		return
	}
	if g.k == 0 || g.alpha == 0 {
		scaleC(g.m, g.n, g.beta, g.c, g.ldc)
		return
	}
	mPanels, nPanels := ceilDiv(g.m, mr), ceilDiv(g.n, nr)
	if g.m*g.n*g.k < parallelMinMNK {
		threads = 1
	}
	threads = min(threads, max(mPanels, nPanels))
	if threads <= 1 {
		g.serial(0, g.m, 0, g.n, kern)
		return
	}
	slab := func(t int) {
		if mPanels >= nPanels {
			g.serial(split(g.m, mPanels, mr, t, threads), split(g.m, mPanels, mr, t+1, threads), 0, g.n, kern)
		} else {
			g.serial(0, g.m, split(g.n, nPanels, nr, t, threads), split(g.n, nPanels, nr, t+1, threads), kern)
		}
	}
	var wg sync.WaitGroup
	for t := 1; t < threads; t++ {
		wg.Go(func() { slab(t) })
	}
	slab(0)
	wg.Wait()
}

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
	tile [mr * nr]float32 // scratch for edge tiles
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
func (g *gemmArgs) serial(i0, i1, j0, j1 int, kern kernelFunc) {
	if i0 >= i1 || j0 >= j1 {
		return
	}
	kcMax := min(blockKC, g.k)
	bufs := packPool.Get().(*packBuffers)
	bufs.a = grow(bufs.a, min(blockMC, roundUp(i1-i0, mr))*kcMax)
	bufs.b = grow(bufs.b, kcMax*min(blockNC, roundUp(j1-j0, nr)))
	for jc := j0; jc < j1; jc += blockNC {
		nc := min(blockNC, j1-jc)
		for pc := 0; pc < g.k; pc += blockKC {
			kc := min(blockKC, g.k-pc)
			g.packB(pc, jc, kc, nc, bufs.b)
			for ic := i0; ic < i1; ic += blockMC {
				mc := min(blockMC, i1-ic)
				g.packA(ic, pc, mc, kc, bufs.a)
				g.macroKernel(ic, jc, pc, mc, nc, kc, bufs.a, bufs.b, &bufs.tile, kern)
			}
		}
	}
	packPool.Put(bufs)
}

// macroKernel multiplies a packed mc×kc block of A by a packed kc×nc block of
// B into C[ic:ic+mc, jc:jc+nc]. The jr loop is outside so one B micro-panel
// stays in L1 while all A micro-panels of the block stream past it from L2.
func (g *gemmArgs) macroKernel(ic, jc, pc, mc, nc, kc int, pa, pb []float32, tmp *[mr * nr]float32, kern kernelFunc) {
	// Only the first slice of k applies the caller's beta; later ones add
	// onto what the first wrote.
	beta := g.beta
	if pc > 0 {
		beta = 1
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
				continue
			}
			// Edge tile: the packed panels are zero-padded, so the kernel
			// can compute a full tile into scratch; only the valid part
			// is merged into C.
			kern(kc, ap, bp, tmp[:], nr, g.alpha, 0)
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
	}
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }
func roundUp(a, b int) int { return ceilDiv(a, b) * b }
