package f16

import (
	"math"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	// Every half value widens and narrows back to itself, NaN payloads included.
	for h := 0; h < 1<<16; h++ {
		if got := FromFloat32(ToFloat32(uint16(h))); got != uint16(h) {
			t.Fatalf("half %#04x → %g → %#04x", h, ToFloat32(uint16(h)), got)
		}
	}
	for _, c := range []struct {
		f    float32
		want uint16
	}{
		{1 + 1.0/2048, 0x3c00},                  // tie between 1 and 1+2⁻¹⁰: to even
		{1 + 3.0/2048, 0x3c02},                  // tie: to even, upward
		{65520, 0x7c00},                         // rounds past the largest half: Inf
		{65519, 0x7bff},                         // largest half
		{1e-8, 0},                               // below half the smallest subnormal
		{2.9802322e-08, 0},                      // exactly half the smallest subnormal: to even (0)
		{3e-08, 0x0001},                         // just above: smallest subnormal
		{6.1035156e-05, 0x0400},                 // smallest normal
		{float32(math.Copysign(0, -1)), 0x8000}, // sign of zero kept
		{float32(math.Inf(-1)), 0xfc00},         // -Inf
	} {
		if got := FromFloat32(c.f); got != c.want {
			t.Errorf("FromFloat32(%g) = %#04x, want %#04x", c.f, got, c.want)
		}
	}
}
