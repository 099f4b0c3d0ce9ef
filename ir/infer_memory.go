package ir

// memoryInferRules are the shape rules of the memory-saving rewrite ops.
func memoryInferRules() map[string]InferFunc {
	return map[string]InferFunc{}
}
