package cpu

import (
	"fmt"
	"runtime"
	"sort"
	"sync"

	"crsc/compiler/ir"
	"crsc/runtime/shapes"
)

// Ctx carries what kernels need besides their inputs.
type Ctx struct {
	// Seed and Step key Dropout masks: a mask is drawn from rng keyed by
	// (Seed, Step, StreamOf(node name), element index), so a backward pass
	// that regenerates it at the same Step gets the same mask.
	Seed, Step uint64
	// ForceEval makes every Dropout the identity whatever its training_mode
	// input says (evaluation runs of a training graph); otherwise, as in
	// ONNX, the training_mode input decides.
	ForceEval bool
	// Threads bounds the goroutines a kernel uses; 0 means GOMAXPROCS.
	Threads int
	// Alloc, when set, supplies the tensors kernels allocate through
	// ctx.newTensor and ctx.scratch: the executor points it at the arena
	// of a memory plan (runtime.Options.Plan). Nil means the Go heap.
	Alloc Allocator
}

// Allocator hands kernels their tensors. Both methods return zeroed
// tensors (kernels such as GatherGrad and DropoutGrad rely on that) and
// must be safe to call from several goroutines.
type Allocator interface {
	// Output is for a tensor the kernel will return: the allocator may
	// place it where a memory plan put the node's output.
	Output(dt ir.DType, shape []int) *ir.Tensor
	// Scratch is for a temporary the kernel drops before returning; it is
	// never placed in a planned output slot, so it cannot take one from
	// the real output.
	Scratch(dt ir.DType, shape []int) *ir.Tensor
}

// UninitAllocator is an Allocator that can also hand out an output whose
// contents are undefined, for a kernel that writes every element before
// reading any (a GEMM with beta = 0): clearing a large planned slot that
// is about to be overwritten costs as much as a memset of the step's
// biggest activations.
type UninitAllocator interface {
	OutputUninit(dt ir.DType, shape []int) *ir.Tensor
}

// Kernel computes a node's outputs from its inputs; a nil entry of ins is an
// omitted optional input. A kernel never writes into its inputs nor into a
// tensor after returning it; shape-only ops (Reshape, Identity, …) may
// therefore return views that share their input's data. A nil entry in the returned slice is an optional output the
// kernel did not produce.
type Kernel func(ctx *Ctx, n *ir.Node, ins []*ir.Tensor) ([]*ir.Tensor, error)

// msDomain holds the com.microsoft contrib ops some exporters emit.
const msDomain = "com.microsoft"

// kernels is the default-domain (ai.onnx) registry.
var kernels = map[string]Kernel{
	// Elementwise arithmetic and math.
	"Abs": unaryKernel(opAbs), "Ceil": unaryKernel(opCeil), "Floor": unaryKernel(opFloor),
	"Exp": unaryKernel(opExp), "Log": unaryKernel(opLog), "Sqrt": unaryKernel(opSqrt),
	"Reciprocal": unaryKernel(opReciprocal), "Neg": unaryKernel(opNeg), "Sign": unaryKernel(opSign),
	"Relu": unaryKernel(opRelu), "Sigmoid": unaryKernel(opSigmoid), "Tanh": unaryKernel(opTanh),
	"Erf": unaryKernel(opErf), "Round": unaryKernel(opRound), "Sin": unaryKernel(opSin),
	"Cos": unaryKernel(opCos), "Softplus": unaryKernel(opSoftplus),
	"Gelu": geluKernel, "LeakyRelu": leakyReluKernel, "Elu": eluKernel,
	"HardSigmoid": hardSigmoidKernel, "Clip": clipKernel,
	"Add": binaryKernel(opAdd), "Sub": binaryKernel(opSub), "Mul": binaryKernel(opMul),
	"Div": binaryKernel(opDiv), "Mod": modKernel, "Pow": powKernel,
	"Sum": variadicKernel(opAdd), "Max": variadicKernel(opMax), "Min": variadicKernel(opMin),
	"Mean": meanKernel,
	// Comparison and logic.
	"Equal": compareKernel(cmpEq), "Less": compareKernel(cmpLt), "Greater": compareKernel(cmpGt),
	"LessOrEqual": compareKernel(cmpLe), "GreaterOrEqual": compareKernel(cmpGe),
	"And": logicKernel(logAnd), "Or": logicKernel(logOr), "Xor": logicKernel(logXor),
	"Not": notKernel, "Where": whereKernel,
	// Shape and data movement.
	"Cast": castKernel, "CastLike": castLikeKernel, "Identity": identityKernel,
	"Constant": constantKernel, "ConstantOfShape": constantOfShapeKernel,
	"Shape": shapeKernel, "Size": sizeKernel, "Reshape": reshapeKernel, "Flatten": flattenKernel,
	"Squeeze": squeezeKernel, "Unsqueeze": unsqueezeKernel, "Transpose": transposeKernel,
	"Concat": concatKernel, "Split": splitKernel, "Slice": sliceKernel, "Gather": gatherKernel,
	"GatherElements": gatherElementsKernel, "Expand": expandKernel, "Tile": tileKernel,
	"Range": rangeKernel, "Trilu": triluKernel, "CumSum": cumSumKernel,
	// Reductions.
	"ReduceSum": reduceKernel(redSum), "ReduceMean": reduceKernel(redMean),
	"ReduceMax": reduceKernel(redMax), "ReduceMin": reduceKernel(redMin),
	"ReduceProd": reduceKernel(redProd), "ReduceL1": reduceKernel(redL1),
	"ReduceL2": reduceKernel(redL2), "ReduceSumSquare": reduceKernel(redSumSquare),
	"ReduceLogSum": reduceKernel(redLogSum), "ReduceLogSumExp": reduceKernel(redLogSumExp),
	"ArgMax": argKernel(true), "ArgMin": argKernel(false),
	// Neural network.
	"MatMul": matMulKernel, "Gemm": gemmKernel,
	"Softmax": softmaxKernel(false), "LogSoftmax": softmaxKernel(true),
	"LayerNormalization": layerNormKernel, "Dropout": dropoutKernel,
	"SoftmaxCrossEntropyLoss": sceLossKernel,
}

