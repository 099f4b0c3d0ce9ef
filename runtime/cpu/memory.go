package cpu

// memoryKernels holds the ops of the memory-saving rewrites (domain
// ai.crsc): bit-packed masks, regenerated Dropout masks, norms that
// differentiate from their output.
var memoryKernels = map[string]Kernel{}
