package gemm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// refGemm is the textbook triple loop in float64, the ground truth.
func refGemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	for i := range m {
		for j := range n {
			var s float64
			for p := range k {
				var av, bv float32
				if transA {
					av = a[p*lda+i]
				} else {
					av = a[i*lda+p]
				}
				if transB {
					bv = b[j*ldb+p]
				} else {
					bv = b[p*ldb+j]
				}
				s += float64(av) * float64(bv)
			}
			r := float64(alpha) * s
			if beta != 0 {
				r += float64(beta) * float64(c[i*ldc+j])
			}
			c[i*ldc+j] = float32(r)
		}
	}
}

func randSlice(rng *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = rng.Float32()*2 - 1
	}
	return s
}

// withImpl runs f with the given implementation forced, restoring the
// default afterwards.
func withImpl(t testing.TB, name string, f func()) {
	t.Helper()
	prev := implName
	setImpl(name)
	if name != "" && implName != name {
		setImpl(prev)
		t.Skipf("implementation %q not available (got %q)", name, implName)
	}
	defer setImpl(prev)
	f()
}

// allImpls are the built-in implementations, each tested on its own; what
// each needs from the CPU is what the skip message reports.
var allImpls = []struct{ name, needs string }{
	{implAVX512, "AVX-512F"},
	{implAVX2, "AVX2 and FMA"},
	{implGeneric, ""},
}

// lookupImpl returns the built-in implementation with that name, or nil when
// this CPU (or build) cannot run it.
func lookupImpl(name string) *impl {
	for _, im := range builtinImpls() {
		if im.name == name {
			return im
		}
	}
	return nil
}

// forEachImpl runs f as a subtest per built-in implementation with that
// implementation selected, skipping the ones this machine cannot run.
func forEachImpl(t *testing.T, f func(t *testing.T, im *impl)) {
	for _, c := range allImpls {
		t.Run(c.name, func(t *testing.T) {
			im := lookupImpl(c.name)
			if im == nil {
				t.Skipf("%s kernel not tested: this CPU or build lacks %s (or it is a purego/non-amd64 build)", c.name, c.needs)
			}
			withImpl(t, c.name, func() { f(t, im) })
		})
	}
}

// compare checks got against want with a tolerance that grows like sqrt(k),
// the expected growth of float32 rounding error in a k-term dot product.
func compare(t *testing.T, got, want []float32, k int, scale float64) {
	t.Helper()
	tol := 1e-5 * math.Sqrt(float64(max(k, 1))) * max(scale, 1)
	for i := range want {
		if d := math.Abs(float64(got[i]) - float64(want[i])); d > tol*(1+math.Abs(float64(want[i]))) || math.IsNaN(float64(got[i])) != math.IsNaN(float64(want[i])) {
			t.Fatalf("element %d: got %v want %v (tol %g)", i, got[i], want[i], tol)
		}
	}
}

type shape struct{ m, n, k int }

var testShapes = []shape{
	{1, 1, 1}, {7, 13, 5}, {6, 16, 8}, {12, 32, 4}, {5, 17, 3}, {65, 129, 257},
	{3, 40, 0}, {0, 5, 7}, {9, 0, 4}, {130, 20, 300}, {20, 130, 600}, {1, 200, 33}, {200, 1, 33},
	// Edges of the 12×32 tile, several kc blocks, more than one mc block
	// (AVX-512 mc = 384), more than one nc block, and a depth split.
	{25, 65, 200}, {24, 64, 385}, {400, 40, 20}, {3, 3100, 5}, {40, 40, 800},
}

func TestSgemm(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	forEachImpl(t, func(t *testing.T, im *impl) {
		for _, threads := range []int{1, 2} {
			for _, s := range testShapes {
				for _, tr := range [][2]bool{{false, false}, {false, true}, {true, false}, {true, true}} {
					for _, ab := range [][2]float32{{1, 0}, {1, 1}, {-0.5, 2}, {0, 0.5}} {
						for _, pad := range []int{0, 3} {
							name := fmt.Sprintf("t%d/%dx%dx%d/tA=%v,tB=%v/a=%v,b=%v/pad%d", threads, s.m, s.n, s.k, tr[0], tr[1], ab[0], ab[1], pad)
							runCase(t, name, threads, rng, s, tr[0], tr[1], ab[0], ab[1], pad)
						}
					}
				}
			}
		}
	})
}

