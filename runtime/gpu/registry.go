package gpu

// kernelKey is the registry key of an op: "Op" in the default ONNX domain,
// "domain.Op" elsewhere ("ai.crsc.SampleRows", "com.microsoft.Gelu").
func kernelKey(domain, op string) string {
	if domain == "" || domain == "ai.onnx" {
		return op
	}
	return domain + "." + op
}

// lookup finds the GPU kernel of an op: the generic ops of this package
// first (coreKernels), then the neural-network and training ops
// (nnKernels, nn_registry.go). ok is false when the op has none and must
// run through the CPU fallback.
func lookup(domain, op string) (kernel, bool) {
	key := kernelKey(domain, op)
	if k, ok := coreKernels[key]; ok && k != nil {
		return k, true
	}
	if k, ok := nnKernels[key]; ok && k != nil {
		return k, true
	}
	return nil, false
}
