package cpu

import (
	"math"

	"crsc/compiler/ir"
	"crsc/runtime/shapes"
)

type redKind int

const (
	redSum redKind = iota
	redMean
	redMax
	redMin
	redProd
	redL1
	redL2
	redSumSquare
	redLogSum
	redLogSumExp
)

// reduceKernel handles every ReduceX op. axes come from input 1 or the
// attribute (both forms occur across opsets); absent or empty axes reduce
// everything unless noop_with_empty_axes=1, which makes it the identity.
func reduceKernel(kind redKind) Kernel {
	return func(ctx *Ctx, n *ir.Node, ins []*ir.Tensor) ([]*ir.Tensor, error) {
		x, err := dataInput(n, ins)
		if err != nil {
			return nil, err
		}
		axes, _, err := axesFrom(n, ins, 1)
		if err != nil {
			return nil, err
		}
		if len(axes) == 0 && n.Attrs.Int("noop_with_empty_axes", 0) == 1 {
			return []*ir.Tensor{ctx.clone(x)}, nil
		}
		ax, err := shapes.ReduceAxes(axes, len(x.Shape))
		if err != nil {
			return nil, nodeErr(n, err)
		}
		out, err := reduce(ctx, n, kind, x, ax, n.Attrs.Int("keepdims", 1) == 1)
		if err != nil {
			return nil, err
		}
		return []*ir.Tensor{out}, nil
	}
}

// reduce reduces x over axes (normalized, distinct).
func reduce(ctx *Ctx, n *ir.Node, kind redKind, x *ir.Tensor, axes []int, keep bool) (*ir.Tensor, error) {
	// Lay x out as [outer, R, inner]: directly when the reduced axes are
	// adjacent, else by moving them last. LogSumExp needs inner == 1.
	lay := shapes.Reduce(x.Shape, axes, keep, kind == redLogSumExp)
	src := x
	if lay.Perm != nil {
		src = transposeTo(ctx, x, lay.Perm, ctx.scratch)
	}
	outer, red, inner := lay.Outer, lay.Red, lay.Inner
	out := ctx.newTensor(x.DType, lay.Shape)
	switch storage(x.DType) {
	case ir.Float32:
		reduceFloat(ctx, kind, src.F32, out.F32, outer, red, inner)
	case ir.Float64:
		reduceFloat(ctx, kind, src.F64, out.F64, outer, red, inner)
	case ir.Int64:
		if err := reduceInt(n, kind, src.I64, out.I64, outer, red, inner); err != nil {
			return nil, err
		}
	case ir.Int32:
		if err := reduceInt(n, kind, src.I32, out.I32, outer, red, inner); err != nil {
			return nil, err
		}
	default:
		return nil, errf(n, "unsupported dtype %v", x.DType)
	}
	return out, nil
}

func redInit(kind redKind) float64 {
	switch kind {
	case redMax:
		return math.Inf(-1)
	case redMin:
		return math.Inf(1)
	case redProd:
		return 1
	}
	return 0
}

func redStep(kind redKind, acc, v float64) float64 {
	switch kind {
	case redMax:
		if v > acc || v != v {
			return v
		}
		return acc
	case redMin:
		if v < acc || v != v {
			return v
		}
		return acc
	case redProd:
		return acc * v
	case redL1:
		return acc + math.Abs(v)
	case redL2, redSumSquare:
		return acc + v*v
	}
	return acc + v
}

func redFinish(kind redKind, acc float64, cnt int) float64 {
	switch kind {
	case redMean:
		return acc / float64(cnt)
	case redL2:
		return math.Sqrt(acc)
	case redLogSum:
		return math.Log(acc)
	}
	return acc
}

// reduceFloat accumulates in float64 so long sums in float32 stay exact
// enough for gradient checks. Work is split over outer rows, or over the
// inner columns when there are too few rows to occupy the threads.
func reduceFloat[T float](ctx *Ctx, kind redKind, x, out []T, outer, red, inner int) {
	if kind == redLogSumExp { // inner == 1 here
		parallelFor(ctx, outer, outer*red, func(lo, hi int) {
			for o := lo; o < hi; o++ {
				row := x[o*red : (o+1)*red]
				m := math.Inf(-1)
				for _, v := range row {
					m = max(m, float64(v))
				}
				if math.IsInf(m, 0) {
					out[o] = T(m)
					continue
				}
				s := 0.0
				for _, v := range row {
					s += math.Exp(float64(v) - m)
				}
				out[o] = T(m + math.Log(s))
			}
		})
		return
	}
	if kind == redSum || kind == redMean {
		sumFloat(ctx, kind, x, out, outer, red, inner)
		return
	}
	init := redInit(kind)
	if inner == 1 {
		parallelFor(ctx, outer, outer*red, func(lo, hi int) {
			for o := lo; o < hi; o++ {
				acc := init
				for _, v := range x[o*red : (o+1)*red] {
					acc = redStep(kind, acc, float64(v))
				}
				out[o] = T(redFinish(kind, acc, red))
			}
		})
		return
	}
	// Columns: for each outer row, sweep the reduced axis accumulating a
	// whole inner vector at a time (cache friendly).
	parallelFor(ctx, outer*inner, outer*red*inner, func(lo, hi int) {
		acc := make([]float64, 0, min(hi-lo, inner))
		for u := lo; u < hi; {
			o, i0 := u/inner, u%inner
			i1 := min(inner, i0+(hi-u))
			acc = acc[:i1-i0]
			for i := range acc {
				acc[i] = init
			}
			for r := 0; r < red; r++ {
				row := x[(o*red+r)*inner+i0 : (o*red+r)*inner+i1]
				for i, v := range row {
					acc[i] = redStep(kind, acc[i], float64(v))
				}
			}
			for i, a := range acc {
				out[o*inner+i0+i] = T(redFinish(kind, a, red))
			}
			u += i1 - i0
		}
	})
}

