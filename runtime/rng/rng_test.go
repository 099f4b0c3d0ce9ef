package rng

import (
	"math"
	"testing"
)

// Random123 tests/kat_vectors for philox4x32 with 10 rounds.
func TestPhiloxKnownAnswers(t *testing.T) {
	cases := []struct {
		ctr  [4]uint32
		key  [2]uint32
		want [4]uint32
	}{
		{[4]uint32{0, 0, 0, 0}, [2]uint32{0, 0}, [4]uint32{0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
		{[4]uint32{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}, [2]uint32{0xffffffff, 0xffffffff}, [4]uint32{0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
		{[4]uint32{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}, [2]uint32{0xa4093822, 0x299f31d0}, [4]uint32{0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
	}
	for _, c := range cases {
		if got := Philox4x32(c.ctr, c.key); got != c.want {
			t.Errorf("Philox4x32(%08x, %08x) = %08x, want %08x", c.ctr, c.key, got, c.want)
		}
	}
}

func TestMapping(t *testing.T) {
	// Uint32 must be exactly word index%4 of the documented counter/key
	// layout, at counter index/4.
	seed, step, stream, index := uint64(0x0123456789abcdef), uint64(7), StreamOf("dropout_1"), uint64(1<<35+6)
	want := Philox4x32(
		[4]uint32{uint32(index / 4), uint32(index / 4 >> 32), uint32(step), uint32(stream) ^ uint32(stream>>32)},
		[2]uint32{uint32(seed), uint32(seed >> 32)},
	)[2]
	if got := Uint32(seed, step, stream, index); got != want {
		t.Fatalf("Uint32 = %08x, want %08x", got, want)
	}
	if Uniform(seed, step, stream, index) != float32(want>>8)/(1<<24) {
		t.Fatal("Uniform does not use the top 24 bits of Uint32")
	}
	if Uint32(seed, step+1, stream, index) == want && Uint32(seed+1, step, stream, index) == want {
		t.Fatal("step and seed do not change the output")
	}
}

func TestStreamOf(t *testing.T) {
	// FNV-1a 64 reference values.
	if got := StreamOf(""); got != 0xcbf29ce484222325 {
		t.Errorf("StreamOf(\"\") = %x", got)
	}
	if got := StreamOf("a"); got != 0xaf63dc4c8601ec8c {
		t.Errorf("StreamOf(\"a\") = %x", got)
	}
	if got := StreamOf("foobar"); got != 0x85944171f73967e8 {
		t.Errorf("StreamOf(\"foobar\") = %x", got)
	}
}

func TestUniformity(t *testing.T) {
	const n, bins = 200000, 20
	var count [bins]int
	sum := 0.0
	for i := uint64(0); i < n; i++ {
		u := Uniform(42, 3, 9, i)
		if u < 0 || u >= 1 {
			t.Fatalf("Uniform out of range: %v", u)
		}
		count[int(u*bins)]++
		sum += float64(u)
	}
	if mean := sum / n; math.Abs(mean-0.5) > 0.005 {
		t.Errorf("mean %v, want ~0.5", mean)
	}
	// Chi-square with 19 degrees of freedom; 43.8 is the 0.999 quantile.
	chi := 0.0
	exp := float64(n) / bins
	for _, c := range count {
		chi += (float64(c) - exp) * (float64(c) - exp) / exp
	}
	if chi > 43.8 {
		t.Errorf("chi-square %v over %d bins too large: %v", chi, bins, count)
	}
}

// TestFill: Fill gives every index of any range (aligned or not to 4) the
// value Uniform gives it.
func TestFill(t *testing.T) {
	for _, r := range [][2]int{{0, 0}, {0, 3}, {1, 2}, {3, 9}, {5, 21}, {8, 16}} {
		seen := map[int]bool{}
		Fill(9, 2, 77, r[0], r[1], func(i int, u float32) {
			if seen[i] || i < r[0] || i >= r[1] {
				t.Errorf("range %v: index %d twice or outside", r, i)
			}
			seen[i] = true
			if want := Uniform(9, 2, 77, uint64(i)); u != want {
				t.Errorf("range %v: index %d got %v, Uniform %v", r, i, u, want)
			}
		})
		if len(seen) != r[1]-r[0] {
			t.Errorf("range %v: %d indices visited", r, len(seen))
		}
	}
}

// TestUint64: Uint64 is the documented pair of Uint32 words, high word
// first, and two consecutive indices share one Philox block.
func TestUint64(t *testing.T) {
	seed, step, stream := uint64(0xfeedface12345678), uint64(3), StreamOf("sample")
	for _, i := range []uint64{0, 1, 2, 7, 1<<33 + 5} {
		want := uint64(Uint32(seed, step, stream, 2*i))<<32 | uint64(Uint32(seed, step, stream, 2*i+1))
		if got := Uint64(seed, step, stream, i); got != want {
			t.Errorf("Uint64(%d) = %016x, want %016x", i, got, want)
		}
	}
	// The low bits are random too (a 24-bit uniform shifted up would leave
	// them zero): over 1000 draws every one of the 64 bits takes both values.
	var or, and uint64 = 0, ^uint64(0)
	for i := uint64(0); i < 1000; i++ {
		v := Uint64(1, 2, 3, i)
		or, and = or|v, and&v
	}
	if or != ^uint64(0) || and != 0 {
		t.Errorf("some bit is constant over 1000 draws: or %016x and %016x", or, and)
	}
}
