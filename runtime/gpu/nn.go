package gpu

import (
	"slices"

	"crsc/compiler/ir"
	"crsc/runtime/cuda"
	"crsc/runtime/rng"
	"crsc/runtime/shapes"
)

// The neural-network ops on the GPU: Softmax, LogSoftmax, the layer and
// RMS norms, GELU, Dropout, the 1-bit ReLU masks and the cross-entropy
// loss. Each kernel takes only the common float32 path and returns
// errFallback for anything else (other dtypes, broadcast parameters,
// malformed inputs): the CPU kernel then runs and produces the same
// results, or the same error, as the CPU backend.

var (
	nnSrc     = newSource("nn.cu", "fastmath.cuh")
	nnElemSrc = newSource("nn_elem.cu", "fastmath.cuh")
)

// nnRowBlock is the block size of the one-block-per-row kernels for rows
// of d elements: a power of two (their reductions halve it) of at most
// NN_BLOCK = 256, no larger than d needs, so that short rows do not idle
// most of a block.
func nnRowBlock(d int) cuda.Dim3 {
	b := 32
	for b < d && b < 256 {
		b *= 2
	}
	return cuda.Dim3{X: uint32(b), Y: 1, Z: 1}
}

// nnRows launches a row kernel of nnSrc over rows rows of d elements.
func nnRows(c *ctx, name string, rows, d int, args ...any) error {
	if rows == 0 {
		return nil
	}
	return c.launchGrid(nnSrc, name, cuda.Dim3{X: uint32(rows), Y: 1, Z: 1}, nnRowBlock(d), 0, args...)
}

// nnAllF32 reports whether every non-nil t is a Float32 tensor with data
// (device or host): the only dtype these kernels handle.
func nnAllF32(ts ...*ir.Tensor) bool {
	for _, t := range ts {
		if t != nil && (t.DType != ir.Float32 || t.Abstract) {
			return false
		}
	}
	return true
}

// nnOnDevice uploads every non-nil t (in place in ts).
func nnOnDevice(c *ctx, ts ...**ir.Tensor) error {
	for _, p := range ts {
		d, err := c.device(*p)
		if err != nil {
			return err
		}
		*p = d
	}
	return nil
}

// nnPtr is c.ptr, or 0 for an absent tensor (kernels test for null).
func nnPtr(c *ctx, t *ir.Tensor) cuda.Ptr {
	if t == nil {
		return 0
	}
	return c.ptr(t)
}

// nnNumOuts is how many of total outputs the node declares, as runtime/cpu
// trimOutputs counts them: all when it lists none (a node built by hand).
func nnNumOuts(n *ir.Node, total int) int {
	if k := len(n.Outputs); k > 0 && k < total {
		return k
	}
	return total
}

// nnWant reports whether output i is read (runtime/cpu gradWantOutput): a
// nil n.Outputs entry, or one past its end, is not.
func nnWant(n *ir.Node, i int) bool {
	if len(n.Outputs) == 0 {
		return true
	}
	return i < len(n.Outputs) && n.Outputs[i] != nil
}

// nnUpload copies host tensor h into a new scratch device tensor, for
// per-call tables the host computes (indices, weights): unlike c.device it
// is freed right after use instead of living until the end of the run.
func nnUpload(c *ctx, h *ir.Tensor) (*ir.Tensor, func(), error) {
	d, free, err := c.scratch(h.DType, h.Shape)
	if err != nil {
		return nil, nil, err
	}
	if err := c.b.mem.copyIn(d, h); err != nil {
		free()
		return nil, nil, err
	}
	return d, free, nil
}

// nnFreeAll runs the deferred frees of scratch tensors.
type nnFreeAll []func()

func (f *nnFreeAll) add(fn func()) { *f = append(*f, fn) }

func (f *nnFreeAll) run() {
	for _, fn := range *f {
		fn()
	}
}

// outOrScratch allocates a node output when the node declares it, else a
// scratch tensor freed with frees: the kernel writes it either way.
func (f *nnFreeAll) outOrScratch(c *ctx, declared bool, dt ir.DType, shape []int) (*ir.Tensor, error) {
	if declared {
		return c.out(dt, shape)
	}
	t, free, err := c.scratch(dt, shape)
	if free != nil {
		f.add(free)
	}
	return t, err
}