// msKernels is the com.microsoft registry; Gelu there is the exact (erf) form.
var msKernels = map[string]Kernel{
	"Gelu": geluKernel,
}

// Lookup finds the kernel for an op; domain "" and "ai.onnx" are the
// default ONNX domain.
func Lookup(domain, op string) (Kernel, bool) {
	var k Kernel
	switch domain {
	case "", "ai.onnx":
		k = kernels[op]
	case msDomain:
		k = msKernels[op]
	case crscDomain:
		for _, reg := range crscRegistries() {
			if k = reg[op]; k != nil {
				break
			}
		}
	}
	return k, k != nil
}

// crscRegistries are crsc's own ops, one table per family: gradient
// helpers (grad.go), WTA-CRS sampling (sample.go), memory-saving rewrites
// (memory.go), fused forms of decomposed subgraphs (fused.go).
func crscRegistries() []map[string]Kernel {
	return []map[string]Kernel{crscKernels, sampleKernels, memoryKernels, quantKernels, fusedKernels}
}

// Ops lists the supported ops sorted: default-domain ops by name, others
// as "domain:Op".
func Ops() []string {
	ops := make([]string, 0, len(kernels)+len(msKernels))
	for op := range kernels {
		ops = append(ops, op)
	}
	for op := range msKernels {
		ops = append(ops, msDomain+":"+op)
	}
	for _, reg := range crscRegistries() {
		for op := range reg {
			ops = append(ops, crscDomain+":"+op)
		}
	}
	sort.Strings(ops)
	return ops
}

// errf builds an error that names the node.
func errf(n *ir.Node, format string, args ...any) error {
	return fmt.Errorf("%s %q: %s", n.Op, n.Name, fmt.Sprintf(format, args...))
}

// in returns input i, or nil when it is omitted.
func in(ins []*ir.Tensor, i int) *ir.Tensor {
	if i < len(ins) {
		return ins[i]
	}
	return nil
}

// required returns the first k inputs, failing if any is missing.
func required(n *ir.Node, ins []*ir.Tensor, k int) error {
	for i := 0; i < k; i++ {
		if in(ins, i) == nil {
			return errf(n, "missing required input %d", i)
		}
	}
	return nil
}

// nodeErr names the node in an error of runtime/shapes (nil stays nil).
func nodeErr(n *ir.Node, err error) error {
	if err == nil {
		return nil
	}
	return errf(n, "%v", err)
}

// normAxis maps a possibly negative axis into [0, rank).
func normAxis(n *ir.Node, axis int64, rank int) (int, error) {
	ax, err := shapes.Axis(axis, rank)
	return ax, nodeErr(n, err)
}

// normAxes normalizes a list of axes and rejects duplicates.
func normAxes(n *ir.Node, axes []int64, rank int) ([]int, error) {
	ax, err := shapes.Axes(axes, rank)
	return ax, nodeErr(n, err)
}

// intsInput reads an int64/int32 shape-like input.
func intsInput(n *ir.Node, t *ir.Tensor, what string) ([]int64, error) {
	switch t.DType {
	case ir.Int64, ir.Int32, ir.Int8, ir.Uint8:
		v := t.Int64s()
		if len(v) != t.Len() {
			return nil, errf(n, "%s: tensor data does not match its shape %v", what, t.Shape)
		}
		return v, nil
	}
	return nil, errf(n, "%s must be an integer tensor, got %v", what, t.DType)
}

