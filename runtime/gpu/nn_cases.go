package gpu

import (
	"math"
	"math/rand"

	"crsc/compiler/ir"
)

// Check cases of the nnKernels: small shapes (at most a few thousand
// elements, so the emulator stays fast), random inputs from fixed seeds,
// and the edge cases each CPU kernel treats specially. Float tolerances are
// relative (see Case.Tol); 0 demands bit-identical floats, as Dropout
// and the sampled rows must be.

// nnNode builds a single node. outs lists its declared outputs: "" is a
// nil entry (an output the graph does not read); no outs leaves Outputs
// empty, which kernels read as "every output".
func nnNode(name, domain, op string, attrs ir.Attrs, outs ...string) *ir.Node {
	if attrs == nil {
		attrs = ir.Attrs{}
	}
	n := &ir.Node{Name: name, Op: op, Domain: domain, Attrs: attrs}
	for _, o := range outs {
		if o == "" {
			n.Outputs = append(n.Outputs, nil)
			continue
		}
		n.Outputs = append(n.Outputs, &ir.Value{Name: o})
	}
	return n
}

// nnRandF32 is a float32 tensor of uniform values in [lo, hi).
func nnRandF32(r *rand.Rand, lo, hi float64, shape ...int) *ir.Tensor {
	v := make([]float32, ir.NumElements(shape))
	for i := range v {
		v[i] = float32(lo + (hi-lo)*r.Float64())
	}
	return ir.FromFloat32(shape, v)
}

// nnInts is an int64 tensor.
func nnInts(shape []int, v ...int64) *ir.Tensor { return ir.FromInt64(shape, v) }

// nnBoolScalar is a bool scalar (Dropout's training_mode).
func nnBoolScalar(b bool) *ir.Tensor {
	return &ir.Tensor{DType: ir.Bool, Shape: []int{}, Bool: []bool{b}}
}

// nnCrsc is crsc's op domain.
const nnCrsc = "ai.crsc"

func nnSoftmaxCases() []Case {
	r := rand.New(rand.NewSource(1))
	neg := nnRandF32(r, -3, 3, 3, 9)
	for i := range neg.F32 {
		neg.F32[i] -= 1e4 // large negative rows: only the max subtraction keeps exp finite
	}
	neg.F32[4] = float32(math.Inf(-1))
	op13 := ir.Attrs{"_opset": ir.IntAttr(11), "axis": ir.IntAttr(1)}
	return []Case{
		{"Softmax/rows", nnNode("sm", "", "Softmax", nil), []*ir.Tensor{nnRandF32(r, -5, 5, 4, 37)}, 1e-6},
		{"Softmax/long_rows", nnNode("sm", "", "Softmax", nil), []*ir.Tensor{nnRandF32(r, -8, 8, 2, 300)}, 1e-6},
		{"Softmax/row_len_1", nnNode("sm", "", "Softmax", nil), []*ir.Tensor{nnRandF32(r, -5, 5, 6, 1)}, 1e-6},
		{"Softmax/large_negative", nnNode("sm", "", "Softmax", nil), []*ir.Tensor{neg}, 1e-6},
		{"Softmax/axis1_strided", nnNode("sm", "", "Softmax", ir.Attrs{"axis": ir.IntAttr(1)}),
			[]*ir.Tensor{nnRandF32(r, -5, 5, 2, 5, 3)}, 1e-6},
		{"Softmax/opset11_coerced", nnNode("sm", "", "Softmax", op13), []*ir.Tensor{nnRandF32(r, -5, 5, 2, 3, 4)}, 1e-6},
		{"Softmax/scalar", nnNode("sm", "", "Softmax", nil), []*ir.Tensor{ir.FromFloat32(nil, []float32{3})}, 1e-6},
		{"LogSoftmax/rows", nnNode("lsm", "", "LogSoftmax", nil), []*ir.Tensor{nnRandF32(r, -20, 20, 3, 50)}, 1e-5},
		{"LogSoftmax/axis0", nnNode("lsm", "", "LogSoftmax", ir.Attrs{"axis": ir.IntAttr(0)}),
			[]*ir.Tensor{nnRandF32(r, -5, 5, 4, 3)}, 1e-5},
		{"LogSoftmax/large_negative", nnNode("lsm", "", "LogSoftmax", nil), []*ir.Tensor{neg}, 1e-5},
	}
}

