package gemm

// Packing copies a block of op(A) or op(B) into the exact order the
// micro-kernel reads it, so the kernel walks memory strictly sequentially no
// matter how the caller's matrix is laid out or transposed. That is what makes
// all four NN/NT/TN/TT forms run at the same speed: the transpose is paid
// once per block here, O(m·k + k·n), instead of inside the O(m·n·k) loop.
//
// Short copies avoid copy(): a memmove call per few dozen bytes costs more
// than the copy itself (see spreadChunksGo).

// packA stores rows [ic,ic+mc) × depth [pc,pc+kc) of op(A) as micro-panels of
// mr rows; within a panel, element (i, p) is at p*mr+i. Rows past mc are
// zero so edge tiles can run the full kernel.
func (g *gemmArgs) packA(ic, pc, mc, kc, mr int, dst []float32) {
	if g.transA {
		g.packAT(ic, pc, mc, kc, mr, dst)
		return
	}
	for ir := 0; ir < mc; ir += mr {
		rows := min(mr, mc-ir)
		panel := dst[ir*kc : ir*kc+mr*kc]
		if rows == mr && mr == 12 && transposeRows(panel, mr, g.a[(ic+ir)*g.lda+pc:], g.lda, mr, kc) {
			continue
		}
		if rows == mr && mr%6 == 0 {
			// Interleave six rows at a time: six read streams and one
			// write stream keep the loads independent and the loop
			// body free of bounds checks.
			for i0 := 0; i0 < mr; i0 += 6 {
				g.packA6(ic+ir+i0, pc, kc, panel[i0:], mr)
			}
			continue
		}
		clear(panel)
		for i := range rows {
			src := g.a[(ic+ir+i)*g.lda+pc:]
			src = src[:kc]
			for p, v := range src {
				panel[p*mr+i] = v
			}
		}
	}
}

// packA6 copies depth [pc,pc+kc) of rows [i,i+6) of A into dst[p*stride+r].
func (g *gemmArgs) packA6(i, pc, kc int, dst []float32, stride int) {
	base := i*g.lda + pc
	r0 := g.a[base : base+kc]
	r1 := g.a[base+g.lda : base+g.lda+kc]
	r2 := g.a[base+2*g.lda : base+2*g.lda+kc]
	r3 := g.a[base+3*g.lda : base+3*g.lda+kc]
	r4 := g.a[base+4*g.lda : base+4*g.lda+kc]
	r5 := g.a[base+5*g.lda : base+5*g.lda+kc]
	_ = dst[(kc-1)*stride+5]
	for p := range kc {
		d := (*[6]float32)(dst[p*stride:])
		d[0], d[1], d[2], d[3], d[4], d[5] = r0[p], r1[p], r2[p], r3[p], r4[p], r5[p]
	}
}

// packAT is packA for transA, where op(A)(i,p) = A(p,i): each depth step is
// a contiguous run of a stored row, so rows are read front to back (friendly
// to the prefetcher) and dealt out mr values per panel, gatherDepth(mr)
// rows at a time so that each panel receives whole cache lines.
func (g *gemmArgs) packAT(ic, pc, mc, kc, mr int, dst []float32) {
	panels := mc / mr
	full := panels * mr
	if panels > 0 {
		steps, p := gatherDepth(mr), 0
		for ; p+steps <= kc; p += steps {
			if ahead := p + packATPrefetchRows; ahead+steps <= kc {
				prefetchMatrix(g.a[(pc+ahead)*g.lda+ic:], steps, mc, g.lda)
			}
			gatherChunks(dst[p*mr:], g.a[(pc+p)*g.lda+ic:], mr, steps, g.lda, panels, kc*mr)
		}
		for ; p < kc; p++ {
			spreadChunks(dst[p*mr:], g.a[(pc+p)*g.lda+ic:][:full], mr, panels, kc*mr)
		}
	}
	if full < mc {
		edge := dst[full*kc : full*kc+kc*mr]
		for p := range kc {
			d := edge[p*mr : p*mr+mr]
			n := copy(d, g.a[(pc+p)*g.lda+ic+full:][:mc-full])
			clear(d[n:])
		}
	}
}

// packATPrefetchRows is how far ahead, in stored rows of A, packAT asks for
// the rows it will gather next. Each pass reads only mc floats (a few cache
// lines) from rows lda apart, too short a run per row for the hardware
// prefetcher to get ahead of; on Zen 5 the hint lifted the AVX-512 TN
// shapes by 6-15 % (16 to 64 rows ahead measured alike) and left AVX2 as
// it was.
const packATPrefetchRows = 32

// gatherDepth is how many depth steps packAT gathers per pass for panels
// of mr rows: enough that a panel's share, mr floats per step, is whole
// 64-byte lines (6 floats: 8 steps, 192 bytes; 12 floats: 4 steps).
func gatherDepth(mr int) int {
	switch mr {
	case 6:
		return 8
	case 12:
		return 4
	}
	return 1
}

