package optim

import (
	"math"
	"runtime"
	"sync"
	"sync/atomic"

	"crsc/compiler/ir"
)

// Scalars are the per-step constants of one AdamW update, computed on the
// host exactly as the optimizer graph computes them (bias corrections in
// float64, then rounded to float32), so that the fused update and the
// graph give the same bits.
type Scalars struct {
	Beta1, OneMinusBeta1 float32
	Beta2, OneMinusBeta2 float32
	Eps                  float32
	// StepSize is lr/(1−β1^t); BiasCorrection2Sqrt is √(1−β2^t).
	StepSize, BiasCorrection2Sqrt float32
	// DecayFactor multiplies a decayed parameter before the update:
	// 1 − lr·wd (1 when weight decay is off).
	DecayFactor float32
}

// StepScalars returns the constants of step t (1-based) at learning rate lr.
func (c AdamWConfig) StepScalars(lr float32, t int64) Scalars {
	lr64, t64 := float64(lr), float64(t)
	bc1 := 1 - math.Pow(float64(c.Beta1), t64)
	bc2 := 1 - math.Pow(float64(c.Beta2), t64)
	s := Scalars{
		Beta1: c.Beta1, OneMinusBeta1: 1 - c.Beta1,
		Beta2: c.Beta2, OneMinusBeta2: 1 - c.Beta2,
		Eps:                 c.Eps,
		StepSize:            float32(lr64 / bc1),
		BiasCorrection2Sqrt: float32(math.Sqrt(bc2)),
		DecayFactor:         1,
	}
	if c.WeightDecay != 0 {
		s.DecayFactor = float32(1 - lr64*float64(c.WeightDecay))
	}
	return s
}

// GradTransform is what happens to a gradient before AdamW reads it: the
// mean over micro-batches (divide by AverageOver when it is not 1) and then
// global-norm clipping (multiply by ClipScale when Clip). Two roundings, in
// that order, as the separate passes of a host loop would do them.
type GradTransform struct {
	AverageOver float32
	Clip        bool
	ClipScale   float32
}

// apply returns g as the update reads it.
func (x GradTransform) apply(g float32) float32 {
	if x.AverageOver != 1 {
		g = g / x.AverageOver
	}
	if x.Clip {
		g = float32(g * x.ClipScale)
	}
	return g
}

// AdamWInPlace applies one update to p, m and v from gradient g, element
// by element, with the optimizer graph's arithmetic: every product is
// rounded to float32 on its own (the explicit conversions stop the
// compiler from fusing multiply-adds, which would change the bits).
//
// On amd64 an AVX-512 or AVX2 kernel (fused_amd64.s) does the work with
// the same IEEE operations in the same order and no fused multiply-add,
// so it gives the same bits as the Go loop; the loop covers what the
// kernel leaves (the AVX2 kernel's last len%8 elements) and every other
// platform.
func AdamWInPlace(p, g, m, v []float32, s Scalars, decay bool, x GradTransform) {
	if len(p) == 0 {
		return
	}
	_ = g[len(p)-1]
	_ = m[len(p)-1]
	_ = v[len(p)-1]
	if n := adamwSIMD(p, g, m, v, &s, decay, x); n > 0 {
		p, g, m, v = p[n:], g[n:], m[n:], v[n:]
	}
	adamwGo(p, g, m, v, s, decay, x)
}

// adamwGo is the element loop of AdamWInPlace, the reference the
// assembly kernels are held to bit for bit.
func adamwGo(p, g, m, v []float32, s Scalars, decay bool, x GradTransform) {
	if len(p) == 0 {
		return
	}
	_ = g[len(p)-1]
	_ = m[len(p)-1]
	_ = v[len(p)-1]
	for i := range p {
		gi := x.apply(g[i])
		mi := float32(m[i]*s.Beta1) + float32(gi*s.OneMinusBeta1)
		vi := float32(v[i]*s.Beta2) + float32(float32(gi*gi)*s.OneMinusBeta2)
		denom := float32(float32(math.Sqrt(float64(vi)))/s.BiasCorrection2Sqrt) + s.Eps
		update := float32(float32(mi/denom) * s.StepSize)
		pi := p[i]
		if decay {
			pi = float32(pi * s.DecayFactor)
		}
		p[i], m[i], v[i] = pi-update, mi, vi
	}
}