func nnNormCases() []Case {
	r := rand.New(rand.NewSource(2))
	x := nnRandF32(r, -3, 5, 3, 4, 40)
	scale, bias := nnRandF32(r, 0.5, 1.5, 40), nnRandF32(r, -1, 1, 40)
	eps := ir.Attrs{"epsilon": ir.FloatAttr(1e-6)}
	return []Case{
		{"LayerNorm/bias_3_outputs", nnNode("ln", "", "LayerNormalization", nil), []*ir.Tensor{x, scale, bias}, 1e-5},
		{"LayerNorm/axis1_no_bias_1_output", nnNode("ln", "", "LayerNormalization", ir.Attrs{"axis": ir.IntAttr(1)}, "y"),
			[]*ir.Tensor{nnRandF32(r, -2, 2, 2, 3, 5), nnRandF32(r, 0.5, 1.5, 3, 5)}, 1e-5},
		{"LayerNorm/fused_crsc", nnNode("ln", nnCrsc, "LayerNormalization", eps, "y", "mean", "inv"),
			[]*ir.Tensor{nnRandF32(r, -2, 2, 8, 300), nnRandF32(r, 0.5, 1.5, 300), nnRandF32(r, -1, 1, 300)}, 1e-5},
		{"LayerNorm/row_len_1", nnNode("ln", "", "LayerNormalization", nil), []*ir.Tensor{nnRandF32(r, -2, 2, 5, 1),
			nnRandF32(r, 0.5, 1.5, 1), nnRandF32(r, -1, 1, 1)}, 1e-5},
		// A scale the CPU broadcasts first runs there (Case: "falls back").
		{"LayerNorm/broadcast scale falls back", nnNode("ln", "", "LayerNormalization", ir.Attrs{"axis": ir.IntAttr(1)}),
			[]*ir.Tensor{nnRandF32(r, -2, 2, 2, 3, 5), nnRandF32(r, 0.5, 1.5, 1, 5)}, 1e-5},
		{"RMSNorm/2_outputs", nnNode("rms", nnCrsc, "RMSNormalization", eps), []*ir.Tensor{nnRandF32(r, -3, 3, 4, 64),
			nnRandF32(r, 0.5, 1.5, 64)}, 1e-5},
		{"RMSNorm/empty_rows", nnNode("rms", nnCrsc, "RMSNormalization", nil), []*ir.Tensor{ir.NewTensor(ir.Float32, 3, 0),
			ir.NewTensor(ir.Float32, 0)}, 1e-5},
		{"LayerNorm/empty_rows", nnNode("ln", "", "LayerNormalization", nil), []*ir.Tensor{ir.NewTensor(ir.Float32, 3, 0),
			ir.NewTensor(ir.Float32, 0)}, 1e-5},
		{"RMSNorm/1_output_axis0", nnNode("rms", nnCrsc, "RMSNormalization", ir.Attrs{"axis": ir.IntAttr(0)}, "y"),
			[]*ir.Tensor{nnRandF32(r, -3, 3, 3, 7), nnRandF32(r, 0.5, 1.5, 3, 7)}, 1e-5},
	}
}

