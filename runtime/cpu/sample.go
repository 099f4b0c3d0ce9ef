package cpu

// sampleKernels holds the WTA-CRS sampling ops (domain ai.crsc).
var sampleKernels = map[string]Kernel{}
