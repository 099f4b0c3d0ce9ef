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