// chunkElems is the unit of work of the fused passes: large enough that a
// goroutine hand-off is noise, small enough that two cores stay balanced
// over a model whose tensors range from a bias to an embedding table. The
// chunking is fixed (not a function of the thread count), so the sum of
// squares adds its partial sums in one order on any machine.
const chunkElems = 1 << 16

type chunk struct{ tensor, lo, hi int }

func chunks(ts []*ir.Tensor) []chunk {
	var cs []chunk
	for i, t := range ts {
		n := len(t.F32)
		for lo := 0; lo < n; lo += chunkElems {
			cs = append(cs, chunk{i, lo, min(lo+chunkElems, n)})
		}
	}
	return cs
}

// forChunks runs fn over every chunk on up to threads goroutines.
func forChunks(cs []chunk, threads int, fn func(k int, c chunk)) {
	parallelFor(len(cs), threads, func(k int) { fn(k, cs[k]) })
}

// parallelFor runs fn(0), …, fn(n−1) on up to threads goroutines (all
// cores when threads ≤ 0), handing out indices in order.
func parallelFor(n, threads int, fn func(k int)) {
	if threads <= 0 {
		threads = runtime.GOMAXPROCS(0)
	}
	threads = min(threads, n)
	if threads <= 1 {
		for k := range n {
			fn(k)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range threads {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				k := int(next.Add(1) - 1)
				if k >= n {
					return
				}
				fn(k)
			}
		}()
	}
	wg.Wait()
}

// SumSquares is Σ x² over every element of ts, each element first divided
// by averageOver (when not 1) and squared in float64. Deterministic: fixed
// chunks, partial sums added in chunk order.
//
// Within a chunk the sum is two sequential chains (even and odd elements),
// whose float64 roundings are part of the result, so one chunk cannot be
// vectorized without changing the bits. Different chunks are independent
// chains, though: on AVX-512 four consecutive full chunks of a tensor go
// through sumSquares4AVX512 together, their eight chains in the eight
// lanes of one register, each lane adding exactly the scalar sequence.
func SumSquares(ts []*ir.Tensor, averageOver float32, threads int) float64 {
	cs := chunks(ts)
	partial := make([]float64, len(cs))
	// A unit of work is one chunk, or a group of sumSquaresGroup full
	// chunks of one tensor (contiguous in memory) for the kernel.
	type unit struct{ first, count int }
	var units []unit
	for k := 0; k < len(cs); {
		n := 1
		if sumSquaresSIMD() && k+sumSquaresGroup <= len(cs) {
			// Only a tensor's last chunk can be short, so a full last
			// chunk in the first one's tensor means all of them are full.
			last := cs[k+sumSquaresGroup-1]
			if last.tensor == cs[k].tensor && last.hi-last.lo == chunkElems {
				n = sumSquaresGroup
			}
		}
		units = append(units, unit{k, n})
		k += n
	}
	parallelFor(len(units), threads, func(u int) {
		k := units[u].first
		if units[u].count == 1 {
			c := cs[k]
			partial[k] = sumSquaresChunk(ts[c.tensor].F32[c.lo:c.hi], averageOver)
			return
		}
		c := cs[k]
		xs := ts[c.tensor].F32[c.lo : c.lo+sumSquaresGroup*chunkElems]
		var lanes [2 * sumSquaresGroup]float64
		sumSquares4(xs, averageOver, &lanes)
		for j := range sumSquaresGroup {
			s0, s1 := lanes[2*j], lanes[2*j+1]
			partial[k+j] = s0 + s1
		}
	})
	var sum float64
	for _, s := range partial {
		sum += s
	}
	return sum
}

// sumSquaresGroup is how many chunks sumSquares4AVX512 sums at once: two
// float64 chains each fill the eight lanes of a ZMM register.
const sumSquaresGroup = 4

// sumSquaresChunk is one chunk's partial sum: chains s0 over the even
// elements and s1 over the odd ones, then s0 + s1.
func sumSquaresChunk(xs []float32, averageOver float32) float64 {
	var s0, s1 float64
	i := 0
	for ; i+1 < len(xs); i += 2 {
		a, b := xs[i], xs[i+1]
		if averageOver != 1 {
			a, b = a/averageOver, b/averageOver
		}
		s0 += float64(a) * float64(a)
		s1 += float64(b) * float64(b)
	}
	if i < len(xs) {
		a := xs[i]
		if averageOver != 1 {
			a /= averageOver
		}
		s0 += float64(a) * float64(a)
	}
	return s0 + s1
}