// TestKernel checks each micro-kernel on its own against a float64 dot
// product, on packed panels of its own tile, for depths around the unroll
// factor and with ldc wider than the tile.
func TestKernel(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	forEachImpl(t, func(t *testing.T, im *impl) {
		mr, nr := im.mr, im.nr
		for _, k := range []int{1, 2, 3, 4, 5, 7, 8, 9, 17, 64, 191, 256} {
			for _, ab := range [][2]float32{{1, 0}, {1, 1}, {-0.5, 2}, {2, -0.25}} {
				a, b := randSlice(rng, k*mr), randSlice(rng, k*nr)
				ldc := nr + 5
				c := randSlice(rng, mr*ldc)
				if ab[1] == 0 {
					for i := range c {
						c[i] = float32(math.NaN())
					}
				}
				want := append([]float32(nil), c...)
				for i := range mr {
					for j := range nr {
						var s float64
						for p := range k {
							s += float64(a[p*mr+i]) * float64(b[p*nr+j])
						}
						r := float64(ab[0]) * s
						if ab[1] != 0 {
							r += float64(ab[1]) * float64(c[i*ldc+j])
						}
						want[i*ldc+j] = float32(r)
					}
				}
				got := append([]float32(nil), c...)
				im.kernel(k, a, b, got, ldc, ab[0], ab[1])
				// The padding between rows must be left alone.
				for i := range mr {
					for j := nr; j < ldc && i*ldc+j < len(c); j++ {
						if g, w := got[i*ldc+j], c[i*ldc+j]; g != w && !(math.IsNaN(float64(g)) && math.IsNaN(float64(w))) {
							t.Fatalf("k=%d: kernel wrote past the tile at row %d col %d", k, i, j)
						}
					}
				}
				t.Run(fmt.Sprintf("k%d/a=%v,b=%v", k, ab[0], ab[1]), func(t *testing.T) { compare(t, got, want, k, 1) })
			}
		}
	})
}

// TestSplitPlan pins which parallel split the cost model picks for the
// shapes it was designed around, so a change to it is a visible decision.
func TestSplitPlan(t *testing.T) {
	for _, im := range []*impl{implGenericDesc, implAVX2Desc, implAVX512Desc} {
		for _, c := range []struct {
			transA, transB bool
			m, n, k        int
			want           string
		}{
			{false, false, 4096, 768, 768, "M"},
			{false, true, 4096, 768, 768, "M"},
			{false, true, 4096, 3072, 768, "N"},
			{false, false, 4096, 3072, 768, "M"},
			{true, false, 768, 768, 4096, "K"},
			{true, false, 3072, 768, 4096, "M"},
			{true, false, 768, 3072, 4096, "N"},
			{false, false, 40, 40, 800, "K"},
			{false, false, 40, 40, 100, "M"},
		} {
			g := gemmArgs{transA: c.transA, transB: c.transB, m: c.m, n: c.n, k: c.k}
			got := "M"
			if g.splitDepth(im) {
				got = "K"
			} else if g.splitPlan(2, im) == splitN {
				got = "N"
			}
			if got != c.want {
				t.Errorf("%s %dx%dx%d: split %s, want %s", im.name, c.m, c.n, c.k, got, c.want)
			}
		}
	}
}

