package cpu

import (
	"crsc/compiler/ir"
	"crsc/runtime/shapes"
)

// broadcastShape applies ONNX multidirectional (numpy) broadcasting.
func broadcastShape(n *ir.Node, ss ...[]int) ([]int, error) {
	out, err := shapes.Broadcast(ss...)
	return out, nodeErr(n, err)
}

// bcastPlan iterates an output of shape out in rows of its innermost dim,
// after dropping unit dims and merging dims that every input walks
// contiguously. For each row it gives every input's starting offset; within
// a row input k advances by inner[k] (0 when broadcast, else 1).
type bcastPlan struct {
	dims    []int   // collapsed output dims; the last is the row
	strides [][]int // strides[k][d]: element stride of input k along dim d
	inner   []int
	rows    int
	rowLen  int
}

func planBroadcast(out []int, ins ...[]int) *bcastPlan {
	// Per-input strides aligned to out, 0 where broadcast.
	full := make([][]int, len(ins))
	for k, s := range ins {
		full[k] = shapes.AlignedStrides(s, len(out))
	}
	return planStrided(out, full...)
}

// planStrided builds a plan from explicit per-input strides (any values,
// including 0 for broadcast and steps for Slice), one per dim of out.
func planStrided(out []int, full ...[]int) *bcastPlan {
	ins := full
	p := &bcastPlan{}
	p.dims, p.strides = shapes.Collapse(out, full...)
	if len(p.dims) == 0 { // scalar output, or all dims 1
		p.dims = []int{1}
		for k := range ins {
			p.strides[k] = []int{0}
		}
	}
	r := len(p.dims) - 1
	p.rowLen = p.dims[r]
	p.rows = ir.NumElements(out) / max(p.rowLen, 1)
	if ir.NumElements(out) == 0 {
		p.rows = 0
	}
	p.inner = make([]int, len(ins))
	for k := range ins {
		p.inner[k] = p.strides[k][r]
	}
	return p
}

// run calls fn for every row (or piece of a row, when rows are too few to
// keep the threads busy) with the output offset, the input offsets and the
// element count. Calls for distinct pieces may run concurrently.
func (p *bcastPlan) run(ctx *Ctx, fn func(o int, offs []int, n int)) {
	pieces := 1
	total := p.rows * p.rowLen
	if t := threads(ctx); p.rows < t && total >= minParallelWork {
		pieces = t
	}
	pieceLen := (p.rowLen + pieces - 1) / pieces
	outer := p.dims[:len(p.dims)-1]
	parallelFor(ctx, p.rows*pieces, total, func(lo, hi int) {
		offs := make([]int, len(p.strides))
		for u := lo; u < hi; u++ {
			row, piece := u/pieces, u%pieces
			start := piece * pieceLen
			cnt := min(pieceLen, p.rowLen-start)
			if cnt <= 0 {
				continue
			}
			for k := range offs {
				offs[k] = start * p.inner[k]
			}
			rem := row
			for d := len(outer) - 1; d >= 0; d-- {
				i := rem % outer[d]
				rem /= outer[d]
				for k := range offs {
					offs[k] += i * p.strides[k][d]
				}
			}
			fn(row*p.rowLen+start, offs, cnt)
		}
	})
}

// broadcastTo materializes x broadcast to shape out (used by Expand and as
// a fallback by kernels that want same-shape operands).
func broadcastTo[T elem](ctx *Ctx, x []T, xs, out []int) []T {
	res := make([]T, ir.NumElements(out))
	p := planBroadcast(out, xs)
	s := p.inner[0]
	p.run(ctx, func(o int, offs []int, n int) {
		dst := res[o : o+n]
		if s == 0 {
			v := x[offs[0]]
			for i := range dst {
				dst[i] = v
			}
			return
		}
		copy(dst, x[offs[0]:offs[0]+n])
	})
	return res
}

// rowCopier returns a function copying n elements from src (starting at s,
// advancing by stride) to dst (starting at d, contiguous). dst and src must
// share a storage type; the dtype switch happens once, not per element.
func rowCopier(dst, src *ir.Tensor) func(d, s, n, stride int) {
	switch storage(dst.DType) {
	case ir.Float32:
		return stridedRow(dst.F32, src.F32)
	case ir.Float64:
		return stridedRow(dst.F64, src.F64)
	case ir.Int64:
		return stridedRow(dst.I64, src.I64)
	case ir.Int32:
		return stridedRow(dst.I32, src.I32)
	default:
		return stridedRow(dst.Bool, src.Bool)
	}
}

func stridedRow[T elem](dst, src []T) func(d, s, n, stride int) {
	return func(d, s, n, stride int) {
		switch stride {
		case 1:
			copy(dst[d:d+n], src[s:s+n])
		case 0:
			v := src[s]
			for i := d; i < d+n; i++ {
				dst[i] = v
			}
		default:
			o := dst[d : d+n]
			for i := range o {
				o[i] = src[s+i*stride]
			}
		}
	}
}

// stridedCopy fills the contiguous dst from src read at base plus the given
// per-dim strides over dims (Transpose, Slice, Expand, Tile).
func stridedCopy(ctx *Ctx, dst, src *ir.Tensor, base int, dims, strides []int) {
	if ir.NumElements(dims) == 0 {
		return
	}
	p := planStrided(dims, strides)
	cp := rowCopier(dst, src)
	s := p.inner[0]
	p.run(ctx, func(o int, offs []int, n int) { cp(o, base+offs[0], n, s) })
}
