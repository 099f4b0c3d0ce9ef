package cpu

import (
	"fmt"
	"math"
	"math/rand"
	"slices"
	"strings"
	"testing"

	"crsc/compiler/ir"
	"crsc/runtime/rng"
)

// The memory-saving ops must be drop-in replacements: each is checked
// against the op pair it replaces (ReLU's Where gradient, DropoutGrad with
// the stored mask, LayerNormalizationGrad from X) or, for RMSNorm, against
// a float64 reference and central differences.

// memNode builds a node; outs, when given, are placeholders whose nil
// entries mark outputs the graph does not need.
func memNode(domain, op, name string, a ir.Attrs, outs ...*ir.Value) *ir.Node {
	return &ir.Node{Name: name, Op: op, Domain: domain, Attrs: a, Outputs: outs}
}

func memTry(ctx *Ctx, n *ir.Node, ins ...*ir.Tensor) (outs []*ir.Tensor, err error) {
	k, ok := Lookup(n.Domain, n.Op)
	if !ok {
		return nil, errf(n, "no kernel")
	}
	if ctx == nil {
		ctx = &Ctx{Threads: 4}
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%s panicked: %v", n.Op, r)
		}
	}()
	return k(ctx, n, ins)
}

func memRun(t *testing.T, ctx *Ctx, n *ir.Node, ins ...*ir.Tensor) []*ir.Tensor {
	t.Helper()
	outs, err := memTry(ctx, n, ins...)
	if err != nil {
		t.Fatal(err)
	}
	return outs
}

// memRand is a tensor of dtype dt with values in [-1, 1).
func memRand(r *rand.Rand, dt ir.DType, shape ...int) *ir.Tensor {
	t := ir.NewTensor(dt, shape...)
	for i := 0; i < t.Len(); i++ {
		v := 2*r.Float64() - 1
		if dt == ir.Float32 {
			t.F32[i] = float32(v)
		} else {
			t.F64[i] = v
		}
	}
	return t
}

// memScale is a random norm scale of magnitude in [0.5, 1.5), either sign.
func memScale(r *rand.Rand, dt ir.DType, shape ...int) *ir.Tensor {
	t := memRand(r, dt, shape...)
	for i := 0; i < t.Len(); i++ {
		v := 0.5 + r.Float64()
		if r.Intn(4) == 0 {
			v = -v
		}
		if dt == ir.Float32 {
			t.F32[i] = float32(v)
		} else {
			t.F64[i] = v
		}
	}
	return t
}

func memScalar(dt ir.DType, v float64) *ir.Tensor {
	t := ir.NewTensor(dt)
	if dt == ir.Float32 {
		t.F32[0] = float32(v)
	} else {
		t.F64[0] = v
	}
	return t
}

func memBool(v bool) *ir.Tensor { return &ir.Tensor{DType: ir.Bool, Shape: []int{}, Bool: []bool{v}} }

// memBits returns the bit patterns of a float tensor's elements, so that
// comparisons are exact (-0 vs +0, NaN payloads).
func memBits(t *ir.Tensor) []uint64 {
	var b []uint64
	for _, v := range t.F32 {
		b = append(b, uint64(math.Float32bits(v)))
	}
	for _, v := range t.F64 {
		b = append(b, math.Float64bits(v))
	}
	return b
}

func memIdentical(t *testing.T, what string, got, want *ir.Tensor) {
	t.Helper()
	if got.DType != want.DType || !slices.Equal(got.Shape, want.Shape) {
		t.Fatalf("%s: got %v %v, want %v %v", what, got.DType, got.Shape, want.DType, want.Shape)
	}
	g, w := memBits(got), memBits(want)
	for i := range w {
		if g[i] != w[i] {
			t.Fatalf("%s: element %d: got %v, want %v (bits %x vs %x)", what, i, got.Float64At(i), want.Float64At(i), g[i], w[i])
		}
	}
}