// TestThreadsBitIdentical: the result must not depend on the thread count,
// bit for bit, for slab splits and the depth split alike (the runtime's
// gradients are reproducible across machines with different core counts).
func TestThreadsBitIdentical(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	forEachImpl(t, func(t *testing.T, im *impl) {
		for _, s := range []shape{{40, 40, 800}, {200, 150, 300}, {30, 700, 50}, {100, 100, 2000}} {
			for _, transA := range []bool{false, true} {
				lda := s.k
				if transA {
					lda = s.m
				}
				a, b := randSlice(rng, s.m*s.k), randSlice(rng, s.k*s.n)
				c0 := randSlice(rng, s.m*s.n)
				var first []float32
				for _, threads := range []int{1, 2, 3, 4} {
					c := append([]float32(nil), c0...)
					g := gemmArgs{transA, false, s.m, s.n, s.k, 0.75, a, lda, b, s.n, 0.5, c, s.n, nil}
					g.run(threads, im)
					if first == nil {
						first = c
						continue
					}
					for i := range c {
						if math.Float32bits(c[i]) != math.Float32bits(first[i]) {
							t.Fatalf("%dx%dx%d transA=%v: element %d differs with %d threads: %v vs %v", s.m, s.n, s.k, transA, i, threads, c[i], first[i])
						}
					}
				}
			}
		}
	})
}

func runCase(t *testing.T, name string, threads int, rng *rand.Rand, s shape, transA, transB bool, alpha, beta float32, pad int) {
	m, n, k := s.m, s.n, s.k
	ar, ac := m, k
	if transA {
		ar, ac = k, m
	}
	br, bc := k, n
	if transB {
		br, bc = n, k
	}
	lda, ldb, ldc := ac+pad, bc+pad, n+pad
	lda, ldb, ldc = max(lda, 1), max(ldb, 1), max(ldc, 1)
	a := randSlice(rng, ar*lda)
	b := randSlice(rng, br*ldb)
	c := randSlice(rng, m*ldc)
	if beta == 0 {
		// beta == 0 must overwrite: NaN in C must not leak into the result.
		for i := range c {
			c[i] = float32(math.NaN())
		}
	}
	want := append([]float32(nil), c...)
	refGemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, want, ldc)
	got := append([]float32(nil), c...)
	prev := Threads()
	SetThreads(threads)
	defer SetThreads(prev)
	Sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, got, ldc)
	t.Run(name, func(t *testing.T) { compare(t, got, want, k, 1) })
}

func TestSgemmBatched(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	cases := []struct {
		m, n, k, batch int
		sa, sb, sc     bool // stride nonzero?
		transA, transB bool
		alpha, beta    float32
	}{
		{64, 128, 128, 8, true, true, true, false, false, 1, 0},
		{64, 64, 128, 5, true, true, true, false, true, 0.125, 0},
		{33, 17, 9, 7, true, false, true, true, false, 1, 1},     // B broadcast
		{33, 17, 9, 7, false, true, true, false, true, 2, 0.5},   // A broadcast
		{300, 200, 300, 3, true, true, true, false, false, 1, 0}, // big: split within each GEMM
		{8, 8, 8, 4, true, true, false, false, false, 1, 1},      // C shared: accumulates in order
		{5, 6, 7, 1, true, true, true, true, true, 1, 0},
	}
	forEachImpl(t, func(t *testing.T, _ *impl) {
		for _, tc := range cases {
			name := fmt.Sprintf("%dx%dx%d*%d/sa%v,sb%v,sc%v/tA%v,tB%v", tc.m, tc.n, tc.k, tc.batch, tc.sa, tc.sb, tc.sc, tc.transA, tc.transB)
			t.Run(name, func(t *testing.T) {
				m, n, k := tc.m, tc.n, tc.k
				sizeA, sizeB, sizeC := m*k+1, k*n+2, m*n+3 // odd padding between matrices
				lda, ldb, ldc := k, n, n
				if tc.transA {
					lda = m
				}
				if tc.transB {
					ldb = k
				}
				stride := func(on bool, size int) int {
					if on {
						return size
					}
					return 0
				}
				strA, strB, strC := stride(tc.sa, sizeA), stride(tc.sb, sizeB), stride(tc.sc, sizeC)
				a := randSlice(rng, max(1, tc.batch*strA+sizeA))
				b := randSlice(rng, max(1, tc.batch*strB+sizeB))
				c := randSlice(rng, max(1, tc.batch*strC+sizeC))
				want := append([]float32(nil), c...)
				for i := range tc.batch {
					refGemm(tc.transA, tc.transB, m, n, k, tc.alpha, a[i*strA:], lda, b[i*strB:], ldb, tc.beta, want[i*strC:], ldc)
				}
				got := append([]float32(nil), c...)
				SgemmBatched(tc.transA, tc.transB, m, n, k, tc.alpha, a, lda, strA, b, ldb, strB, tc.beta, got, ldc, strC, tc.batch)
				scale := 1.0
				if !tc.sc {
					scale = float64(tc.batch) // accumulated result grows
				}
				compare(t, got, want, k, scale)
			})
		}
	})
}

