// Package rowsample is WTA-CRS's row selection (WTACRS.md §4): from the
// norms of a block's rows, the probabilities, the deterministic winners and
// the stochastic draws with their unbiasing weights. The CPU and the CUDA
// backends both call it (the GPU computes the norms, the host selects), so
// the same seed picks the same rows on every backend by construction.
//
// Two properties hold at the edges, where a naive implementation is
// biased: every row with p_i > 0 can be drawn, and its weight is the
// inverse of the probability it was actually drawn with (to 2^-32
// relative), because the draws are integer arithmetic on 64-bit Philox
// words (rng.Uint64) rather than a 24-bit float uniform; and padding rows
// (an optional mask) get p = 0 and none of the k slots, which is unbiased
// because their gradient rows are 0. See Scratch.sampleBlock and
// drawLeftover for the exact scheme every backend follows.
package rowsample
