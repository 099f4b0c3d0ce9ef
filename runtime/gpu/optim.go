package gpu

import (
	"encoding/binary"
	"fmt"
	"math"

	"crsc/compiler/ir"
	"crsc/runtime/cuda"
	"crsc/training/optim"
)

// The optimizer step on the device, for a training run that keeps its
// parameters, gradients and AdamW moments there (runtime/engine).

var optimSrc = newSource("optim.cu")

// Resident uploads host tensor h once and keeps it on the device for the
// backend's lifetime: every run reads that copy (the parameters and the
// optimizer's moments of a training run). The host tensor goes stale as
// the device copy is updated; Download brings it up to date.
func (b *Backend) Resident(h *ir.Tensor) error {
	_, err := b.mem.makeResident(h)
	return err
}

// Download copies the device copy of resident host tensor h back into h.
func (b *Backend) Download(h *ir.Tensor) error {
	b.mem.mu.Lock()
	d := b.mem.resident[h]
	b.mem.mu.Unlock()
	if d == nil {
		return fmt.Errorf("internal error: Download of a tensor that is not resident")
	}
	got, err := b.mem.toHost(d)
	if err != nil {
		return err
	}
	copy(hostBytes(h), hostBytes(got))
	return nil
}

// resident returns the device copy of resident host tensor h.
func (b *Backend) resident(h *ir.Tensor) (*ir.Tensor, error) {
	b.mem.mu.Lock()
	defer b.mem.mu.Unlock()
	if d := b.mem.resident[h]; d != nil {
		return d, nil
	}
	return nil, fmt.Errorf("internal error: a parameter or moment is not resident on the device")
}

// NewTensor returns a zeroed f32 device tensor of shape outside the arena
// (gradient accumulators), to be released with Release.
func (b *Backend) NewTensor(shape []int) (*ir.Tensor, error) {
	c := &ctx{b: b}
	t, err := b.mem.pooled(ir.Float32, shape)
	if err != nil {
		return nil, err
	}
	if err := c.zero(t); err != nil {
		b.mem.release(t)
		return nil, err
	}
	return t, nil
}

// CopyInto copies device tensor src into device tensor dst (same size).
func (b *Backend) CopyInto(dst, src *ir.Tensor) error { return b.copyDevice(dst, src) }

// AddInto adds device tensor src into device tensor dst, element-wise.
func (b *Backend) AddInto(dst, src *ir.Tensor) error {
	c := &ctx{b: b}
	return c.launch(optimSrc, "add_into_f32", dst.Len(), c.ptr(dst), c.ptr(src), int64(dst.Len()))
}

// sumsqChunk is optim.SumSquares' chunk: the same partial sums, added in
// the same order, give the CPU's norm.
const sumsqChunk = 1 << 16

// SumSquares is optim.SumSquares over device tensors: Σ (x/averageOver)²
// in double, by the CPU's fixed chunks; only the sum comes back.
func (b *Backend) SumSquares(ts []*ir.Tensor, averageOver float32) (float64, error) {
	c := &ctx{b: b}
	var chunks int64
	for _, t := range ts {
		chunks += int64((t.Len() + sumsqChunk - 1) / sumsqChunk)
	}
	partial, free, err := c.scratch(ir.Float64, []int{int(max(chunks, 1))})
	if err != nil {
		return 0, err
	}
	defer free()
	sum, freeSum, err := c.scratch(ir.Float64, []int{1})
	if err != nil {
		return 0, err
	}
	defer freeSum()
	var first int64
	for _, t := range ts {
		n := t.Len()
		k := (n + sumsqChunk - 1) / sumsqChunk
		if err := c.launch(optimSrc, "sumsq_chunks_f32", k, c.ptr(partial), first, c.ptr(t), int64(n), int64(sumsqChunk), averageOver); err != nil {
			return 0, err
		}
		first += int64(k)
	}
	if err := c.launchGrid(optimSrc, "sum_f64", cuda.Dim3{X: 1, Y: 1, Z: 1}, cuda.Dim3{X: 1, Y: 1, Z: 1}, 0, c.ptr(sum), c.ptr(partial), chunks); err != nil {
		return 0, err
	}
	h, err := b.mem.toHost(sum)
	if err != nil {
		return 0, err
	}
	return math.Float64frombits(binary.LittleEndian.Uint64(hostBytes(h))), nil
}

// AdamW applies optim.AdamWInPlace on the device: params, expAvg and
// expAvgSq are resident host tensors (their device copies are updated),
// grads are device tensors, all in one order; decay says which parameters
// are decayed.
func (b *Backend) AdamW(params, grads, expAvg, expAvgSq []*ir.Tensor, decay []bool, s optim.Scalars, x optim.GradTransform) error {
	c := &ctx{b: b}
	clip := int32(0)
	if x.Clip {
		clip = 1
	}
	for i, h := range params {
		p, err := b.resident(h)
		if err != nil {
			return err
		}
		m, err := b.resident(expAvg[i])
		if err != nil {
			return err
		}
		v, err := b.resident(expAvgSq[i])
		if err != nil {
			return err
		}
		dec := int32(0)
		if decay[i] {
			dec = 1
		}
		n := p.Len()
		if err := c.launch(optimSrc, "adamw_f32", n, c.ptr(p), c.ptr(grads[i]), c.ptr(m), c.ptr(v), int64(n),
			s.Beta1, s.OneMinusBeta1, s.Beta2, s.OneMinusBeta2, s.Eps, s.StepSize, s.BiasCorrection2Sqrt, s.DecayFactor, dec,
			x.AverageOver, clip, x.ClipScale); err != nil {
			return err
		}
	}
	return nil
}

// Transfers is the bytes copied host → device and device → host so far.
func (b *Backend) Transfers() (toDevice, toHost int64) {
	b.mem.mu.Lock()
	defer b.mem.mu.Unlock()
	return b.mem.bytesIn, b.mem.bytesOut
}