// reduceInt supports the reductions that are defined on integers.
func reduceInt[T int64 | int32](n *ir.Node, kind redKind, x, out []T, outer, red, inner int) error {
	switch kind {
	case redSum, redMean, redMax, redMin, redProd, redL1, redSumSquare:
	default:
		return errf(n, "not defined for integer inputs")
	}
	for o := 0; o < outer; o++ {
		for i := 0; i < inner; i++ {
			var acc int64
			switch kind {
			case redProd:
				acc = 1
			case redMax:
				acc = math.MinInt64
			case redMin:
				acc = math.MaxInt64
			}
			for r := 0; r < red; r++ {
				v := int64(x[(o*red+r)*inner+i])
				switch kind {
				case redMax:
					acc = max(acc, v)
				case redMin:
					acc = min(acc, v)
				case redProd:
					acc *= v
				case redL1:
					if v < 0 {
						v = -v
					}
					acc += v
				case redSumSquare:
					acc += v * v
				default:
					acc += v
				}
			}
			if kind == redMean && red > 0 {
				acc /= int64(red)
			}
			out[o*inner+i] = T(acc)
		}
	}
	return nil
}

// argKernel implements ArgMax (max=true) and ArgMin, including
// select_last_index.
func argKernel(isMax bool) Kernel {
	return func(ctx *Ctx, n *ir.Node, ins []*ir.Tensor) ([]*ir.Tensor, error) {
		x, err := dataInput(n, ins)
		if err != nil {
			return nil, err
		}
		if !isNumeric(x.DType) {
			return nil, errf(n, "unsupported dtype %v", x.DType)
		}
		axis, err := normAxis(n, n.Attrs.Int("axis", 0), len(x.Shape))
		if err != nil {
			return nil, err
		}
		last := n.Attrs.Int("select_last_index", 0) == 1
		shape := append([]int{}, x.Shape...)
		if n.Attrs.Int("keepdims", 1) == 1 {
			shape[axis] = 1
		} else {
			shape = append(shape[:axis], shape[axis+1:]...)
		}
		outer, dim, inner := ir.NumElements(x.Shape[:axis]), x.Shape[axis], ir.NumElements(x.Shape[axis+1:])
		if dim == 0 {
			return nil, errf(n, "cannot take the arg of an empty axis")
		}
		out := ctx.newTensor(ir.Int64, shape)
		for o := 0; o < outer; o++ {
			for i := 0; i < inner; i++ {
				best, bi := x.Float64At(o*dim*inner+i), 0
				for j := 1; j < dim; j++ {
					v := x.Float64At((o*dim+j)*inner + i)
					better := v > best || (last && v == best)
					if !isMax {
						better = v < best || (last && v == best)
					}
					if better {
						best, bi = v, j
					}
				}
				out.I64[o*inner+i] = int64(bi)
			}
		}
		return []*ir.Tensor{out}, nil
	}
}

// sumFloat is reduceFloat for ReduceSum/ReduceMean, which carry SumTo
// (every bias gradient): the same float64 accumulation without redStep's
// per-element switch. Columns (inner > 1) are summed in row order, rows
// (inner == 1) in four interleaved partial sums added at the end; either
// way each output's arithmetic depends only on the shape, never on the
// thread split.
func sumFloat[T float](ctx *Ctx, kind redKind, x, out []T, outer, red, inner int) {
	finish := func(acc float64) T {
		if kind == redMean {
			acc /= float64(red)
		}
		return T(acc)
	}
	if inner == 1 {
		parallelFor(ctx, outer, outer*red, func(lo, hi int) {
			for o := lo; o < hi; o++ {
				out[o] = finish(rowSum(x[o*red : (o+1)*red]))
			}
		})
		return
	}
	parallelFor(ctx, outer*inner, outer*red*inner, func(lo, hi int) {
		acc := make([]float64, min(hi-lo, inner))
		for u := lo; u < hi; {
			o, i0 := u/inner, u%inner
			i1 := min(inner, i0+(hi-u))
			a := acc[:i1-i0]
			clear(a)
			for r := 0; r < red; r++ {
				row := x[(o*red+r)*inner+i0 : (o*red+r)*inner+i1]
				row = row[:len(a)]
				for i, v := range row {
					a[i] += float64(v)
				}
			}
			for i, v := range a {
				out[o*inner+i0+i] = finish(v)
			}
			u += i1 - i0
		}
	})
}