// memClose checks |got-want| <= tol·(|want| + 0.01·max|want|): relative,
// with a floor for the elements that cancel to near zero. want may be a
// float64 reference for a float32 result.
func memClose(t *testing.T, what string, got, want *ir.Tensor, tol float64) {
	t.Helper()
	if got == nil || !slices.Equal(got.Shape, want.Shape) {
		t.Fatalf("%s: got %v, want shape %v", what, got, want.Shape)
	}
	peak := 0.0
	for i := 0; i < want.Len(); i++ {
		peak = math.Max(peak, math.Abs(want.Float64At(i)))
	}
	for i := 0; i < want.Len(); i++ {
		g, w := got.Float64At(i), want.Float64At(i)
		if !(math.Abs(g-w) <= tol*(math.Abs(w)+0.01*peak)) {
			t.Fatalf("%s: element %d: got %.9g, want %.9g", what, i, g, w)
		}
	}
}

func TestMemoryRegistry(t *testing.T) {
	checkCrscRegistry(t, memoryKernels, "")
}

func TestBitMaskReluGrad(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	for _, dt := range []ir.DType{ir.Float32, ir.Float64} {
		for _, size := range []int{1, 5, 31, 32, 33, 64, 100, 1000, 40001} {
			t.Run(fmt.Sprintf("%v/%d", dt, size), func(t *testing.T) {
				x := memRand(r, dt, size)
				dy := memRand(r, dt, size)
				// Exact zeros (ReLU's boundary: not > 0), -0, and NaN
				// and -0 in dY, which Where passes through where kept.
				for i := 0; i < size; i += 3 {
					memSet(x, i, 0)
				}
				memSet(x, size/2, math.Copysign(0, -1))
				memSet(dy, size-1, math.NaN())
				memSet(dy, 0, math.Copysign(0, -1))
				ctx := &Ctx{Threads: 4}
				y := memRun(t, ctx, memNode("", "Relu", "relu", nil), x)[0]
				cond := memRun(t, ctx, memNode("", "Greater", "gt", nil), y, memScalar(dt, 0))[0]
				want := memRun(t, ctx, memNode("", "Where", "where", nil), cond, dy, memScalar(dt, 0))[0]
				for _, src := range []struct {
					name string
					t    *ir.Tensor
				}{{"Y", y}, {"X", x}} {
					bits := memRun(t, ctx, memNode(crscDomain, "BitMask", "bm", nil), src.t)[0]
					if bits.DType != ir.Int32 || !slices.Equal(bits.Shape, []int{(size + 31) / 32}) {
						t.Fatalf("BitMask(%s): %v %v", src.name, bits.DType, bits.Shape)
					}
					for i := 0; i < size; i++ {
						if got, w := bits.I32[i/32]>>(i%32)&1 == 1, cond.Bool[i]; got != w {
							t.Fatalf("BitMask(%s) bit %d = %v, want %v", src.name, i, got, w)
						}
					}
					if last := uint32(bits.I32[len(bits.I32)-1]); size%32 != 0 && last>>(size%32) != 0 {
						t.Fatalf("BitMask(%s): padding bits set: %x", src.name, last)
					}
					for _, th := range []int{1, 8} {
						got := memRun(t, &Ctx{Threads: th}, memNode(crscDomain, "ReluGrad", "rg", nil), dy, bits)[0]
						memIdentical(t, "ReluGrad from BitMask("+src.name+")", got, want)
					}
				}
			})
		}
	}
	// The documented layout: bit j of word i is element 32i+j.
	x := ir.FromFloat32([]int{2, 17}, make([]float32, 34))
	x.F32[0], x.F32[3], x.F32[31], x.F32[33] = 1, 2, 3, 4
	bits := memRun(t, nil, memNode(crscDomain, "BitMask", "bm", nil), x)[0]
	if w0, w1 := uint32(bits.I32[0]), uint32(bits.I32[1]); w0 != 1|1<<3|1<<31 || w1 != 1<<1 {
		t.Errorf("layout: words %x %x", w0, w1)
	}
}

// memSet writes element i of a float tensor.
func memSet(t *ir.Tensor, i int, v float64) {
	if t.DType == ir.Float32 {
		t.F32[i] = float32(v)
	} else {
		t.F64[i] = v
	}
}

