//go:build amd64 && !purego

package gemm

// Implemented in pack_amd64.s.
//
//go:noescape
func spreadChunks6(dst, src *float32, n, stride int)

//go:noescape
func spreadChunks12(dst, src *float32, n, stride int)

//go:noescape
func spreadChunks16(dst, src *float32, n, stride int)

//go:noescape
func spreadChunks32(dst, src *float32, n, stride int)

// spreadChunks copies n chunks of w floats from src (contiguous) to dst,
// chunk i going to dst[i*stride:]: one row of a block dealt out across its
// micro-panels.
func spreadChunks(dst, src []float32, w, n, stride int) {
	if n == 0 {
		return
	}
	// Bounds for what the assembly touches.
	_ = src[n*w-1]
	_ = dst[(n-1)*stride+w-1]
	switch w {
	case 6:
		spreadChunks6(&dst[0], &src[0], n, stride)
	case 12:
		spreadChunks12(&dst[0], &src[0], n, stride)
	case 16:
		spreadChunks16(&dst[0], &src[0], n, stride)
	case 32:
		spreadChunks32(&dst[0], &src[0], n, stride)
	default:
		spreadChunksGo(dst, src, w, n, stride)
	}
}

//go:noescape
func gatherChunks6x8(dst, src *float32, lda, n, stride int)

//go:noescape
func gatherChunks12x4(dst, src *float32, lda, n, stride int)

// gatherChunks copies chunk i of each of rows rows of w floats (row r at
// src[r*lda:], chunk i at i*w in it) to dst[i*stride+r*w:]: several depth
// steps of a transposed A dealt out across its micro-panels at once. The
// assembly takes the rows gatherDepth gives for w.
func gatherChunks(dst, src []float32, w, rows, lda, n, stride int) {
	if n == 0 || rows == 0 {
		return
	}
	// Bounds for what the assembly touches.
	_ = src[(rows-1)*lda+n*w-1]
	_ = dst[(n-1)*stride+rows*w-1]
	switch {
	case w == 6 && rows == 8:
		gatherChunks6x8(&dst[0], &src[0], lda, n, stride)
	case w == 12 && rows == 4:
		gatherChunks12x4(&dst[0], &src[0], lda, n, stride)
	default:
		gatherChunksGo(dst, src, w, rows, lda, n, stride)
	}
}

// prefetchLines is implemented in pack_amd64.s.
//
//go:noescape
func prefetchLines(p *float32, bytes int)

// prefetchMatrix hints that the rows×cols matrix at s (row stride ld) will
// be read soon. See SgemmBatched.
func prefetchMatrix(s []float32, rows, cols, ld int) {
	if rows <= 0 || cols <= 0 {
		return
	}
	_ = s[(rows-1)*ld+cols-1]
	if ld == cols {
		prefetchLines(&s[0], 4*rows*cols)
		return
	}
	for r := range rows {
		prefetchLines(&s[r*ld], 4*cols)
	}
}

// transpose16 is implemented in transpose_amd64.s.
//
//go:noescape
func transpose16(dst *float32, dstStride int, src *float32, srcStride int, rows, blocks int)

// transposeRows stores depth [0,kc) of rows (12 or 16) rows of a row-major
// matrix (src, row stride ld) as dst[p*stride+r], the layout of a packed
// micro-panel: 16×16 register transposes (AVX-512) for whole blocks of 16
// depth steps, element copies for the rest. It reports false, doing
// nothing, where it has no fast form; only the AVX-512 kernel's panels (12
// rows of A, 32 columns of B in two halves) ask for one.
func transposeRows(dst []float32, stride int, src []float32, ld, rows, kc int) bool {
	if !haveAVX512 || rows != 12 && rows != 16 || kc < 16 {
		return false
	}
	// Bounds for what the assembly touches.
	_ = src[(rows-1)*ld+kc-1]
	_ = dst[(kc-1)*stride+rows-1]
	blocks := kc / 16
	transpose16(&dst[0], stride, &src[0], ld, rows, blocks)
	for p := blocks * 16; p < kc; p++ {
		d := dst[p*stride : p*stride+rows]
		for r := range d {
			d[r] = src[r*ld+p]
		}
	}
	return true
}

// addBias12x32 is implemented in transpose_amd64.s.
//
//go:noescape
func addBias12x32(c *float32, ldc int, bias *float32)

// addBiasTile adds bias (one value per column) to the rows×len(bias) tile
// at c: the AVX-512 kernel's full 12×32 tiles in registers, the rest
// element by element.
func addBiasTile(c []float32, ldc, rows int, bias []float32) {
	if haveAVX512 && rows == 12 && len(bias) == 32 {
		_ = c[11*ldc+31]
		addBias12x32(&c[0], ldc, &bias[0])
		return
	}
	addBiasRows(c, ldc, rows, bias)
}