func TestOpenBLASMatches(t *testing.T) {
	bl, err := OpenBLAS()
	if err != nil {
		t.Skip(err)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for _, tr := range [][2]bool{{false, false}, {false, true}, {true, false}, {true, true}} {
		m, n, k := 37, 53, 71
		lda, ldb := k, n
		if tr[0] {
			lda = m
		}
		if tr[1] {
			ldb = k
		}
		a, b := randSlice(rng, m*k), randSlice(rng, k*n)
		c := randSlice(rng, m*n)
		want := append([]float32(nil), c...)
		refGemm(tr[0], tr[1], m, n, k, 1.5, a, lda, b, ldb, 0.5, want, n)
		bl.Sgemm(tr[0], tr[1], m, n, k, 1.5, a, lda, b, ldb, 0.5, c, n)
		compare(t, c, want, k, 1)
	}
	withImpl(t, implOpenBLAS, func() {
		if Impl() != implOpenBLAS {
			t.Fatalf("Impl() = %q after selecting openblas", Impl())
		}
	})
}

func TestBadArgsPanic(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("short C did not panic")
		}
	}()
	Sgemm(false, false, 2, 2, 2, 1, make([]float32, 4), 2, make([]float32, 4), 2, 0, make([]float32, 3), 2)
}

func TestSgemmAllocs(t *testing.T) {
	if Impl() == implOpenBLAS {
		t.Skip("CRSC_GEMM=openblas: OpenBLAS packs into its own buffers, and each purego call allocates")
	}
	m, n, k := 128, 128, 128
	a, b, c := make([]float32, m*k), make([]float32, k*n), make([]float32, m*n)
	Sgemm(false, false, m, n, k, 1, a, k, b, n, 0, c, n)
	allocs := testing.AllocsPerRun(20, func() {
		Sgemm(false, false, m, n, k, 1, a, k, b, n, 0, c, n)
	})
	if allocs > 8 {
		t.Errorf("Sgemm allocates %v times per call; packing buffers should be pooled", allocs)
	}
}

// TestGatherChunks checks the transposed-A gather (assembly on amd64)
// against the portable loop, for the widths and depths packAT uses and one
// without a fast form, and that it writes nothing outside the chunks.
func TestGatherChunks(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for _, c := range []struct{ w, rows int }{{6, 8}, {12, 4}, {5, 3}} {
		for _, n := range []int{0, 1, 3, 17} {
			lda, stride := n*c.w+7, c.w*c.rows+3
			src := randSlice(rng, c.rows*lda)
			got := randSlice(rng, max(n*stride, 1))
			want := append([]float32(nil), got...)
			gatherChunks(got, src, c.w, c.rows, lda, n, stride)
			for i := range n {
				for r := range c.rows {
					copy(want[i*stride+r*c.w:][:c.w], src[r*lda+i*c.w:])
				}
			}
			if !slices.Equal(got, want) {
				t.Fatalf("w=%d rows=%d n=%d: got %v, want %v", c.w, c.rows, n, got, want)
			}
		}
	}
}