// axesFrom reads axes from input idx when given, else from the attribute
// "axes"; ok is false when neither is present.
func axesFrom(n *ir.Node, ins []*ir.Tensor, idx int) (axes []int64, ok bool, err error) {
	if t := in(ins, idx); t != nil {
		axes, err = intsInput(n, t, "axes")
		return axes, true, err
	}
	if n.Attrs.Has("axes") {
		return n.Attrs.Ints("axes"), true, nil
	}
	return nil, false, nil
}

// checkData verifies that t's storage slice matches its shape.
func checkData(n *ir.Node, t *ir.Tensor) error {
	if err := t.CheckData(); err != nil {
		return errf(n, "%v", err)
	}
	return nil
}

// checkInputs runs checkData on every present input.
func checkInputs(n *ir.Node, ins []*ir.Tensor) error {
	for _, t := range ins {
		if t != nil {
			if err := checkData(n, t); err != nil {
				return err
			}
		}
	}
	return nil
}

// storage maps a dtype to the one whose slice holds its data.
func storage(dt ir.DType) ir.DType { return dt.Storage() }

// elem is any element type a tensor slice can hold.
type elem interface {
	float32 | float64 | int64 | int32 | bool
}

// num is the numeric element types.
type num interface {
	float32 | float64 | int64 | int32
}

// float is the floating-point element types.
type float interface {
	float32 | float64
}

// slice returns t's data as []T; T must match storage(t.DType).
func slice[T elem](t *ir.Tensor) []T {
	var z T
	switch any(z).(type) {
	case float32:
		return any(t.F32).([]T)
	case float64:
		return any(t.F64).([]T)
	case int64:
		return any(t.I64).([]T)
	case int32:
		return any(t.I32).([]T)
	default:
		return any(t.Bool).([]T)
	}
}

// newTensor allocates a zeroed tensor on the Go heap, copying shape. Kernel
// outputs should come from ctx.newTensor instead, so that a memory plan can
// place them; this stays for code without a Ctx.
func newTensor(dt ir.DType, shape []int) *ir.Tensor { return ir.NewTensor(dt, shape...) }

// newTensor allocates a zeroed tensor that the kernel will return (output
// storage): from ctx.Alloc when set, else from the Go heap. Call it before
// spawning goroutines, in output order, and only for outputs: the planner
// matches allocations to a node's outputs by dtype and size in that order.
func (ctx *Ctx) newTensor(dt ir.DType, shape []int) *ir.Tensor {
	if ctx != nil && ctx.Alloc != nil {
		return ctx.Alloc.Output(dt, shape)
	}
	return ir.NewTensor(dt, shape...)
}

// newUninitTensor is newTensor for an output the kernel overwrites
// entirely before reading it: with an UninitAllocator its contents are
// undefined (a dead tensor's data), otherwise zero.
func (ctx *Ctx) newUninitTensor(dt ir.DType, shape []int) *ir.Tensor {
	if ctx != nil && ctx.Alloc != nil {
		if u, ok := ctx.Alloc.(UninitAllocator); ok {
			return u.OutputUninit(dt, shape)
		}
		return ctx.Alloc.Output(dt, shape)
	}
	return ir.NewTensor(dt, shape...)
}

// scratch allocates a zeroed temporary the kernel does not return; a
// planned run counts it as workspace.
func (ctx *Ctx) scratch(dt ir.DType, shape []int) *ir.Tensor {
	if ctx != nil && ctx.Alloc != nil {
		return ctx.Alloc.Scratch(dt, shape)
	}
	return ir.NewTensor(dt, shape...)
}

// threads returns how many goroutines a kernel may use.
func threads(ctx *Ctx) int {
	if ctx != nil && ctx.Threads > 0 {
		return ctx.Threads
	}
	return runtime.GOMAXPROCS(0)
}

// minParallelWork is the element count below which goroutines cost more
// than they save.
const minParallelWork = 32 << 10

// parallelFor splits [0, n) into contiguous chunks run on up to
// ctx.Threads goroutines. work estimates the elements touched in total;
// small jobs run inline.
func parallelFor(ctx *Ctx, n, work int, fn func(lo, hi int)) {
	t := threads(ctx)
	if t > n {
		t = n
	}
	if t <= 1 || work < minParallelWork {
		if n > 0 {
			fn(0, n)
		}
		return
	}
	if max := work / (minParallelWork / 2); t > max {
		t = max
	}
	var wg sync.WaitGroup
	chunk := (n + t - 1) / t
	for lo := 0; lo < n; lo += chunk {
		hi := min(lo+chunk, n)
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(lo, hi)
		}()
	}
	wg.Wait()
}