// nnRelease drops outputs allocated before a kernel failed (nil ones are
// skipped).
func nnRelease(c *ctx, ts ...*ir.Tensor) { c.b.releaseAll(ts) }

// ---- Softmax, LogSoftmax ----

// nnSoftmax is runtime/cpu softmaxKernel for float32: opset ≥ 13 softmaxes
// one axis (default -1), older opsets the input coerced to 2-D at axis
// (default 1). Rows with inner == 1 take the CPU's softmaxRows32 path
// (exp32) unless logOut.
func nnSoftmax(logOut bool) kernel {
	return func(c *ctx, n *ir.Node, ins []*ir.Tensor) ([]*ir.Tensor, error) {
		x := input(ins, 0)
		if x == nil || !nnAllF32(x) {
			return nil, errFallback
		}
		var outer, dim, inner int
		var err error
		if n.Attrs.Int("_opset", 13) >= 13 {
			outer, dim, inner, err = shapes.Softmax(x.Shape, n.Attrs.Int("axis", -1), false)
		} else {
			outer, dim, inner, err = shapes.Softmax(x.Shape, n.Attrs.Int("axis", 1), true)
		}
		if err != nil {
			return nil, errFallback
		}
		if err := nnOnDevice(c, &x); err != nil {
			return nil, err
		}
		out, err := c.out(ir.Float32, x.Shape)
		if err != nil {
			return nil, err
		}
		if err := nnSoftmaxLaunch(c, x, out, outer, dim, inner, logOut); err != nil {
			nnRelease(c, out)
			return nil, err
		}
		return []*ir.Tensor{out}, nil
	}
}

// nnSoftmaxLaunch runs softmax_f32 over the outer·inner vectors of dim
// elements (stride inner) of device tensor x into y.
func nnSoftmaxLaunch(c *ctx, x, y *ir.Tensor, outer, dim, inner int, logOut bool) error {
	if outer*dim*inner == 0 {
		return nil
	}
	mode := int32(1)
	switch {
	case logOut:
		mode = 2
	case inner == 1:
		mode = 0
	}
	return nnRows(c, "softmax_f32", outer*inner, dim, c.ptr(x), c.ptr(y), int64(dim), int64(inner), mode)
}

// ---- LayerNormalization, RMSNormalization ----

// nnNormLayout is runtime/cpu normLayout: X as outer rows of d elements
// from axis on; ok is false where the CPU fails.
func nnNormLayout(n *ir.Node, x *ir.Tensor) (axis, outer, d int, ok bool) {
	p, err := shapes.NormLayout(x.Shape, n.Attrs.Int("axis", -1))
	return p.Axis, p.Outer, p.D, err == nil
}

// nnPlainParam reports whether a scale or bias t (nil: absent) applies
// to the d normalized elements as is. One that the CPU broadcasts first
// (fewer elements) goes to the CPU, which also rejects bad shapes.
func nnPlainParam(t *ir.Tensor, d, normRank int) bool {
	return t == nil || (t.DType == ir.Float32 && t.Len() == d && len(t.Shape) <= normRank)
}

// nnLayerNorm is runtime/cpu layerNormKernel (LayerNormalization, also
// ai.crsc's fused spelling) for float32 with unbroadcast scale and bias:
// outputs Y and, when declared, Mean and InvStdDev.
func nnLayerNorm(c *ctx, n *ir.Node, ins []*ir.Tensor) ([]*ir.Tensor, error) {
	x, scale, bias := input(ins, 0), input(ins, 1), input(ins, 2)
	if x == nil || scale == nil || !nnAllF32(x) {
		return nil, errFallback
	}
	axis, outer, d, ok := nnNormLayout(n, x)
	if !ok || !nnPlainParam(scale, d, len(x.Shape)-axis) || !nnPlainParam(bias, d, len(x.Shape)-axis) {
		return nil, errFallback
	}
	if err := nnOnDevice(c, &x, &scale, &bias); err != nil {
		return nil, err
	}
	eps := n.Attrs.Float("epsilon", 1e-5)
	stat := shapes.StatShape(x.Shape, axis)
	// Outputs in order; Mean and InvStdDev go to scratch when not declared
	// (or declared as a hole, as the memory rewrites leave Mean: it must not
	// take InvStdDev's planned slot, which has the same shape).
	k := nnNumOuts(n, 3)
	outs := make([]*ir.Tensor, 3)
	var frees nnFreeAll
	defer frees.run()
	declared := func(i int) bool { return i < k && (i >= len(n.Outputs) || n.Outputs[i] != nil) }
	for i := range outs {
		shape, dt := stat, ir.Float32
		if i == 0 {
			shape = x.Shape
		}
		t, err := frees.outOrScratch(c, declared(i), dt, shape)
		if err != nil {
			nnRelease(c, outs[:min(i, k)]...)
			return nil, err
		}
		outs[i] = t
	}
	hasBias := int32(0)
	if bias != nil {
		hasBias = 1
	}
	err := nnRows(c, "layer_norm_f32", outer, d, c.ptr(x), c.ptr(scale), nnPtr(c, bias), hasBias,
		c.ptr(outs[0]), c.ptr(outs[1]), c.ptr(outs[2]), int64(d), eps)
	for i := range outs {
		if !declared(i) {
			outs[i] = nil // scratch, freed on return
		}
	}
	if err != nil {
		nnRelease(c, outs[:k]...)
		return nil, err
	}
	return outs[:k], nil
}