func nnNormGradCases() []Case {
	r := rand.New(rand.NewSource(3))
	lnGrad := func(outer, d int) []*ir.Tensor {
		return []*ir.Tensor{nnRandF32(r, -1, 1, outer, d), nnRandF32(r, -2, 2, outer, d), nnRandF32(r, 0.5, 1.5, d),
			nnRandF32(r, -0.2, 0.2, outer, 1), nnRandF32(r, 0.5, 2, outer, 1)}
	}
	// FromOutput inputs: dY, Y, scale (one exact zero: xhat unrecoverable
	// there, and both backends take it as 0), bias, inv_std_dev.
	scale := nnRandF32(r, 0.5, 1.5, 24)
	scale.F32[5] = 0
	fromY := []*ir.Tensor{nnRandF32(r, -1, 1, 70, 24), nnRandF32(r, -2, 2, 70, 24), scale,
		nnRandF32(r, -0.5, 0.5, 24), nnRandF32(r, 0.5, 2, 70, 1)}
	rmsIns := []*ir.Tensor{fromY[0], fromY[1], fromY[2], fromY[4]}
	return []Case{
		{"LayerNormGrad/all", nnNode("lng", nnCrsc, "LayerNormalizationGrad", nil), lnGrad(5, 24), 1e-5},
		// 70 rows: more than the 64 row blocks of the column sums.
		{"LayerNormGrad/70_rows", nnNode("lng", nnCrsc, "LayerNormalizationGrad", nil), lnGrad(70, 8), 1e-5},
		{"LayerNormGrad/dx_only", nnNode("lng", nnCrsc, "LayerNormalizationGrad", nil, "dx", "", ""), lnGrad(6, 33), 1e-5},
		{"LayerNormGrad/dscale_only", nnNode("lng", nnCrsc, "LayerNormalizationGrad", nil, "", "ds"), lnGrad(6, 33), 1e-5},
		{"LNGradFromOutput/bias", nnNode("lngy", nnCrsc, "LayerNormalizationGradFromOutput", nil), fromY, 1e-5},
		{"LNGradFromOutput/no_bias", nnNode("lngy", nnCrsc, "LayerNormalizationGradFromOutput", nil),
			[]*ir.Tensor{fromY[0], fromY[1], fromY[2], nil, fromY[4]}, 1e-5},
		{"RMSGradFromOutput/all", nnNode("rmsg", nnCrsc, "RMSNormalizationGradFromOutput", nil), rmsIns, 1e-5},
		{"RMSGradFromOutput/dscale_only", nnNode("rmsg", nnCrsc, "RMSNormalizationGradFromOutput", nil, "", "ds"), rmsIns, 1e-5},
	}
}

func nnGeluCases() []Case {
	r := rand.New(rand.NewSource(4))
	x := nnRandF32(r, -6, 6, 40, 50)
	x.F32[0], x.F32[1], x.F32[2] = 0, -10, 10
	return []Case{
		{"Gelu/microsoft", nnNode("gelu", "com.microsoft", "Gelu", nil), []*ir.Tensor{x}, 1e-6},
		{"Gelu/onnx_none", nnNode("gelu", "", "Gelu", nil), []*ir.Tensor{x}, 1e-6},
		{"Gelu/tanh falls back", nnNode("gelu", "", "Gelu", ir.Attrs{"approximate": ir.StringAttr("tanh")}), []*ir.Tensor{x}, 1e-6},
		{"GeluGrad", nnNode("gelug", nnCrsc, "GeluGrad", nil), []*ir.Tensor{nnRandF32(r, -1, 1, 40, 50), x}, 1e-6},
	}
}