// TestSpreadChunks checks the packing helper (assembly on amd64) against
// the portable loop for every chunk width the kernels use, and that it
// writes nothing between chunks.
func TestSpreadChunks(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for _, w := range []int{6, 12, 16, 32, 5} {
		for _, n := range []int{0, 1, 3, 17} {
			stride := w*3 + 1
			src := randSlice(rng, max(n*w, 1))
			got := randSlice(rng, max(n*stride, 1))
			want := append([]float32(nil), got...)
			spreadChunks(got, src, w, n, stride)
			spreadChunksGo(want, src, w, n, stride)
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("w=%d n=%d: element %d is %v, want %v", w, n, i, got[i], want[i])
				}
			}
			for i := range n {
				for j := range w {
					if want[i*stride+j] != src[i*w+j] {
						t.Fatalf("w=%d n=%d: chunk %d not copied", w, n, i)
					}
				}
			}
		}
	}
}

// TestTransposeRows checks the transposing pack (AVX-512 assembly where
// the CPU has it) against element copies: every panel shape it serves,
// depths with and without a remainder, and nothing written outside the
// rows×kc elements it owns.
func TestTransposeRows(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for _, tc := range []struct{ rows, stride, ld, kc int }{
		{12, 12, 64, 64}, {12, 12, 768, 384}, {12, 12, 70, 37}, {12, 12, 16, 16},
		{16, 32, 128, 128}, {16, 32, 64, 64}, {16, 32, 100, 81}, {16, 16, 17, 17},
		{12, 12, 8, 8}, {6, 6, 64, 64},
	} {
		src := randSlice(rng, (tc.rows-1)*tc.ld+tc.kc)
		got := randSlice(rng, (tc.kc-1)*tc.stride+tc.stride)
		want := append([]float32(nil), got...)
		if !transposeRows(got, tc.stride, src, tc.ld, tc.rows, tc.kc) {
			continue // no fast form here: packing keeps its element copies
		}
		for p := range tc.kc {
			for r := range tc.rows {
				want[p*tc.stride+r] = src[r*tc.ld+p]
			}
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("%+v: element %d (depth %d, lane %d) is %v, want %v", tc, i, i/tc.stride, i%tc.stride, got[i], want[i])
			}
		}
	}
}

// TestSgemmEpilogue: SgemmEpilogue gives, bit for bit, Sgemm followed by
// the epilogue's steps as separate passes over C (bias, activation,
// residual, and their combinations), on every implementation and thread
// count, for shapes with edge tiles, several depth slices, column blocks
// and a depth split.
func TestSgemmEpilogue(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	// An activation whose result depends on every bit of its input, so a
	// step applied out of order or twice shows.
	act := func(x []float32) {
		for i, v := range x {
			x[i] = v*v*0.25 - v
		}
	}
	cases := []struct {
		name                string
		bias, act, residual bool
	}{
		{"bias", true, false, false},
		{"act", false, true, false},
		{"residual", false, false, true},
		{"bias+act", true, true, false},
		{"bias+residual", true, false, true},
		{"bias+act+residual", true, true, true},
	}
	check := func(t *testing.T) {
		for _, threads := range []int{1, 2} {
			SetThreads(threads)
			for _, s := range testShapes {
				for _, tr := range [][2]bool{{false, false}, {false, true}, {true, false}} {
					lda, ldb, ldc, ldr := s.k, s.n, s.n+3, s.n+1
					if tr[0] {
						lda = s.m
					}
					if tr[1] {
						ldb = s.k
					}
					a, b := randSlice(rng, max(s.m, s.k)*max(lda, 1)), randSlice(rng, max(s.k, s.n)*max(ldb, 1))
					bias, res := randSlice(rng, s.n+1), randSlice(rng, max(s.m*ldr, 1))
					for _, c := range cases {
						ep := &Epilogue{LDR: ldr}
						want := randSlice(rng, max(s.m*ldc, 1))
						got := append([]float32(nil), want...)
						for i := range got {
							got[i] = float32(math.NaN()) // never read
						}
						Sgemm(tr[0], tr[1], s.m, s.n, s.k, 1.5, a, max(lda, 1), b, max(ldb, 1), 0, want, ldc)
						for i := range s.m {
							row := want[i*ldc : i*ldc+s.n]
							if c.bias {
								ep.Bias = bias
								addBiasRows(row, ldc, 1, bias[:s.n])
							}
							if c.act {
								ep.Act = act
								act(row)
							}
							if c.residual {
								ep.Residual = res
								for j := range row {
									row[j] += res[i*ldr+j]
								}
							}
						}
						SgemmEpilogue(tr[0], tr[1], s.m, s.n, s.k, 1.5, a, max(lda, 1), b, max(ldb, 1), got, ldc, ep)
						for i := range s.m {
							for j := range s.n {
								if w, g := want[i*ldc+j], got[i*ldc+j]; math.Float32bits(w) != math.Float32bits(g) {
									t.Fatalf("%s t%d %dx%dx%d tA=%v tB=%v: C[%d][%d] = %v, want %v", c.name, threads, s.m, s.n, s.k, tr[0], tr[1], i, j, g, w)
								}
							}
						}
					}
				}
			}
		}
		SetThreads(0)
	}
	forEachImpl(t, func(t *testing.T, _ *impl) { check(t) })
	t.Run(implOpenBLAS, func(t *testing.T) { withImpl(t, implOpenBLAS, func() { check(t) }) })
}