// nnRMSNorm is runtime/cpu rmsNormKernel (ai.crsc.RMSNormalization) for
// float32 with an unbroadcast scale: Y and, when declared, inv_rms.
func nnRMSNorm(c *ctx, n *ir.Node, ins []*ir.Tensor) ([]*ir.Tensor, error) {
	x, scale := input(ins, 0), input(ins, 1)
	if x == nil || scale == nil || !nnAllF32(x) {
		return nil, errFallback
	}
	axis, outer, d, ok := nnNormLayout(n, x)
	eps := n.Attrs.Float("epsilon", 1e-5)
	if !ok || !nnPlainParam(scale, d, len(x.Shape)-axis) || eps < 0 || eps != eps {
		return nil, errFallback
	}
	if err := nnOnDevice(c, &x, &scale); err != nil {
		return nil, err
	}
	k := nnNumOuts(n, 2)
	y, err := c.out(ir.Float32, x.Shape)
	if err != nil {
		return nil, err
	}
	var frees nnFreeAll
	defer frees.run()
	inv, err := frees.outOrScratch(c, k > 1, ir.Float32, shapes.StatShape(x.Shape, axis))
	if err != nil {
		nnRelease(c, y)
		return nil, err
	}
	outs := []*ir.Tensor{y, inv}[:k] // an undeclared inv_rms is scratch
	// d = 0 still launches: inv_rms is then NaN (0/0), as on the CPU.
	if err = nnRows(c, "rms_norm_f32", outer, d, c.ptr(x), c.ptr(scale), c.ptr(y), c.ptr(inv), int64(d), eps); err != nil {
		nnRelease(c, outs...)
		return nil, err
	}
	return outs, nil
}

// ---- GELU ----

// nnElementwise runs an elementwise kernel of nnElemSrc that maps the
// equal-shaped float32 inputs ins to one output of their shape.
func nnElementwise(c *ctx, name string, ins ...*ir.Tensor) ([]*ir.Tensor, error) {
	for _, t := range ins {
		if t == nil || !nnAllF32(t) || !slices.Equal(t.Shape, ins[0].Shape) {
			return nil, errFallback
		}
	}
	return nnLaunchElem(c, name, ins)
}

// nnLaunchElem launches kernel name of nnElemSrc, one thread an element,
// into a new float32 output shaped like ins[0]; its arguments are ins
// (uploaded), the output, its length, then extra.
func nnLaunchElem(c *ctx, name string, ins []*ir.Tensor, extra ...any) ([]*ir.Tensor, error) {
	args := make([]any, 0, len(ins)+2+len(extra))
	for i := range ins {
		if err := nnOnDevice(c, &ins[i]); err != nil {
			return nil, err
		}
		args = append(args, c.ptr(ins[i]))
	}
	out, err := c.out(ir.Float32, ins[0].Shape)
	if err != nil {
		return nil, err
	}
	args = append(append(args, c.ptr(out), int64(out.Len())), extra...)
	if err := c.launch(nnElemSrc, name, out.Len(), args...); err != nil {
		nnRelease(c, out)
		return nil, err
	}
	return []*ir.Tensor{out}, nil
}

