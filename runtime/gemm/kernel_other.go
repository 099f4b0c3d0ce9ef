//go:build !amd64 || purego

package gemm

const (
	haveAVX2   = false
	haveAVX512 = false
)

// The assembly kernels are never selected when their have* flag is false.
var (
	kernelAVX2   kernelFunc = kernelGeneric
	kernelAVX512 kernelFunc = kernelGeneric
)
