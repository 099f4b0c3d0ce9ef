package rng

import "math/bits"

// Philox4x32-10 constants from Random123.
const (
	philoxM0 = 0xD2511F53
	philoxM1 = 0xCD9E8D57
	philoxW0 = 0x9E3779B9 // golden ratio
	philoxW1 = 0xBB67AE85 // sqrt(3) - 1
)

// Philox4x32 is the Philox4x32-10 block function: ten rounds over the
// counter, bumping the key between rounds.
func Philox4x32(ctr [4]uint32, key [2]uint32) [4]uint32 {
	c0, c1, c2, c3 := ctr[0], ctr[1], ctr[2], ctr[3]
	k0, k1 := key[0], key[1]
	for r := 0; r < 10; r++ {
		if r > 0 {
			k0 += philoxW0
			k1 += philoxW1
		}
		hi0, lo0 := bits.Mul32(philoxM0, c0)
		hi1, lo1 := bits.Mul32(philoxM1, c2)
		c0, c1, c2, c3 = hi1^c1^k0, lo1, hi0^c3^k1, lo0
	}
	return [4]uint32{c0, c1, c2, c3}
}

func fold(x uint64) uint32 { return uint32(x) ^ uint32(x>>32) }

// Block returns the four random words of indices 4·block … 4·block+3
// for (seed, step, stream): one Philox call, which bulk consumers (Dropout
// over millions of elements) use to pay a quarter of the per-element cost.
func Block(seed, step, stream, block uint64) [4]uint32 {
	return Philox4x32(
		[4]uint32{uint32(block), uint32(block >> 32), fold(step), fold(stream)},
		[2]uint32{uint32(seed), uint32(seed >> 32)},
	)
}

// Uint32 returns the random word for (seed, step, stream, index); see the
// package comment for the exact mapping.
func Uint32(seed, step, stream, index uint64) uint32 {
	return Block(seed, step, stream, index/4)[index%4]
}

// Uniform returns a float32 in [0, 1) with 24 bits of resolution, so every
// value is exactly representable and 1.0 can never come out of rounding.
func Uniform(seed, step, stream, index uint64) float32 {
	return ToUniform(Uint32(seed, step, stream, index))
}

// ToUniform maps a random word to Uniform's float32.
func ToUniform(u uint32) float32 { return float32(u>>8) * (1.0 / (1 << 24)) }

// Uint64 returns the 64-bit random word for (seed, step, stream, index):
// Uint32 at 2·index in the high half and at 2·index+1 in the low half, so
// indices 2b and 2b+1 share the Philox call of block b. The WTA-CRS
// multinomial draws from it: a 24-bit Uniform cannot resolve rows whose
// probability is below 2^-24 of the leftover mass (at N = 12,800 most
// floored rows could never be drawn), while 64 bits resolve every integer
// weight the draw uses (package rowsample). Its index space is its own:
// Uint64 index i and Uint32 index i are different numbers, and a stream
// (node) uses one or the other.
func Uint64(seed, step, stream, index uint64) uint64 {
	w := Block(seed, step, stream, index/2)
	h := 2 * (index % 2)
	return uint64(w[h])<<32 | uint64(w[h+1])
}

// Fill calls keep(i, u) for every index i in [lo, hi) with u =
// Uniform(seed, step, stream, i), one Philox call per four indices.
func Fill(seed, step, stream uint64, lo, hi int, keep func(i int, u float32)) {
	i := lo
	for ; i < hi && i%4 != 0; i++ {
		keep(i, Uniform(seed, step, stream, uint64(i)))
	}
	for ; i+4 <= hi; i += 4 {
		w := Block(seed, step, stream, uint64(i/4))
		keep(i, ToUniform(w[0]))
		keep(i+1, ToUniform(w[1]))
		keep(i+2, ToUniform(w[2]))
		keep(i+3, ToUniform(w[3]))
	}
	for ; i < hi; i++ {
		keep(i, Uniform(seed, step, stream, uint64(i)))
	}
}

// StreamOf hashes a name (a node name, typically) to a stream id with
// 64-bit FNV-1a, so each Dropout node gets its own independent stream.
func StreamOf(name string) uint64 {
	const (
		offset = 14695981039346656037
		prime  = 1099511628211
	)
	h := uint64(offset)
	for i := 0; i < len(name); i++ {
		h ^= uint64(name[i])
		h *= prime
	}
	return h
}