// nnGelu is the exact (erf) GELU of runtime/cpu geluKernel in float32
// (com.microsoft.Gelu, and Gelu with approximate "none"); the tanh form
// runs on the CPU.
func nnGelu(c *ctx, n *ir.Node, ins []*ir.Tensor) ([]*ir.Tensor, error) {
	if n.Attrs.String("approximate", "none") != "none" {
		return nil, errFallback
	}
	return nnElementwise(c, "gelu_f32", input(ins, 0))
}

// nnGeluGrad is runtime/cpu geluGradKernel: GeluGrad(dY, X).
func nnGeluGrad(c *ctx, n *ir.Node, ins []*ir.Tensor) ([]*ir.Tensor, error) {
	return nnElementwise(c, "gelu_grad_f32", input(ins, 0), input(ins, 1))
}

// ---- Dropout and its gradients ----

// nnDropoutMode is runtime/cpu dropoutMode: ratio from input ri (else the
// old opsets' attribute, default 0.5), training from input ti (default
// false; ForceEval turns it off). ok is false where the CPU fails.
func nnDropoutMode(c *ctx, n *ir.Node, ins []*ir.Tensor, ri, ti int) (ratio float64, training, ok bool, err error) {
	ratio = float64(n.Attrs.Float("ratio", 0.5))
	if t := input(ins, ri); t != nil {
		if t.Len() != 1 || !t.DType.IsFloat() {
			return 0, false, false, nil
		}
		h, err := c.host(t)
		if err != nil {
			return 0, false, false, err
		}
		ratio = h.Float64At(0)
	}
	if ratio < 0 || ratio > 1 {
		return 0, false, false, nil
	}
	if t := input(ins, ti); t != nil {
		if t.Len() != 1 || t.DType != ir.Bool {
			return 0, false, false, nil
		}
		h, err := c.host(t)
		if err != nil {
			return 0, false, false, err
		}
		training = h.Bool[0]
	}
	if c.forceEval() {
		training = false
	}
	return ratio, training, true, nil
}

// nnDropoutGradMode reads a Dropout gradient's mode as nnDropoutMode does
// (ratio from input ri, training from input ti). Where the forward dropped
// nothing the gradient is dY itself: outs is then its copy.
func nnDropoutGradMode(c *ctx, n *ir.Node, ins []*ir.Tensor, dy *ir.Tensor, ri, ti int) (ratio float64, outs []*ir.Tensor, err error) {
	ratio, training, ok, err := nnDropoutMode(c, n, ins, ri, ti)
	if err != nil || !ok {
		return 0, nil, orFallback(err)
	}
	if !training || ratio == 0 {
		outs, err = nnElementwise(c, "copy_f32", dy)
		return 0, outs, err
	}
	return ratio, nil, nil
}

// nnDropoutScale is 1/(1-ratio) rounded to float32 as the CPU rounds it
// (0 for ratio 1: everything dropped).
func nnDropoutScale(ratio float64) float32 {
	if ratio < 1 {
		return float32(1 / (1 - ratio))
	}
	return 0
}

// nnFold is runtime/rng's fold of a 64-bit step or stream to 32 bits.
func nnFold(x uint64) uint32 { return uint32(x) ^ uint32(x>>32) }

// nnDropout is runtime/cpu dropoutKernel for float32: when active, element
// i is kept when rng.Uniform(seed, step, StreamOf(node name), i) >= ratio
// (Philox drawn on the device, bit-identical to the CPU's); the mask is
// one byte per element.
func nnDropout(c *ctx, n *ir.Node, ins []*ir.Tensor) ([]*ir.Tensor, error) {
	x := input(ins, 0)
	if x == nil || !nnAllF32(x) {
		return nil, errFallback
	}
	ratio, training, ok, err := nnDropoutMode(c, n, ins, 1, 2)
	if err != nil || !ok {
		return nil, orFallback(err)
	}
	if err := nnOnDevice(c, &x); err != nil {
		return nil, err
	}
	k := nnNumOuts(n, 2)
	y, err := c.out(ir.Float32, x.Shape)
	if err != nil {
		return nil, err
	}
	var mask *ir.Tensor
	if k > 1 {
		if mask, err = c.out(ir.Bool, x.Shape); err != nil {
			nnRelease(c, y)
			return nil, err
		}
	}
	num := x.Len()
	if !training || ratio == 0 {
		err = c.launch(nnElemSrc, "dropout_identity_f32", num, c.ptr(x), c.ptr(y), nnPtr(c, mask), int64(num))
	} else {
		err = c.launch(nnElemSrc, "dropout_f32", num, c.ptr(x), c.ptr(y), nnPtr(c, mask), int64(num),
			c.seed(), nnFold(c.step()), nnFold(rng.StreamOf(n.Name)), float32(ratio), nnDropoutScale(ratio))
	}
	if err != nil {
		nnRelease(c, y, mask)
		return nil, err
	}
	return []*ir.Tensor{y, mask}[:k], nil
}