func nnDropoutCases() []Case {
	r := rand.New(rand.NewSource(5))
	x := nnRandF32(r, -2, 2, 3, 1000)
	ratio := func(v float32) *ir.Tensor { return ir.FromFloat32(nil, []float32{v}) }
	on, off := nnBoolScalar(true), nnBoolScalar(false)
	mask := &ir.Tensor{DType: ir.Bool, Shape: x.Shape, Bool: make([]bool, x.Len())}
	for i := range mask.Bool {
		mask.Bool[i] = r.Intn(4) != 0
	}
	dy := nnRandF32(r, -1, 1, 3, 1000)
	old := ir.Attrs{"ratio": ir.FloatAttr(0.4)}
	fwd := ir.Attrs{"forward_node": ir.StringAttr("drop")}
	// Tolerance 0: masks, and x·scale, must be bit-identical.
	return []Case{
		{"Dropout/train", nnNode("drop", "", "Dropout", nil), []*ir.Tensor{x, ratio(0.3), on}, 0},
		{"Dropout/train_output_only", nnNode("drop", "", "Dropout", nil, "y"), []*ir.Tensor{x, ratio(0.3), on}, 0},
		{"Dropout/ratio_0", nnNode("drop", "", "Dropout", nil), []*ir.Tensor{x, ratio(0), on}, 0},
		{"Dropout/ratio_1", nnNode("drop", "", "Dropout", nil), []*ir.Tensor{x, ratio(1), on}, 0},
		{"Dropout/training_off", nnNode("drop", "", "Dropout", nil), []*ir.Tensor{x, ratio(0.3), off}, 0},
		{"Dropout/no_training_input", nnNode("drop", "", "Dropout", nil), []*ir.Tensor{x}, 0},
		{"Dropout/ratio_attribute", nnNode("drop2", "", "Dropout", old), []*ir.Tensor{x, nil, on}, 0},
		{"DropoutGrad/train", nnNode("dg", nnCrsc, "DropoutGrad", nil), []*ir.Tensor{dy, mask, ratio(0.25), on}, 0},
		{"DropoutGrad/identity", nnNode("dg", nnCrsc, "DropoutGrad", nil), []*ir.Tensor{dy, mask, ratio(0.25), off}, 0},
		{"DropoutMaskGrad/train", nnNode("dmg", nnCrsc, "DropoutMaskGrad", fwd), []*ir.Tensor{dy, ratio(0.3), on}, 0},
		{"DropoutMaskGrad/ratio_0", nnNode("dmg", nnCrsc, "DropoutMaskGrad", fwd), []*ir.Tensor{dy, ratio(0), on}, 0},
		{"DropoutMaskGrad/training_off", nnNode("dmg", nnCrsc, "DropoutMaskGrad", fwd), []*ir.Tensor{dy, ratio(0.3)}, 0},
	}
}

func nnMaskCases() []Case {
	r := rand.New(rand.NewSource(6))
	x := nnRandF32(r, -1, 1, 7, 10) // 70 elements: a partial last word
	x.F32[3], x.F32[4], x.F32[5] = float32(math.NaN()), float32(math.Copysign(0, -1)), 0
	i64 := make([]int64, 45)
	i32 := make([]int32, 33)
	bools := make([]bool, 40)
	for i := range i64 {
		i64[i] = int64(r.Intn(5) - 2)
	}
	for i := range i32 {
		i32[i] = int32(r.Intn(5) - 2)
	}
	for i := range bools {
		bools[i] = r.Intn(2) == 0
	}
	dy := nnRandF32(r, -1, 1, 7, 10)
	dy.F32[0] = float32(math.Copysign(0, -1))
	words := make([]int32, 3)
	for i := range words {
		words[i] = int32(r.Uint32()) // stray high bits in the last word: ignored
	}
	return []Case{
		{"BitMask/f32", nnNode("bm", nnCrsc, "BitMask", nil), []*ir.Tensor{x}, 0},
		{"BitMask/i64", nnNode("bm", nnCrsc, "BitMask", nil), []*ir.Tensor{ir.FromInt64([]int{5, 9}, i64)}, 0},
		{"BitMask/i32", nnNode("bm", nnCrsc, "BitMask", nil), []*ir.Tensor{{DType: ir.Int32, Shape: []int{33}, I32: i32}}, 0},
		{"BitMask/bool", nnNode("bm", nnCrsc, "BitMask", nil), []*ir.Tensor{{DType: ir.Bool, Shape: []int{4, 10}, Bool: bools}}, 0},
		{"ReluGrad", nnNode("rg", nnCrsc, "ReluGrad", nil), []*ir.Tensor{dy, {DType: ir.Int32, Shape: []int{3}, I32: words}}, 0},
	}
}

