//go:build !amd64 || purego

package gemm

// spreadChunks copies n chunks of w floats from src (contiguous) to dst,
// chunk i going to dst[i*stride:]. See pack_amd64.go.
func spreadChunks(dst, src []float32, w, n, stride int) {
	spreadChunksGo(dst, src, w, n, stride)
}

// gatherChunks copies chunk i of each of rows rows of w floats to
// dst[i*stride+r*w:]. See pack_amd64.go.
func gatherChunks(dst, src []float32, w, rows, lda, n, stride int) {
	gatherChunksGo(dst, src, w, rows, lda, n, stride)
}

// prefetchMatrix is a no-op without the assembly prefetch.
func prefetchMatrix(s []float32, rows, cols, ld int) {}

// transposeRows has no fast form without the assembly (see pack_amd64.go).
func transposeRows(dst []float32, stride int, src []float32, ld, rows, kc int) bool { return false }

// addBiasTile adds bias to each of the rows rows of the tile at c.
func addBiasTile(c []float32, ldc, rows int, bias []float32) { addBiasRows(c, ldc, rows, bias) }
