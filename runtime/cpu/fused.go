package cpu

// fusedKernels are the ai.crsc spellings of ops that compiler passes fuse
// from decomposed subgraphs. LayerNormalization lives here (not in the
// default domain) so a fused opset-13 graph stays valid ONNX at opset 13.
var fusedKernels = map[string]Kernel{
	"LayerNormalization": layerNormKernel,
}
