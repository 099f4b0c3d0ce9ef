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

// Uint32 returns the random word for (seed, step, stream, index); see the
// package comment for the exact mapping.
func Uint32(seed, step, stream, index uint64) uint32 {
	out := Philox4x32(
		[4]uint32{uint32(index), uint32(index >> 32), fold(step), fold(stream)},
		[2]uint32{uint32(seed), uint32(seed >> 32)},
	)
	return out[0]
}

// Uniform returns a float32 in [0, 1) with 24 bits of resolution, so every
// value is exactly representable and 1.0 can never come out of rounding.
func Uniform(seed, step, stream, index uint64) float32 {
	return float32(Uint32(seed, step, stream, index)>>8) * (1.0 / (1 << 24))
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
