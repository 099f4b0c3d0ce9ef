package gemm

// Packing copies a block of op(A) or op(B) into the exact order the
// micro-kernel reads it, so the kernel walks memory strictly sequentially no
// matter how the caller's matrix is laid out or transposed. That is what makes
// all four NN/NT/TN/TT forms run at the same speed: the transpose is paid
// once per block here, O(m·k + k·n), instead of inside the O(m·n·k) loop.

// packA stores rows [ic,ic+mc) × depth [pc,pc+kc) of op(A) as micro-panels of
// mr rows; within a panel, element (i, p) is at p*mr+i. Rows past mc are
// zero so edge tiles can run the full kernel.
func (g *gemmArgs) packA(ic, pc, mc, kc int, dst []float32) {
	if g.transA {
		g.packAT(ic, pc, mc, kc, dst)
		return
	}
	for ir := 0; ir < mc; ir += mr {
		rows := min(mr, mc-ir)
		panel := dst[ir*kc : ir*kc+mr*kc]
		if rows == mr {
			base := (ic+ir)*g.lda + pc
			r0 := g.a[base : base+kc]
			r1 := g.a[base+g.lda : base+g.lda+kc]
			r2 := g.a[base+2*g.lda : base+2*g.lda+kc]
			r3 := g.a[base+3*g.lda : base+3*g.lda+kc]
			r4 := g.a[base+4*g.lda : base+4*g.lda+kc]
			r5 := g.a[base+5*g.lda : base+5*g.lda+kc]
			for p := range kc {
				d := (*[mr]float32)(panel[p*mr:])
				d[0], d[1], d[2], d[3], d[4], d[5] = r0[p], r1[p], r2[p], r3[p], r4[p], r5[p]
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

// packAT is packA for transA, where op(A)(i,p) = A(p,i): each depth step is
// a contiguous run of a stored row, so rows are read front to back once
// (friendly to the prefetcher) and dealt out mr values per panel.
func (g *gemmArgs) packAT(ic, pc, mc, kc int, dst []float32) {
	full := mc / mr * mr
	for p := range kc {
		src := g.a[(pc+p)*g.lda+ic:]
		src = src[:mc]
		for ir := 0; ir < full; ir += mr {
			// Element-wise on purpose: copy() and array assignment
			// both become a memmove call per 24 bytes.
			d, s := (*[mr]float32)(dst[ir*kc+p*mr:]), (*[mr]float32)(src[ir:])
			d[0], d[1], d[2], d[3], d[4], d[5] = s[0], s[1], s[2], s[3], s[4], s[5]
		}
		if full < mc {
			d := dst[full*kc+p*mr : full*kc+p*mr+mr]
			n := copy(d, src[full:])
			clear(d[n:])
		}
	}
}

// packB stores depth [pc,pc+kc) × columns [jc,jc+nc) of op(B) as
// micro-panels of nr columns; within a panel, element (p, j) is at p*nr+j.
// Columns past nc are zero.
func (g *gemmArgs) packB(pc, jc, kc, nc int, dst []float32) {
	for jr := 0; jr < nc; jr += nr {
		cols := min(nr, nc-jr)
		panel := dst[jr*kc : jr*kc+nr*kc]
		if !g.transB {
			// op(B)(p,j) = B(p,j): each depth step is one contiguous copy.
			if cols == nr {
				for p := range kc {
					// Element-wise: copy() would call memmove per 64 bytes.
					d, s := (*[nr]float32)(panel[p*nr:]), (*[nr]float32)(g.b[(pc+p)*g.ldb+jc+jr:])
					for j := range nr {
						d[j] = s[j]
					}
				}
				continue
			}
			for p := range kc {
				src := g.b[(pc+p)*g.ldb+jc+jr:]
				d := panel[p*nr : p*nr+nr]
				copy(d, src[:cols])
				clear(d[cols:])
			}
			continue
		}
		// op(B)(p,j) = B(j,p): read each stored row once, scatter it down
		// a column of the panel (the panel is small enough to sit in L1).
		if cols < nr {
			clear(panel)
		}
		for j := range cols {
			src := g.b[(jc+jr+j)*g.ldb+pc:]
			src = src[:kc]
			for p, v := range src {
				panel[p*nr+j] = v
			}
		}
	}
}
