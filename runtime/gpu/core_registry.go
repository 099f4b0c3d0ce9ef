package gpu

// coreKernels are the generic ONNX ops of this package. Ops missing here
// and from nnKernels run through the CPU fallback (Backend.Run); so do
// dtypes a kernel has no code for (it returns errFallback): float64
// arithmetic, integer division, Cast to float16/int8/uint8, and so on.
var coreKernels = map[string]kernel{
	// Elementwise math.
	"Abs": unaryKernel(uAbs), "Neg": unaryKernel(uNeg), "Sqrt": unaryKernel(uSqrt),
	"Reciprocal": unaryKernel(uRecip), "Exp": unaryKernel(uExp), "Log": unaryKernel(uLog),
	"Tanh": unaryKernel(uTanh), "Erf": unaryKernel(uErf), "Relu": unaryKernel(uRelu),
	"Sigmoid": unaryKernel(uSigmoid), "Ceil": unaryKernel(uCeil), "Floor": unaryKernel(uFloor),
	"Sign": unaryKernel(uSign),
	"Add":  binaryKernel(bAdd), "Sub": binaryKernel(bSub), "Mul": binaryKernel(bMul),
	"Div": binaryKernel(bDiv), "Pow": powKernel,
	"Sum": variadicKernel(bAdd), "Max": variadicKernel(bMax), "Min": variadicKernel(bMin),
	// Comparison and logic.
	"Equal": compareKernel(cEq), "Less": compareKernel(cLt), "Greater": compareKernel(cGt),
	"LessOrEqual": compareKernel(cLe), "GreaterOrEqual": compareKernel(cGe),
	"And": logicKernel(lAnd), "Or": logicKernel(lOr), "Xor": logicKernel(lXor),
	"Not": notKernel, "Where": whereKernel, "Cast": castKernel,
	// Views (no copy).
	"Identity": identityKernel, "Reshape": reshapeKernel, "Flatten": flattenKernel,
	"Squeeze": squeezeKernel, "Unsqueeze": unsqueezeKernel,
	// Data movement.
	"Transpose": transposeKernel, "Expand": expandKernel, "Tile": tileKernel,
	"Slice": sliceKernel, "Concat": concatKernel, "Split": splitKernel, "Gather": gatherKernel,
	"ConstantOfShape": constantOfShapeKernel, "Shape": shapeKernel, "Size": sizeKernel,
	// On the host by design (a few scalars in, a small tensor out).
	"Constant": hostKernel, "Range": hostKernel,
	// Reductions.
	"ReduceSum": reduceKernel(rSum), "ReduceMean": reduceKernel(rMean),
	"ReduceMax": reduceKernel(rMax), "ReduceMin": reduceKernel(rMin),
	// Matrix products.
	"MatMul": matMulKernel, "Gemm": gemmKernel, "ai.crsc.MatMul": matMulKernel,
}