func nnLossCases() []Case {
	r := rand.New(rand.NewSource(7))
	scores := nnRandF32(r, -4, 4, 6, 5)
	labels := nnInts([]int{6}, 0, 4, 2, 2, 1, 3)
	ignored := nnInts([]int{6}, 0, -100, 2, -100, 1, 3)
	allIgnored := nnInts([]int{6}, -100, -100, -100, -100, -100, -100)
	weights := nnRandF32(r, 0.5, 2, 5)
	scores3 := nnRandF32(r, -4, 4, 2, 4, 3)
	labels3 := nnInts([]int{2, 3}, 0, 3, 1, 2, 2, 0)
	ign := func(red string) ir.Attrs {
		return ir.Attrs{"ignore_index": ir.IntAttr(-100), "reduction": ir.StringAttr(red)}
	}
	sce := func(a ir.Attrs, outs ...string) *ir.Node {
		return nnNode("sce", "", "SoftmaxCrossEntropyLoss", a, outs...)
	}
	grad := func(a ir.Attrs) *ir.Node { return nnNode("sceg", nnCrsc, "SoftmaxCrossEntropyLossGrad", a) }
	logp := nnRandF32(r, -4, -0.1, 6, 5) // any log_prob values exercise the formula
	logp3 := nnRandF32(r, -4, -0.1, 2, 4, 3)
	scalar := func(v float32) *ir.Tensor { return ir.FromFloat32(nil, []float32{v}) }
	return []Case{
		{"SCE/mean", sce(nil), []*ir.Tensor{scores, labels}, 1e-5},
		{"SCE/mean_loss_only", sce(nil, "loss"), []*ir.Tensor{scores, labels}, 1e-5},
		{"SCE/ignore_index_mean", sce(ign("mean")), []*ir.Tensor{scores, ignored}, 1e-5},
		{"SCE/all_ignored_mean", sce(ign("mean")), []*ir.Tensor{scores, allIgnored}, 1e-5},
		{"SCE/weights_ignore_sum", sce(ign("sum")), []*ir.Tensor{scores, ignored, weights}, 1e-5},
		{"SCE/weights_mean", sce(nil), []*ir.Tensor{scores, labels, weights}, 1e-5},
		{"SCE/none_extra_dim", sce(ign("none")), []*ir.Tensor{scores3, labels3}, 1e-5},
		{"SCEGrad/mean", grad(nil), []*ir.Tensor{scalar(1), logp, labels}, 1e-5},
		{"SCEGrad/ignore_weights_mean", grad(ign("mean")), []*ir.Tensor{scalar(0.5), logp, ignored, weights}, 1e-5},
		{"SCEGrad/all_ignored_mean", grad(ign("mean")), []*ir.Tensor{scalar(1), logp, allIgnored}, 1e-5},
		{"SCEGrad/sum", grad(ign("sum")), []*ir.Tensor{scalar(2), logp, ignored}, 1e-5},
		{"SCEGrad/none_extra_dim", grad(ign("none")), []*ir.Tensor{nnRandF32(r, -1, 1, 2, 3), logp3, labels3}, 1e-5},
	}
}

