// Package rng is crsc's counter-based random number generator: every random
// number is a pure function of (seed, step, stream, index), so Dropout's
// forward and backward passes, every CPU thread count and the CUDA backend
// all draw the same bits without sharing any generator state.
//
// The generator is Philox4x32-10 (Salmon et al., "Parallel Random Numbers: As
// Easy as 1, 2, 3", SC11) with this exact mapping of the inputs:
//
//	key     = (lo32(seed), hi32(seed))
//	block   = index / 4
//	counter = (lo32(block), hi32(block), lo32(step)^hi32(step), lo32(stream)^hi32(stream))
//	Uint32  = word (index mod 4) of Philox4x32-10(counter, key)
//	Uniform = float32(Uint32 >> 8) * 2^-24, in [0, 1)
//	Uint64(index) = Uint32(2·index) << 32 | Uint32(2·index + 1)
//	StreamOf(name) = FNV-1a 64 of the bytes of name
//
// Four consecutive indices share one Philox call, so bulk consumers
// (Block, Fill) pay a quarter of its cost per element. Dropout draws
// Uniform; WTA-CRS's multinomial (package rowsample) draws Uint64, two
// words per draw, because 24 bits cannot resolve small row probabilities.
//
// A reimplementation (e.g. CUDA) that follows these lines reproduces the
// values bit for bit; Philox4x32 itself is checked against Random123's
// known-answer vectors.
package rng
