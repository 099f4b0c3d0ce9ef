//go:build !amd64 || purego

package gemm

const haveAVX2 = false

// kernelAVX2 is never selected when haveAVX2 is false.
var kernelAVX2 kernelFunc = kernelGeneric