// nnDropoutGrad is runtime/cpu dropoutGradKernel: DropoutGrad(dY, mask,
// ratio?, training_mode?) decides identity/active as the forward did.
func nnDropoutGrad(c *ctx, n *ir.Node, ins []*ir.Tensor) ([]*ir.Tensor, error) {
	dy, mask := input(ins, 0), input(ins, 1)
	if dy == nil || !nnAllF32(dy) {
		return nil, errFallback
	}
	ratio, outs, err := nnDropoutGradMode(c, n, ins, dy, 2, 3)
	if outs != nil || err != nil {
		return outs, err
	}
	if mask == nil || mask.DType != ir.Bool || !slices.Equal(mask.Shape, dy.Shape) {
		return nil, errFallback
	}
	return nnLaunchElem(c, "dropout_grad_f32", []*ir.Tensor{dy, mask}, nnDropoutScale(ratio))
}

// nnDropoutMaskGrad is runtime/cpu dropoutMaskGradKernel: the mask of
// Dropout node forward_node redrawn from the same Philox stream.
func nnDropoutMaskGrad(c *ctx, n *ir.Node, ins []*ir.Tensor) ([]*ir.Tensor, error) {
	dy := input(ins, 0)
	fwd := n.Attrs.String("forward_node", "")
	if dy == nil || !nnAllF32(dy) || fwd == "" {
		return nil, errFallback
	}
	ratio, outs, err := nnDropoutGradMode(c, n, ins, dy, 1, 2)
	if outs != nil || err != nil {
		return outs, err
	}
	return nnLaunchElem(c, "dropout_mask_grad_f32", []*ir.Tensor{dy},
		c.seed(), nnFold(c.step()), nnFold(rng.StreamOf(fwd)), float32(ratio), nnDropoutScale(ratio))
}

// ---- BitMask, ReluGrad ----

// nnMaskWords is the number of int32 words holding n mask bits.
func nnMaskWords(n int) int { return (n + 31) / 32 }

// nnBitMask is runtime/cpu bitMaskKernel: bit j of word i set when
// X[32i+j] > 0 (true for a bool X), for float32, int64, int32 (and the
// narrow ints stored as int32) and bool X.
func nnBitMask(c *ctx, n *ir.Node, ins []*ir.Tensor) ([]*ir.Tensor, error) {
	x := input(ins, 0)
	if x == nil || x.Abstract {
		return nil, errFallback
	}
	name := numKernel("bit_mask", x.DType)
	if x.DType.Storage() == ir.Bool {
		name = "bit_mask_u8"
	}
	if name == "" {
		return nil, errFallback
	}
	if err := nnOnDevice(c, &x); err != nil {
		return nil, err
	}
	words := nnMaskWords(x.Len())
	out, err := c.out(ir.Int32, []int{words})
	if err != nil {
		return nil, err
	}
	if err := c.launch(nnElemSrc, name, words, c.ptr(x), c.ptr(out), int64(x.Len()), int64(words)); err != nil {
		nnRelease(c, out)
		return nil, err
	}
	return []*ir.Tensor{out}, nil
}

// nnReluGrad is runtime/cpu reluGradKernel: dY where the bit is set, +0
// elsewhere.
func nnReluGrad(c *ctx, n *ir.Node, ins []*ir.Tensor) ([]*ir.Tensor, error) {
	dy, bits := input(ins, 0), input(ins, 1)
	if dy == nil || bits == nil || !nnAllF32(dy) || bits.DType != ir.Int32 ||
		!slices.Equal(bits.Shape, []int{nnMaskWords(dy.Len())}) {
		return nil, errFallback
	}
	return nnLaunchElem(c, "relu_grad_f32", []*ir.Tensor{dy, bits})
}

// nnF64 wraps float64 values as a host tensor; Float64 is stored as
// float64 on the device, so kernels read it as double.
func nnF64(v []float64) *ir.Tensor {
	return &ir.Tensor{DType: ir.Float64, Shape: []int{len(v)}, F64: v}
}
