package optim

import (
	"math/rand/v2"
	"testing"

	"crsc/compiler/ir"
)

// bertBaseShapes are BERT-base's parameter tensors (≈110M elements) with
// their weight-decay flags: the update's real mix of one large embedding,
// many 768×768 and 768×3072 matrices and small biases and norms.
func bertBaseShapes() (shapes [][]int, decay []bool) {
	add := func(d bool, s ...int) { shapes, decay = append(shapes, s), append(decay, d) }
	const h, ff = 768, 3072
	add(true, 30522, h) // word embeddings
	add(true, 512, h)   // positions
	add(true, 2, h)     // token types
	add(false, h)       // embedding LayerNorm
	add(false, h)
	for range 12 {
		for range 4 { // query, key, value, attention output
			add(true, h, h)
			add(false, h)
		}
		add(false, h) // attention LayerNorm
		add(false, h)
		add(true, h, ff)
		add(false, ff)
		add(true, ff, h)
		add(false, h)
		add(false, h) // output LayerNorm
		add(false, h)
	}
	add(true, h, h) // pooler
	add(false, h)
	return shapes, decay
}

// BenchmarkAdamW is one fused update of a BERT-base-sized model on two
// goroutines, as AdamW.Apply runs it (clipping and decay on), on the
// assembly path ("simd") and the pure-Go loop ("go").
func BenchmarkAdamW(b *testing.B) {
	shapes, decay := bertBaseShapes()
	rng := rand.New(rand.NewPCG(3, 4))
	var p, g, m, v []*ir.Tensor
	for _, s := range shapes {
		p = append(p, randTensor(rng, s, 1))
		g = append(g, randTensor(rng, s, 0.1))
		m = append(m, randTensor(rng, s, 0.01))
		v = append(v, ir.NewTensor(ir.Float32, s...))
	}
	for i := range v {
		for j := range v[i].F32 {
			v[i].F32[j] = 1e-4 * rng.Float32()
		}
	}
	s := DefaultAdamWConfig().StepScalars(1e-4, 10)
	x := GradTransform{AverageOver: 1, Clip: true, ClipScale: 0.5}
	cs := chunks(p)
	run := func(b *testing.B) {
		b.SetBytes(int64(7 * 4 * 110e6))
		for b.Loop() {
			forChunks(cs, 2, func(_ int, c chunk) {
				i := c.tensor
				AdamWInPlace(p[i].F32[c.lo:c.hi], g[i].F32[c.lo:c.hi], m[i].F32[c.lo:c.hi], v[i].F32[c.lo:c.hi], s, decay[i], x)
			})
		}
	}
	benchPaths(b, run)
}

// BenchmarkSumSquares is the global-norm pass over a BERT-base-sized
// model's gradients on two goroutines, without and with averaging.
func BenchmarkSumSquares(b *testing.B) {
	shapes, _ := bertBaseShapes()
	rng := rand.New(rand.NewPCG(5, 6))
	var g []*ir.Tensor
	for _, s := range shapes {
		g = append(g, randTensor(rng, s, 0.1))
	}
	for _, avg := range []float32{1, 2} {
		name := "plain"
		if avg != 1 {
			name = "averaged"
		}
		b.Run(name, func(b *testing.B) {
			benchPaths(b, func(b *testing.B) {
				b.SetBytes(4 * 110e6)
				for b.Loop() {
					SumSquares(g, avg, 2)
				}
			})
		})
	}
}