func TestDropoutMaskGrad(t *testing.T) {
	r := rand.New(rand.NewSource(2))
	const name = "encoder/layer.3/attention/dropout"
	for _, dt := range []ir.DType{ir.Float32, ir.Float64} {
		for _, tc := range []struct {
			shape []int
			ratio float64
		}{{[]int{3, 37, 11}, 0.1}, {[]int{64, 100}, 0.5}, {[]int{50}, 0.9}, {[]int{7}, 1}} {
			x := memRand(r, dt, tc.shape...)
			dy := memRand(r, dt, tc.shape...)
			ratio, on := memScalar(dt, tc.ratio), memBool(true)
			what := fmt.Sprintf("%v %v ratio %v", dt, tc.shape, tc.ratio)
			ctx := &Ctx{Seed: 42, Step: 7, Threads: 4}
			fwd := memRun(t, ctx, memNode("", "Dropout", name, nil), x, ratio, on)
			want := memRun(t, ctx, memNode(crscDomain, "DropoutGrad", "dg", nil), dy, fwd[1], ratio, on)[0]
			mg := memNode(crscDomain, "DropoutMaskGrad", "dmg", ir.Attrs{"forward_node": ir.StringAttr(name)})
			for _, th := range []int{1, 8} {
				c := *ctx
				c.Threads = th
				memIdentical(t, what, memRun(t, &c, mg, dy, ratio, on)[0], want)
			}
			// Another step draws another mask (unless everything is dropped).
			next := *ctx
			next.Step++
			if tc.ratio < 1 && slices.Equal(memBits(memRun(t, &next, mg, dy, ratio, on)[0]), memBits(want)) {
				t.Errorf("%s: step %d gives step %d's gradient", what, next.Step, ctx.Step)
			}
			// So does another forward node.
			other := memNode(crscDomain, "DropoutMaskGrad", "dmg", ir.Attrs{"forward_node": ir.StringAttr(name + "_2")})
			if tc.ratio < 1 && slices.Equal(memBits(memRun(t, ctx, other, dy, ratio, on)[0]), memBits(want)) {
				t.Errorf("%s: another forward node gives the same gradient", what)
			}
			// Identity cases, as the forward: no training_mode, false,
			// ForceEval, ratio 0.
			eval := *ctx
			eval.ForceEval = true
			for _, c := range []struct {
				what string
				ctx  *Ctx
				ins  []*ir.Tensor
			}{
				{"absent", ctx, []*ir.Tensor{dy, ratio}},
				{"false", ctx, []*ir.Tensor{dy, ratio, memBool(false)}},
				{"ForceEval", &eval, []*ir.Tensor{dy, ratio, on}},
				{"ratio 0", ctx, []*ir.Tensor{dy, memScalar(dt, 0), on}},
			} {
				got := memRun(t, c.ctx, mg, c.ins...)[0]
				memIdentical(t, what+" "+c.what, got, dy)
				if len(got.F32) > 0 && &got.F32[0] == &dy.F32[0] || len(got.F64) > 0 && &got.F64[0] == &dy.F64[0] {
					t.Errorf("%s %s: result aliases dY", what, c.what)
				}
			}
		}
	}
	// Old opsets: ratio as an attribute.
	x := memRand(r, ir.Float32, 300)
	ctx := &Ctx{Seed: 1, Step: 2}
	old := memNode("", "Dropout", "d", ir.Attrs{"ratio": ir.FloatAttr(0.3)})
	fwd := memRun(t, ctx, old, x, nil, memBool(true))
	want := memRun(t, ctx, memNode(crscDomain, "DropoutGrad", "dg", ir.Attrs{"ratio": ir.FloatAttr(0.3)}), x, fwd[1], nil, memBool(true))[0]
	got := memRun(t, ctx, memNode(crscDomain, "DropoutMaskGrad", "dmg",
		ir.Attrs{"forward_node": ir.StringAttr("d"), "ratio": ir.FloatAttr(0.3)}), x, nil, memBool(true))[0]
	memIdentical(t, "ratio attribute", got, want)
}

