package ir

// sampleInferRules are the shape rules of the WTA-CRS sampling ops.
func sampleInferRules() map[string]InferFunc {
	return map[string]InferFunc{}
}
