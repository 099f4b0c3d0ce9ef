package ir

import (
	"math"
	"testing"
)

// The bits VCVTNEPS2BF16 gives (checked on an AVX-512 BF16 CPU by
// runtime/cpu's tests, which compare the assembly against this function).
func TestBF16FromFloat32Bits(t *testing.T) {
	for _, c := range []struct {
		name string
		in   uint32
		want uint16
	}{
		{"one", 0x3f800000, 0x3f80},
		{"minus two", 0xc0000000, 0xc000},
		{"round down", 0x3f807fff, 0x3f80},
		{"tie to even (down)", 0x3f808000, 0x3f80},
		{"tie to even (up)", 0x3f818000, 0x3f82},
		{"round up", 0x3f808001, 0x3f81},
		{"carry into exponent", 0x3fffffff, 0x4000},
		{"largest float32 rounds to +Inf", 0x7f7fffff, 0x7f80},
		{"largest below the overflow", 0x7f7f7fff, 0x7f7f},
		{"+Inf", 0x7f800000, 0x7f80},
		{"-Inf", 0xff800000, 0xff80},
		{"quiet NaN", 0x7fc00000, 0x7fc0},
		{"signalling NaN made quiet, not Inf", 0x7f800001, 0x7fc0},
		{"negative NaN payload kept", 0xffa5a5a5, 0xffe5},
		{"+0", 0x00000000, 0x0000},
		{"-0", 0x80000000, 0x8000},
		{"subnormal to +0", 0x007fffff, 0x0000},
		{"negative subnormal to -0", 0x80400000, 0x8000},
		{"smallest normal", 0x00800000, 0x0080},
	} {
		if got := BF16FromFloat32(math.Float32frombits(c.in)); got != c.want {
			t.Errorf("%s: BF16FromFloat32(%#08x) = %#04x, want %#04x", c.name, c.in, got, c.want)
		}
	}
}

// Widening is exact and narrowing it again gives the same bits, for every
// bfloat16 that is not a subnormal (flushed) or a signalling NaN (quieted).
func TestBF16RoundTrip(t *testing.T) {
	for h := 0; h < 1<<16; h++ {
		f := BF16ToFloat32(uint16(h))
		exp := h & 0x7f80
		if exp == 0 && h&0x7f != 0 || exp == 0x7f80 && h&0x40 == 0 && h&0x7f != 0 {
			continue
		}
		if got := BF16FromFloat32(f); got != uint16(h) {
			t.Fatalf("round trip of %#04x gave %#04x", h, got)
		}
	}
}

func TestBF16Packing(t *testing.T) {
	words := make([]int32, BFloat16.StorageLen(5))
	if len(words) != 3 || BFloat16.StorageBytes(5) != 12 || BFloat16.Size() != 2 {
		t.Fatalf("storage of 5 bfloat16: %d words, %d bytes", len(words), BFloat16.StorageBytes(5))
	}
	for i := 0; i < 5; i++ {
		SetBF16(words, i, uint16(0x1000+i))
	}
	for i := 0; i < 5; i++ {
		if got := BF16At(words, i); got != uint16(0x1000+i) {
			t.Fatalf("element %d = %#x", i, got)
		}
	}
	if uint32(words[0]) != 0x10011000 {
		t.Fatalf("element 0 must be the low half: word %#x", uint32(words[0]))
	}
	x := NewTensor(BFloat16, 5)
	if len(x.I32) != 3 || x.CheckData() != nil || x.Bytes() != 10 {
		t.Fatalf("NewTensor(BFloat16, 5): %d words, %v, %d bytes", len(x.I32), x.CheckData(), x.Bytes())
	}
	if dt, ok := DTypeFromONNX(16); !ok || dt != BFloat16 || DTypeToONNX(BFloat16) != 16 {
		t.Fatal("ONNX type 16 is bfloat16")
	}
}