func TestLayerNormGradFromOutput(t *testing.T) {
	r := rand.New(rand.NewSource(3))
	for _, dt := range []ir.DType{ir.Float32, ir.Float64} {
		tol := 1e-5
		if dt == ir.Float64 {
			tol = 1e-10
		}
		for _, tc := range []struct {
			axis               int64
			scale, bias        []int // nil bias: omitted
			zeroScaleAt, nulls int   // -1: none; nulls: outputs not wanted (bit mask)
		}{
			{-1, []int{6}, []int{6}, -1, 0},
			{-1, []int{6}, nil, -1, 0},
			{1, []int{5, 6}, []int{5, 6}, -1, 0},
			{1, []int{5, 6}, nil, -1, 0},
			{1, []int{6}, []int{6}, -1, 0},       // scale and bias broadcast over dim 1
			{1, []int{5, 6}, []int{1, 6}, -1, 0}, // bias broadcast, scale not
			{-1, []int{6}, []int{6}, 2, 0},       // a zero scale: documented loss
			{1, []int{6}, nil, 4, 0},
			{1, []int{5, 6}, []int{5, 6}, -1, 1<<1 | 1<<2},
			{-1, []int{6}, []int{6}, -1, 1 << 0},
		} {
			what := fmt.Sprintf("%v axis %d scale %v bias %v", dt, tc.axis, tc.scale, tc.bias)
			x := memRand(r, dt, 4, 5, 6)
			for i := 0; i < x.Len(); i++ { // an offset, so mean subtraction matters
				memSet(x, i, x.Float64At(i)+0.7)
			}
			dy := memRand(r, dt, 4, 5, 6)
			scale := memScale(r, dt, tc.scale...)
			if tc.zeroScaleAt >= 0 {
				memSet(scale, tc.zeroScaleAt, 0)
			}
			var bias *ir.Tensor
			if tc.bias != nil {
				bias = memRand(r, dt, tc.bias...)
			}
			a := ir.Attrs{"axis": ir.IntAttr(tc.axis)}
			fwd := memRun(t, nil, memNode("", "LayerNormalization", "ln", a), x, scale, bias)
			y, mean, inv := fwd[0], fwd[1], fwd[2]
			outs := make([]*ir.Value, 3)
			for i := range outs {
				if tc.nulls&(1<<i) == 0 {
					outs[i] = &ir.Value{}
				}
			}
			want := memRun(t, nil, memNode(crscDomain, "LayerNormalizationGrad", "lng", a, outs...), dy, x, scale, mean, inv)
			gn := memNode(crscDomain, "LayerNormalizationGradFromOutput", "lngo", a, outs...)
			got := memRun(t, &Ctx{Threads: 1}, gn, dy, y, scale, bias, inv)
			par := memRun(t, &Ctx{Threads: 8}, gn, dy, y, scale, bias, inv)
			for i, name := range []string{"dX", "dScale", "dBias"} {
				if tc.nulls&(1<<i) != 0 {
					if got[i] != nil {
						t.Errorf("%s: unwanted %s computed", what, name)
					}
					continue
				}
				memIdentical(t, what+" "+name+" threads 1 vs 8", par[i], got[i])
				w := want[i]
				if name == "dBias" && bias != nil && !slices.Equal(bias.Shape, scale.Shape) {
					// LayerNormalizationGrad gives dBias scale's shape;
					// this op gives bias's: sum the reference down.
					var err error
					if w, err = gradSumTo(nil, gn, toFloat64(w), bias.Shape); err != nil {
						t.Fatal(err)
					}
					w = convert(w, dt)
				}
				if tc.zeroScaleAt >= 0 {
					// Documented limitation: where scale is 0, xhat is
					// unrecoverable and taken as 0. That column's dScale is
					// 0 and its own dX is is·(−mean(g)) instead of
					// is·(−mean(g) − xhat·mean(g·xhat)); every other
					// element is exact, as g = dY·0 = 0 there, so the
					// column enters the row means with weight 0.
					w = w.Clone()
					switch name {
					case "dScale":
						if v := got[i].Float64At(tc.zeroScaleAt); v != 0 {
							t.Errorf("%s: dScale at the zero scale = %v, want 0", what, v)
						}
						memSet(w, tc.zeroScaleAt, 0)
					case "dX":
						ax := int(tc.axis)
						if ax < 0 {
							ax += len(y.Shape)
						}
						zs := zeroColumns(scale, tc.scale, y.Shape[ax:])
						d := len(zs)
						for k := 0; k < w.Len(); k++ {
							if zs[k%d] {
								memSet(w, k, got[i].Float64At(k))
							}
						}
					}
				}
				memClose(t, what+" "+name, got[i], w, tol)
			}
		}
	}
}

