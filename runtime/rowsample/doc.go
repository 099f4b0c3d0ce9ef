// Package rowsample is WTA-CRS's row selection (WTACRS.md §4): from the
// norms of a block's rows, the probabilities, the deterministic winners and
// the stochastic draws with their unbiasing weights. The CPU and the CUDA
// backends both call it (the GPU computes the norms, the host selects), so
// the same seed picks the same rows on every backend by construction.
package rowsample