// TestSgemmEpilogueChecks: operands too short for C are refused up front.
func TestSgemmEpilogueChecks(t *testing.T) {
	a, b, c := make([]float32, 6), make([]float32, 6), make([]float32, 4)
	for _, tc := range []struct {
		name string
		ep   *Epilogue
	}{
		{"short bias", &Epilogue{Bias: make([]float32, 1)}},
		{"short residual", &Epilogue{Residual: make([]float32, 3), LDR: 2}},
		{"narrow residual stride", &Epilogue{Residual: make([]float32, 4), LDR: 1}},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", tc.name)
				}
			}()
			SgemmEpilogue(false, false, 2, 2, 3, 1, a, 3, b, 2, c, 2, tc.ep)
		}()
	}
}

// TestSgemmOffsets: GEMMs of strided views at arbitrary offsets give, bit
// for bit, one Sgemm each, on every implementation and thread count;
// the layout is attention's, heads interleaved in rows of A, B and C.
func TestSgemmOffsets(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	const heads, seq, dim = 3, 37, 20 // one matrix per head, rows seq, ld heads·dim
	ld := heads * dim
	for _, tb := range []bool{false, true} {
		check := func(t *testing.T) {
			for _, threads := range []int{1, 2} {
				SetThreads(threads)
				a, b := randSlice(rng, 2*seq*ld), randSlice(rng, 2*seq*ld)
				var aOff, bOff, cOff []int
				for bt := range 2 {
					for h := range heads {
						off := bt*seq*ld + h*dim
						aOff, bOff, cOff = append(aOff, off), append(bOff, off), append(cOff, off)
					}
				}
				// A: seq×dim; B: dim×dim read from the first dim rows (or
				// transposed); C: seq×dim.
				want, got := make([]float32, 2*seq*ld), make([]float32, 2*seq*ld)
				for i := range got {
					got[i] = float32(math.NaN())
				}
				for i := range aOff {
					Sgemm(false, tb, seq, dim, dim, 0.5, a[aOff[i]:], ld, b[bOff[i]:], ld, 0, want[cOff[i]:], ld)
				}
				SgemmOffsets(false, tb, seq, dim, dim, 0.5, a, ld, aOff, b, ld, bOff, got, ld, cOff)
				for i := range want {
					if math.Float32bits(want[i]) != math.Float32bits(got[i]) {
						t.Fatalf("t%d transB=%v: C[%d] = %v, want %v", threads, tb, i, got[i], want[i])
					}
				}
			}
			SetThreads(0)
		}
		forEachImpl(t, func(t *testing.T, _ *impl) { check(t) })
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("an offset past the end of A: no panic")
			}
		}()
		SgemmOffsets(false, false, 2, 2, 2, 1, make([]float32, 4), 2, []int{3}, make([]float32, 4), 2, []int{0}, make([]float32, 4), 2, []int{0})
	}()
}