// zeroColumns marks the elements of the normalized block norm (the
// trailing dims of the data) where scale, broadcast to norm, is 0.
func zeroColumns(scale *ir.Tensor, scaleShape, norm []int) []bool {
	sc := broadcastTo(nil, toFloat64(scale).F64, scaleShape, norm)
	zs := make([]bool, len(sc))
	for j, v := range sc {
		zs[j] = v == 0
	}
	return zs
}

// memRMSRef is RMSNormalization in float64 straight from its definition.
func memRMSRef(x, scale *ir.Tensor, axis int, eps float64) (y, inv []float64) {
	d := ir.NumElements(x.Shape[axis:])
	outer := x.Len() / d
	y, inv = make([]float64, x.Len()), make([]float64, outer)
	for o := 0; o < outer; o++ {
		ss := 0.0
		for j := 0; j < d; j++ {
			v := x.Float64At(o*d + j)
			ss += v * v
		}
		inv[o] = 1 / math.Sqrt(ss/float64(d)+eps)
		for j := 0; j < d; j++ {
			y[o*d+j] = x.Float64At(o*d+j) * inv[o] * scale.Float64At(j%scale.Len())
		}
	}
	return y, inv
}

func TestRMSNormalization(t *testing.T) {
	r := rand.New(rand.NewSource(4))
	for _, dt := range []ir.DType{ir.Float32, ir.Float64} {
		tol := 1e-6
		if dt == ir.Float64 {
			tol = 1e-13
		}
		for _, tc := range []struct {
			shape []int
			axis  int64
			scale []int
			stat  []int
		}{
			{[]int{3, 4, 8}, -1, []int{8}, []int{3, 4, 1}},
			{[]int{3, 4, 8}, 1, []int{4, 8}, []int{3, 1, 1}},
			{[]int{3, 4, 8}, 1, []int{8}, []int{3, 1, 1}}, // scale broadcast over dim 1
			{[]int{300, 512}, -1, []int{512}, []int{300, 1}},
			{[]int{7}, 0, []int{7}, []int{1}},
		} {
			what := fmt.Sprintf("%v %v axis %d", dt, tc.shape, tc.axis)
			x := memRand(r, dt, tc.shape...)
			scale := memScale(r, dt, tc.scale...)
			const eps = 1e-6
			a := ir.Attrs{"axis": ir.IntAttr(tc.axis), "epsilon": ir.FloatAttr(eps)}
			out := memRun(t, nil, memNode(crscDomain, "RMSNormalization", "rms", a), x, scale)
			axis := int(tc.axis)
			if axis < 0 {
				axis += len(tc.shape)
			}
			y, inv := memRMSRef(x, scale, axis, float64(float32(eps)))
			memClose(t, what+" Y", out[0], &ir.Tensor{DType: ir.Float64, Shape: tc.shape, F64: y}, tol)
			if !slices.Equal(out[1].Shape, tc.stat) || out[1].DType != dt {
				t.Fatalf("%s: inv_rms %v %v, want %v %v", what, out[1].DType, out[1].Shape, dt, tc.stat)
			}
			memClose(t, what+" inv_rms", out[1], &ir.Tensor{DType: ir.Float64, Shape: tc.stat, F64: inv}, tol)
		}
	}
}