func nnGradCases() []Case {
	r := rand.New(rand.NewSource(8))
	shape := func(d ...int64) *ir.Tensor { return nnInts([]int{len(d)}, d...) }
	sumTo := nnNode("st", nnCrsc, "SumTo", nil)
	gg := func(axis int64) *ir.Node {
		return nnNode("gg", nnCrsc, "GatherGrad", ir.Attrs{"axis": ir.IntAttr(axis)})
	}
	return []Case{
		{"SumTo/leading", sumTo, []*ir.Tensor{nnRandF32(r, -1, 1, 6, 8), shape(8)}, 1e-6},
		{"SumTo/keepdims_middle", sumTo, []*ir.Tensor{nnRandF32(r, -1, 1, 4, 3, 5), shape(3, 1)}, 1e-6},
		{"SumTo/mixed", sumTo, []*ir.Tensor{nnRandF32(r, -1, 1, 2, 1, 3, 4), shape(1, 3, 1)}, 1e-6},
		{"SumTo/scalar", sumTo, []*ir.Tensor{nnRandF32(r, -1, 1, 7, 9), shape()}, 1e-6},
		{"SumTo/same_shape", sumTo, []*ir.Tensor{nnRandF32(r, -1, 1, 2, 3), shape(2, 3)}, 0},
		{"SumTo/long_reduction", sumTo, []*ir.Tensor{nnRandF32(r, -1, 1, 300, 4), shape(1, 4)}, 1e-6},
		{"SliceGrad/inputs", nnNode("sg", nnCrsc, "SliceGrad", nil), []*ir.Tensor{nnRandF32(r, -1, 1, 2, 2, 3),
			shape(4, 5, 6), shape(1, 0, 5), shape(3, 100, -7), nil, shape(1, 3, -2)}, 0},
		{"SliceGrad/attrs_axes", nnNode("sg", nnCrsc, "SliceGrad", ir.Attrs{"starts": ir.IntsAttr(-3),
			"ends": ir.IntsAttr(1000), "axes": ir.IntsAttr(-1)}), []*ir.Tensor{nnInts([]int{2, 3}, 1, 2, 3, 4, 5, 6),
			shape(2, 5)}, 0},
		{"SliceGrad/empty", nnNode("sg", nnCrsc, "SliceGrad", nil), []*ir.Tensor{nnRandF32(r, -1, 1, 0, 4),
			shape(3, 4), shape(2), shape(2)}, 0},
		// Indices 1 and -5 (= 1) repeat: their rows accumulate.
		{"GatherGrad/axis0_duplicates", gg(0), []*ir.Tensor{nnRandF32(r, -1, 1, 5, 4), nnInts([]int{5}, 1, 3, 1, 0, -5),
			shape(6, 4)}, 1e-6},
		{"GatherGrad/axis1", gg(1), []*ir.Tensor{nnRandF32(r, -1, 1, 2, 2, 2, 3), nnInts([]int{2, 2}, 6, 0, 6, 6),
			shape(2, 7, 3)}, 1e-6},
		{"GatherGrad/embedding", gg(0), []*ir.Tensor{nnRandF32(r, -1, 1, 3, 8, 16),
			nnInts([]int{3, 8}, 0, 5, 5, 9, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 9, 9, 9, 1, 1, 2, 3, 0), shape(12, 16)}, 1e-6},
	}
}

func nnSampleCases() []Case {
	r := rand.New(rand.NewSource(9))
	x := nnRandF32(r, -1, 1, 2, 40, 8)
	// Rows of very different norms, so WTA picks some deterministic winners.
	for i := 0; i < 40; i += 7 {
		for j := 0; j < 8; j++ {
			x.F32[i*8+j] *= 20
		}
	}
	gnorm := nnRandF32(r, 0, 3, 2, 40)
	gnorm.F32[3] = 0
	sample := func(keep float32, minRows int64, est string, outs ...string) *ir.Node {
		return nnNode("sample", nnCrsc, "SampleRows", ir.Attrs{"keep": ir.FloatAttr(keep),
			"min_rows": ir.IntAttr(minRows), "estimator": ir.StringAttr(est)}, outs...)
	}
	mask := ir.FromInt64([]int{2, 40}, make([]int64, 80)) // padding: the last 9 and 25 rows
	for i := range mask.I64 {
		if i%40 < []int{31, 15}[i/40] {
			mask.I64[i] = 1
		}
	}
	zeros := ir.NewTensor(ir.Float32, 1, 30, 4) // all-zero rows: nothing to sample
	idx := nnInts([]int{2, 5}, 0, 39, 7, 7, 12, 3, 3, 3, 0, 38)
	idx32 := &ir.Tensor{DType: ir.Int32, Shape: []int{2, 3}, I32: []int32{1, 0, 39, 5, 5, 2}}
	xi := ir.FromInt64([]int{2, 40, 3}, make([]int64, 240))
	for i := range xi.I64 {
		xi.I64[i] = int64(i * 7)
	}
	// Tolerance 0: the same rows, scaled by the same float64 weights.
	return []Case{
		{"SampleRows/wta", sample(0.25, 4, "wta"), []*ir.Tensor{x}, 0},
		{"SampleRows/wta_gnorm", sample(0.3, 4, "wta"), []*ir.Tensor{x, gnorm}, 0},
		{"SampleRows/wta_gnorm_mask", sample(0.3, 4, "wta"), []*ir.Tensor{x, gnorm, mask}, 0},
		{"SampleRows/crs", sample(0.25, 4, "crs"), []*ir.Tensor{x}, 0},
		{"SampleRows/topk", sample(0.25, 4, "topk"), []*ir.Tensor{x}, 0},
		{"SampleRows/min_rows", sample(0.05, 15, "wta"), []*ir.Tensor{x}, 0},
		{"SampleRows/keep_1_exact", sample(1, 10, "wta"), []*ir.Tensor{x}, 0},
		{"SampleRows/exact_estimator", sample(0.1, 1, "exact"), []*ir.Tensor{x}, 0},
		{"SampleRows/xs_only", sample(0.25, 4, "wta", "xs"), []*ir.Tensor{x}, 0},
		{"SampleRows/zero_rows", sample(0.2, 2, "crs"), []*ir.Tensor{zeros}, 0},
		{"RowNorms", nnNode("rn", nnCrsc, "RowNorms", nil), []*ir.Tensor{x}, 0},
		{"GatherRows/f32", nnNode("gr", nnCrsc, "GatherRows", nil), []*ir.Tensor{x, idx}, 0},
		{"GatherRows/i64_idx32", nnNode("gr", nnCrsc, "GatherRows", nil), []*ir.Tensor{xi, idx32}, 0},
	}
}

