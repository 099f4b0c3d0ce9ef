package cpu

import (
	"math"
	"math/rand/v2"
	"testing"

	"crsc/compiler/ir"
)

// bf16Inputs are n float32s: random bit patterns (every class: NaN, Inf,
// subnormals, ties) and ordinary activations, with the special values at
// the front.
func bf16Inputs(n int, rnd *rand.Rand) []float32 {
	special := []uint32{0x3f808000, 0x3f818000, 0x7f7fffff, 0x7f800000, 0xff800000, 0x7f800001,
		0xffa5a5a5, 0x00000000, 0x80000000, 0x007fffff, 0x80400000, 0x00800000, 0x3fffffff}
	xs := make([]float32, n)
	for i := range xs {
		switch {
		case i < len(special):
			xs[i] = math.Float32frombits(special[i])
		case i%2 == 0:
			xs[i] = math.Float32frombits(rnd.Uint32())
		default:
			xs[i] = float32(rnd.NormFloat64())
		}
	}
	return xs
}

func castNode(to int64) *ir.Node {
	return &ir.Node{Op: "Cast", Name: "cast", Attrs: ir.Attrs{"to": ir.IntAttr(to)}}
}

// Cast to bfloat16 and back, on both paths and across the parallel chunk
// size: narrowing gives ir.BF16FromFloat32's bits element by element (the
// assembly's VCVTNEPS2BF16 included), widening is exact.
func TestCastBFloat16(t *testing.T) {
	simdPaths(t, func(t *testing.T) {
		if useAVX512 && !hasBF16 {
			t.Log("no AVX-512 BF16: narrowing takes the Go loop")
		}
		rnd := rand.New(rand.NewPCG(1, 2))
		for _, n := range []int{0, 1, 2, 15, 16, 17, 31, 33, bf16Chunk - 1, bf16Chunk + 1, 3*bf16Chunk + 7, 100003} {
			xs := bf16Inputs(n, rnd)
			ctx := &Ctx{Threads: 2}
			outs, err := castKernel(ctx, castNode(16), []*ir.Tensor{ir.FromFloat32([]int{n}, xs)})
			if err != nil {
				t.Fatal(err)
			}
			h := outs[0]
			if h.DType != ir.BFloat16 || h.CheckData() != nil {
				t.Fatalf("n=%d: %v %v", n, h.DType, h.CheckData())
			}
			for i, x := range xs {
				if got, want := ir.BF16At(h.I32, i), ir.BF16FromFloat32(x); got != want {
					t.Fatalf("n=%d: element %d (%#08x) → %#04x, want %#04x", n, i, math.Float32bits(x), got, want)
				}
			}
			if n%2 == 1 && uint32(h.I32[len(h.I32)-1])>>16 != 0 {
				t.Fatalf("n=%d: the unused half of the last word is not 0", n)
			}
			back, err := castKernel(ctx, castNode(1), []*ir.Tensor{h})
			if err != nil {
				t.Fatal(err)
			}
			for i := range xs {
				if got, want := math.Float32bits(back[0].F32[i]), uint32(ir.BF16At(h.I32, i))<<16; got != want {
					t.Fatalf("n=%d: widening element %d gave %#08x, want %#08x", n, i, got, want)
				}
			}
		}
	})
}

// Other types reach bfloat16 through float32, and bfloat16 reaches them
// the same way.
func TestCastBFloat16OtherTypes(t *testing.T) {
	for _, c := range []struct {
		name string
		in   *ir.Tensor
		to   int64
		want []float64
	}{
		{"f64 to bf16", &ir.Tensor{DType: ir.Float64, Shape: []int{3}, F64: []float64{1.5, -3.00390625, 1e300}}, 16, []float64{1.5, -3, math.Inf(1)}},
		{"i64 to bf16", ir.FromInt64([]int{3}, []int64{7, 257, -513}), 16, []float64{7, 256, -512}},
		{"bf16 to i64", bf16Of(2.5, -7, 300), 7, []float64{2, -7, 300}},
		{"bf16 to f16", bf16Of(0.5, 65536), 10, []float64{0.5, math.Inf(1)}},
		{"bf16 to f64", bf16Of(0.1), 11, []float64{float64(ir.BF16ToFloat32(ir.BF16FromFloat32(0.1)))}},
		{"bf16 to bf16", bf16Of(1, 2, 3), 16, []float64{1, 2, 3}},
	} {
		outs, err := castKernel(nil, castNode(c.to), []*ir.Tensor{c.in})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		for i, w := range c.want {
			if got := outs[0].Float64At(i); got != w {
				t.Errorf("%s: element %d = %g, want %g", c.name, i, got, w)
			}
		}
	}
}

func bf16Of(xs ...float32) *ir.Tensor {
	outs, err := castKernel(nil, castNode(16), []*ir.Tensor{ir.FromFloat32([]int{len(xs)}, xs)})
	if err != nil {
		panic(err)
	}
	return outs[0]
}