func TestRMSNormalizationGradFromOutputFD(t *testing.T) {
	r := rand.New(rand.NewSource(5))
	for _, tc := range []struct {
		shape []int
		axis  int64
		scale []int
	}{
		{[]int{2, 3, 5}, -1, []int{5}},
		{[]int{2, 3, 5}, 1, []int{3, 5}},
		{[]int{2, 3, 5}, 1, []int{5}}, // broadcast scale: dScale summed back
		{[]int{4}, 0, []int{1}},
	} {
		what := fmt.Sprintf("%v axis %d scale %v", tc.shape, tc.axis, tc.scale)
		a := ir.Attrs{"axis": ir.IntAttr(tc.axis), "epsilon": ir.FloatAttr(1e-3)}
		x := memRand(r, ir.Float64, tc.shape...)
		scale := memScale(r, ir.Float64, tc.scale...)
		cot := memRand(r, ir.Float64, tc.shape...)
		fn := memNode(crscDomain, "RMSNormalization", "rms", a)
		fwd := memRun(t, nil, fn, x, scale)
		g := memRun(t, nil, memNode(crscDomain, "RMSNormalizationGradFromOutput", "rmsg", a), cot, fwd[0], scale, fwd[1])
		if len(g) != 2 {
			t.Fatalf("%s: %d outputs, want 2", what, len(g))
		}
		ins := []*ir.Tensor{x, scale}
		rms := func(ins []*ir.Tensor) *ir.Tensor { return memRun(t, nil, fn, ins...)[0] }
		for wrt, grad := range g {
			fdCheck(t, what+" d/d"+[]string{"X", "scale"}[wrt], rms, ins, wrt, cot, grad)
		}
	}
}

func TestMemoryErrors(t *testing.T) {
	r := rand.New(rand.NewSource(6))
	x := memRand(r, ir.Float32, 2, 3)
	s3 := memScale(r, ir.Float32, 3)
	inv2 := memScale(r, ir.Float32, 2, 1)
	fn := ir.Attrs{"forward_node": ir.StringAttr("d")}
	ax5 := ir.Attrs{"axis": ir.IntAttr(5)}
	words := func(n int) *ir.Tensor { return ir.NewTensor(ir.Int32, n) }
	for _, tc := range []struct {
		op  string
		a   ir.Attrs
		ins []*ir.Tensor
		err string
	}{
		{"BitMask", nil, nil, "missing required input 0"},
		{"BitMask", nil, []*ir.Tensor{{DType: ir.Float32, Shape: []int{3}, F32: []float32{1}}}, "holds 1 elements"},
		{"ReluGrad", nil, []*ir.Tensor{x, words(2)}, "bits must be int32 [1]"},
		{"ReluGrad", nil, []*ir.Tensor{x, ir.NewTensor(ir.Int64, 1)}, "bits must be int32"},
		{"ReluGrad", nil, []*ir.Tensor{x}, "missing required input 1"},
		{"ReluGrad", nil, []*ir.Tensor{ir.NewTensor(ir.Int64, 2), words(1)}, "unsupported dtype"},
		{"DropoutMaskGrad", nil, []*ir.Tensor{x, memScalar(ir.Float32, 0.5), memBool(true)}, "forward_node"},
		{"DropoutMaskGrad", fn, []*ir.Tensor{x, memScalar(ir.Float32, 1.5), memBool(true)}, "outside [0, 1]"},
		{"DropoutMaskGrad", fn, []*ir.Tensor{x, memScalar(ir.Float32, 0.5), memScalar(ir.Float32, 1)}, "training_mode must be a bool"},
		{"LayerNormalizationGradFromOutput", nil, []*ir.Tensor{x, memRand(r, ir.Float32, 3, 2), s3, nil, inv2}, "must match Y"},
		{"LayerNormalizationGradFromOutput", ax5, []*ir.Tensor{x, x, s3, nil, inv2}, "axis 5 out of range"},
		{"LayerNormalizationGradFromOutput", nil, []*ir.Tensor{x, x, memScale(r, ir.Float32, 2), nil, inv2}, "scale shape [2] does not broadcast"},
		{"LayerNormalizationGradFromOutput", nil, []*ir.Tensor{x, x, s3, memRand(r, ir.Float32, 4), inv2}, "bias shape [4] does not broadcast"},
		{"LayerNormalizationGradFromOutput", nil, []*ir.Tensor{x, x, s3, nil, memScale(r, ir.Float32, 3)}, "inv_std_dev must be float with 2 elements"},
		{"LayerNormalizationGradFromOutput", nil, []*ir.Tensor{x, x, s3}, "missing required input 4"},
		{"LayerNormalizationGradFromOutput", nil, []*ir.Tensor{x, x, memScale(r, ir.Float64, 3), nil, inv2}, "scale dtype"},
		{"RMSNormalization", ax5, []*ir.Tensor{x, s3}, "axis 5 out of range"},
		{"RMSNormalization", nil, []*ir.Tensor{x, memScale(r, ir.Float32, 2)}, "does not broadcast"},
		{"RMSNormalization", nil, []*ir.Tensor{memScalar(ir.Float32, 1), s3}, "rank >= 1"},
		{"RMSNormalization", nil, []*ir.Tensor{ir.NewTensor(ir.Int64, 2, 3), s3}, "unsupported dtype"},
		{"RMSNormalization", ir.Attrs{"epsilon": ir.FloatAttr(-1)}, []*ir.Tensor{x, s3}, "epsilon"},
		{"RMSNormalizationGradFromOutput", nil, []*ir.Tensor{memRand(r, ir.Float32, 2, 4), x, s3, inv2}, "must match Y"},
		{"RMSNormalizationGradFromOutput", ax5, []*ir.Tensor{x, x, s3, inv2}, "axis 5 out of range"},
		{"RMSNormalizationGradFromOutput", nil, []*ir.Tensor{x, x, s3, memScale(r, ir.Float32, 3)}, "inv_rms must be float with 2 elements"},
		{"RMSNormalizationGradFromOutput", nil, []*ir.Tensor{x, x, s3}, "missing required input 3"},
	} {
		n := memNode(crscDomain, tc.op, "mem_"+tc.op, tc.a)
		_, err := memTry(nil, n, tc.ins...)
		checkNodeErr(t, tc.op, n.Name, tc.ins, err, tc.err)
	}
}