// gatherChunksGo is the portable gatherChunks.
func gatherChunksGo(dst, src []float32, w, rows, lda, n, stride int) {
	if n == 0 {
		return
	}
	for r := range rows {
		spreadChunksGo(dst[r*w:], src[r*lda:], w, n, stride)
	}
}

// packB stores depth [pc,pc+kc) × columns [jc,jc+nc) of op(B) as
// micro-panels of nr columns; within a panel, element (p, j) is at p*nr+j.
// Columns past nc are zero.
func (g *gemmArgs) packB(pc, jc, kc, nc, nr int, dst []float32) {
	if g.transB {
		g.packBT(pc, jc, kc, nc, nr, dst)
		return
	}
	// op(B)(p,j) = B(p,j). Walk the block row by row, so the source is
	// read front to back (one prefetchable stream, not kc rows per panel)
	// and each stored row is dealt out nr values per panel.
	full := nc / nr * nr
	for p := range kc {
		if ahead := p + packBPrefetchRows; ahead < kc {
			prefetchMatrix(g.b[(pc+ahead)*g.ldb+jc:], 1, nc, g.ldb)
		}
		row := g.b[(pc+p)*g.ldb+jc:]
		row = row[:nc]
		out := dst[p*nr:]
		spreadChunks(out, row, nr, full/nr, kc*nr)
		if full < nc {
			d := out[full*kc : full*kc+nr]
			n := copy(d, row[full:])
			clear(d[n:])
		}
	}
}

// packBPrefetchRows is how many rows ahead packB asks for the row it will
// deal out later. The rows are long runs, yet on Zen 5 the hint still
// lifted the AVX-512 NN and TN shapes by up to 15 % (8 and 16 rows ahead
// alike; AVX2 unchanged) — most likely because the hardware prefetcher
// stops at every 4 KiB page and the Go heap is not backed by huge pages.
const packBPrefetchRows = 16

// spreadChunksGo is the portable spreadChunks. The fixed-size cases copy
// through a local array, which compiles to inline vector moves; copy() of a
// variable length, or an array assignment straight between the slices (the
// compiler cannot rule out overlap), would call memmove per chunk.
func spreadChunksGo(dst, src []float32, w, n, stride int) {
	for i := range n {
		d, s := dst[i*stride:i*stride+w], src[i*w:i*w+w]
		switch w {
		case 32:
			v := *(*[32]float32)(s)
			*(*[32]float32)(d) = v
		case 16:
			v := *(*[16]float32)(s)
			*(*[16]float32)(d) = v
		case 12:
			v := *(*[12]float32)(s)
			*(*[12]float32)(d) = v
		case 6:
			v := *(*[6]float32)(s)
			*(*[6]float32)(d) = v
		default:
			copy(d, s)
		}
	}
}

// packBT is packB for transB, where op(B)(p,j) = B(j,p): each stored row is
// a column of the panel. Eight rows are read side by side and written as
// eight consecutive floats per depth step, so every store fills part of one
// cache line instead of one element per line as a row-at-a-time scatter
// would.
func (g *gemmArgs) packBT(pc, jc, kc, nc, nr int, dst []float32) {
	for jr := 0; jr < nc; jr += nr {
		cols := min(nr, nc-jr)
		panel := dst[jr*kc : jr*kc+nr*kc]
		if cols < nr || nr%8 != 0 {
			clear(panel)
			for j := range cols {
				src := g.b[(jc+jr+j)*g.ldb+pc:]
				src = src[:kc]
				for p, v := range src {
					panel[p*nr+j] = v
				}
			}
			continue
		}
		if nr == 32 && transposeRows(panel, nr, g.b[(jc+jr)*g.ldb+pc:], g.ldb, 16, kc) {
			transposeRows(panel[16:], nr, g.b[(jc+jr+16)*g.ldb+pc:], g.ldb, 16, kc)
			continue
		}
		for j0 := 0; j0 < nr; j0 += 8 {
			base := (jc+jr+j0)*g.ldb + pc
			ld := g.ldb
			r0 := g.b[base : base+kc]
			r1 := g.b[base+ld : base+ld+kc]
			r2 := g.b[base+2*ld : base+2*ld+kc]
			r3 := g.b[base+3*ld : base+3*ld+kc]
			r4 := g.b[base+4*ld : base+4*ld+kc]
			r5 := g.b[base+5*ld : base+5*ld+kc]
			r6 := g.b[base+6*ld : base+6*ld+kc]
			r7 := g.b[base+7*ld : base+7*ld+kc]
			out := panel[j0:]
			_ = out[(kc-1)*nr+7]
			for p := range kc {
				d := (*[8]float32)(out[p*nr:])
				d[0], d[1], d[2], d[3] = r0[p], r1[p], r2[p], r3[p]
				d[4], d[5], d[6], d[7] = r4[p], r5[p], r6[p], r7[p]
			}
		}
	}
}