// nnErrorCases are inputs the CPU kernels reject: the GPU kernels must
// hand them to the CPU (errFallback) so that the backend reports the very
// same error. Tol is unused.
func nnErrorCases() []Case {
	r := rand.New(rand.NewSource(10))
	shape := func(d ...int64) *ir.Tensor { return nnInts([]int{len(d)}, d...) }
	negGnorm := make([]float32, 20)
	negGnorm[7] = -1
	return []Case{
		{"SCE/label_out_of_range", nnNode("sce", "", "SoftmaxCrossEntropyLoss", nil),
			[]*ir.Tensor{nnRandF32(r, -1, 1, 3, 5), nnInts([]int{3}, 0, 5, 1)}, 0},
		{"SCEGrad/negative_label", nnNode("sceg", nnCrsc, "SoftmaxCrossEntropyLossGrad", nil),
			[]*ir.Tensor{ir.FromFloat32(nil, []float32{1}), nnRandF32(r, -2, -1, 3, 5), nnInts([]int{3}, 0, -1, 1)}, 0},
		{"GatherGrad/index_out_of_range", nnNode("gg", nnCrsc, "GatherGrad", nil),
			[]*ir.Tensor{nnRandF32(r, -1, 1, 2, 4), nnInts([]int{2}, 0, 6), shape(6, 4)}, 0},
		{"GatherRows/index_out_of_range", nnNode("gr", nnCrsc, "GatherRows", nil),
			[]*ir.Tensor{nnRandF32(r, -1, 1, 2, 40, 3), nnInts([]int{2, 1}, 0, 40)}, 0},
		{"SumTo/not_broadcastable", nnNode("st", nnCrsc, "SumTo", nil),
			[]*ir.Tensor{nnRandF32(r, -1, 1, 4, 3), shape(2, 3)}, 0},
		{"Dropout/ratio_above_1", nnNode("drop", "", "Dropout", nil),
			[]*ir.Tensor{nnRandF32(r, -1, 1, 8), ir.FromFloat32(nil, []float32{1.5}), nnBoolScalar(true)}, 0},
		{"SampleRows/negative_gnorm", nnNode("sample", nnCrsc, "SampleRows", ir.Attrs{"keep": ir.FloatAttr(0.5)}),
			[]*ir.Tensor{nnRandF32(r, -1, 1, 20, 3), ir.FromFloat32([]int{20}, negGnorm)}, 0},
		{"LayerNorm/bad_axis", nnNode("ln", "", "LayerNormalization", ir.Attrs{"axis": ir.IntAttr(3)}),
			[]*ir.Tensor{nnRandF32(r, -1, 1, 2, 4), nnRandF32(r, -1, 1, 4)}, 0},
	}
}