// TestMemoryInfer checks the shape rules against what the kernels return.
func TestMemoryInfer(t *testing.T) {
	g := ir.NewGraph("g", 17)
	x := g.AddInput("x", ir.Float32, ir.StaticShape(2, 3, 40))
	sym := g.AddInput("s", ir.Float32, ir.Shape{ir.Symbol("batch"), ir.Fixed(64)})
	scale := g.AddInput("scale", ir.Float32, ir.StaticShape(40))
	bias := g.AddInput("bias", ir.Float32, ir.StaticShape(1, 40))
	inv := g.AddInput("inv", ir.Float32, ir.StaticShape(2, 3, 1))
	inv1 := g.AddInput("inv1", ir.Float32, ir.StaticShape(2, 1, 1))
	ax1 := ir.Attrs{"axis": ir.IntAttr(1)}
	node := func(op string, ins []*ir.Value, nOut int, a ir.Attrs) *ir.Node {
		n := g.AddNode(op, "", ins, nOut, a)
		n.Domain = crscDomain
		if err := ir.InferNode(n); err != nil {
			t.Fatalf("%s: %v", op, err)
		}
		return n
	}
	want := func(what string, v *ir.Value, dt ir.DType, s string) {
		t.Helper()
		if !v.HasShape || v.DType != dt || v.Shape.String() != s {
			t.Errorf("%s: %v %v (has shape %v), want %v %s", what, v.DType, v.Shape, v.HasShape, dt, s)
		}
	}
	bm := node("BitMask", []*ir.Value{x}, 1, nil)
	want("BitMask", bm.Outputs[0], ir.Int32, "[8]") // 240 elements → 7.5 words
	want("BitMask symbolic", node("BitMask", []*ir.Value{sym}, 1, nil).Outputs[0], ir.Int32, "[?]")
	want("ReluGrad", node("ReluGrad", []*ir.Value{x, bm.Outputs[0]}, 1, nil).Outputs[0], ir.Float32, "[2,3,40]")
	want("DropoutMaskGrad", node("DropoutMaskGrad", []*ir.Value{x}, 1, nil).Outputs[0], ir.Float32, "[2,3,40]")
	rms := node("RMSNormalization", []*ir.Value{x, scale}, 2, ir.Attrs{"axis": ir.IntAttr(1)})
	want("RMSNormalization Y", rms.Outputs[0], ir.Float32, "[2,3,40]")
	want("RMSNormalization inv_rms", rms.Outputs[1], ir.Float32, "[2,1,1]")
	rg := node("RMSNormalizationGradFromOutput", []*ir.Value{x, x, scale, inv}, 2, nil)
	want("RMSNormalizationGradFromOutput dX", rg.Outputs[0], ir.Float32, "[2,3,40]")
	want("RMSNormalizationGradFromOutput dScale", rg.Outputs[1], ir.Float32, "[40]")
	lg := node("LayerNormalizationGradFromOutput", []*ir.Value{x, x, scale, bias, inv1}, 3, ax1)
	want("LN dX", lg.Outputs[0], ir.Float32, "[2,3,40]")
	want("LN dScale", lg.Outputs[1], ir.Float32, "[40]")
	want("LN dBias", lg.Outputs[2], ir.Float32, "[1,40]")
	lg = node("LayerNormalizationGradFromOutput", []*ir.Value{x, x, scale, nil, inv1}, 3, ax1)
	want("LN dBias without bias", lg.Outputs[2], ir.Float32, "[40]")

	// The kernels agree on the same inputs.
	r := rand.New(rand.NewSource(7))
	xt, st, bt := memRand(r, ir.Float32, 2, 3, 40), memScale(r, ir.Float32, 40), memRand(r, ir.Float32, 1, 40)
	if got := memRun(t, nil, memNode(crscDomain, "BitMask", "b", nil), xt)[0]; !slices.Equal(got.Shape, []int{8}) {
		t.Errorf("BitMask kernel shape %v", got.Shape)
	}
	ro := memRun(t, nil, memNode(crscDomain, "RMSNormalization", "r", ir.Attrs{"axis": ir.IntAttr(1)}), xt, st)
	if !slices.Equal(ro[1].Shape, []int{2, 1, 1}) {
		t.Errorf("RMSNormalization kernel inv_rms shape %v", ro[1].Shape)
	}
	ln := memRun(t, nil, memNode("", "LayerNormalization", "ln", ax1), xt, st, bt)
	lo := memRun(t, nil, memNode(crscDomain, "LayerNormalizationGradFromOutput", "l", ax1), xt, ln[0], st, bt, ln[2])
	if !slices.Equal(lo[1].Shape, []int{40}) || !slices.Equal(lo[2].Shape, []int{1, 40}) {
		t.Errorf("LayerNormalizationGradFromOutput kernel shapes %v %v", lo[1].Shape, lo[2].Shape)
	}

	// Errors name the node.
	bad := g.AddNode("ReluGrad", "bad_relu", []*ir.Value{x, g.AddInput("w", ir.Int32, ir.StaticShape(7))}, 1, nil)
	bad.Domain = crscDomain
	if err := ir.InferNode(bad); err == nil || !strings.Contains(err.Error(), "bad_relu") {
		t.Errorf("ReluGrad with 7 words for 240 elements: %v", err)
	}
	bad = g.AddNode("RMSNormalization", "bad_rms", []*ir.Value{x, scale}, 2, ir.Attrs{"axis": ir.IntAttr(3)})
	bad.Domain = crscDomain
	if err := ir.InferNode(bad); err == nil || !strings.Contains(err.Error(), "bad_rms") {
		t.Errorf("RMSNormalization axis 3 of rank 3: %v", err)
	}
}

// dropoutKeep must draw exactly rng's bits (the GPU backend reproduces
// them): every offset, odd lengths, both halves of a 64-bit block index.
func TestDropoutKeepMatchesRng(t *testing.T) {
	for _, c := range []struct {
		seed, step, stream uint64
		lo, n              int
		ratio              float32
	}{
		{0, 0, 0, 0, 1, 0.5},
		{7, 3, rng.StreamOf("drop"), 0, 1027, 0.1},
		{1 << 40, 1<<33 + 5, rng.StreamOf("x"), 4 << 20, 9, 0.9},
		{^uint64(0), ^uint64(0), ^uint64(0), 1 << 34, 64, 0.3},
		{42, 1, 2, 8, 13, 1},
		{42, 1, 2, 8, 13, 0},
	} {
		keep := make([]bool, c.n)
		dropoutKeep(keep, c.seed, c.step, c.stream, c.lo, c.ratio)
		for j, k := range keep {
			if want := rng.Uniform(c.seed, c.step, c.stream, uint64(c.lo+j)) >= c.ratio; k != want {
				t.Fatalf("%+v: keep[%d] = %v, want %v", c, j, k, want)
			}
		}
	}
}
