//go:build linux && (amd64 || arm64)

package cuda

import (
	"fmt"
)

// This file binds cuBLAS and implements Device.Gemm with it. The row-major
// to column-major mapping is in gemmmap.go, where it is tested on the CPU.

type cublasAPI struct {
	create       func(h *uintptr) int32
	destroy      func(h uintptr) int32
	setMathMode  func(h uintptr, mode int32) int32
	setWorkspace func(h uintptr, ws uint64, size uint64) int32 // optional (cuBLAS ≥ 11.4)
	getVersion   func(h uintptr, v *int32) int32               // optional
	sgemm        func(h uintptr, ta, tb, m, n, k int32, alpha *float32, a uint64, lda int32,
		b uint64, ldb int32, beta *float32, c uint64, ldc int32) int32
	sgemmStrided func(h uintptr, ta, tb, m, n, k int32, alpha *float32, a uint64, lda int32, strideA int64,
		b uint64, ldb int32, strideB int64, beta *float32, c uint64, ldc int32, strideC int64, batch int32) int32
}

// cublasDefaultMath is CUBLAS_DEFAULT_MATH: plain FP32, no TF32 tensor
// cores, so results match the CPU reference to float rounding.
const cublasDefaultMath = 0

var cublasOnce boundOnce[cublasAPI]

// loadCublas loads and binds cuBLAS once per process, preferring one of
// major version at most maxMajor (0: any).
func loadCublas(maxMajor int) (*cublasAPI, error) {
	return cublasOnce.get(cublasLib, maxMajor, func(b *cublasAPI) []binding {
		return []binding{
			fn(&b.create, "cublasCreate_v2"),
			fn(&b.destroy, "cublasDestroy_v2"),
			fn(&b.setMathMode, "cublasSetMathMode"),
			optFn(&b.setWorkspace, "cublasSetWorkspace_v2"),
			optFn(&b.getVersion, "cublasGetVersion_v2"),
			fn(&b.sgemm, "cublasSgemm_v2"),
			fn(&b.sgemmStrided, "cublasSgemmStridedBatched"),
		}
	}, nil)
}

// cublasStatus names a cublasStatus_t.
func cublasStatus(s int32) string {
	names := map[int32]string{
		0: "CUBLAS_STATUS_SUCCESS", 1: "CUBLAS_STATUS_NOT_INITIALIZED", 3: "CUBLAS_STATUS_ALLOC_FAILED",
		7: "CUBLAS_STATUS_INVALID_VALUE", 8: "CUBLAS_STATUS_ARCH_MISMATCH", 11: "CUBLAS_STATUS_MAPPING_ERROR",
		13: "CUBLAS_STATUS_EXECUTION_FAILED", 14: "CUBLAS_STATUS_INTERNAL_ERROR",
		15: "CUBLAS_STATUS_NOT_SUPPORTED", 16: "CUBLAS_STATUS_LICENSE_ERROR",
	}
	if n, ok := names[s]; ok {
		return n
	}
	return fmt.Sprintf("cublasStatus(%d)", s)
}

// initCublas runs on the device goroutine, with the context current, so the
// handle binds to it. It gives cuBLAS a workspace of our own so its memory
// is allocated once, up front, and counted with everything else.
func (d *gpuDevice) initCublas() error {
	b := d.blas
	if s := b.create(&d.blasHandle); s != 0 {
		d.blasHandle = 0
		return fmt.Errorf("cuda: cublasCreate: %s", cublasStatus(s))
	}
	if s := b.setMathMode(d.blasHandle, cublasDefaultMath); s != 0 {
		return fmt.Errorf("cuda: cublasSetMathMode: %s", cublasStatus(s))
	}
	if b.getVersion != nil {
		var v int32
		if b.getVersion(d.blasHandle, &v) == 0 {
			d.info.Libraries["cublas-version"] = fmt.Sprintf("%d.%d.%d", v/10000, v%10000/100, v%100)
		}
	}
	d.info.Libraries["cublas-workspace"] = "cuBLAS default (no cublasSetWorkspace_v2)"
	if b.setWorkspace != nil {
		var ws uint64
		if err := d.drv.check(d.drv.cuMemAlloc(&ws, workspaceSize), "cuMemAlloc(%s cuBLAS workspace)", formatBytes(workspaceSize)); err != nil {
			return err
		}
		d.allocs[Ptr(ws)] = workspaceSize // freed by Close, after the handle
		d.workspace = Ptr(ws)
		if s := b.setWorkspace(d.blasHandle, ws, workspaceSize); s != 0 {
			return fmt.Errorf("cuda: cublasSetWorkspace: %s", cublasStatus(s))
		}
		d.info.Libraries["cublas-workspace"] = formatBytes(workspaceSize)
	}
	return nil
}

// Gemm runs g with cublasSgemm (Batch ≤ 1) or cublasSgemmStridedBatched.
func (d *gpuDevice) Gemm(g GemmArgs) error {
	if err := checkGemm(g); err != nil {
		return err
	}
	if g.M == 0 || g.N == 0 {
		return nil
	}
	ta, tb, m, n, k, lda, ldb, ldc, a, b, sa, sb := colMajorGemm(g)
	alpha, beta := g.Alpha, g.Beta // cuBLAS reads these (host pointers) during the call
	return d.do(func() error {
		var s int32
		if g.Batch <= 1 {
			s = d.blas.sgemm(d.blasHandle, int32(ta), int32(tb), int32(m), int32(n), int32(k),
				&alpha, uint64(a), int32(lda), uint64(b), int32(ldb), &beta, uint64(g.C), int32(ldc))
		} else {
			s = d.blas.sgemmStrided(d.blasHandle, int32(ta), int32(tb), int32(m), int32(n), int32(k),
				&alpha, uint64(a), int32(lda), sa, uint64(b), int32(ldb), sb, &beta, uint64(g.C), int32(ldc), g.StrideC, int32(g.Batch))
		}
		if s != 0 {
			return fmt.Errorf("cuda: Gemm(M=%d N=%d K=%d batch=%d): %s", g.M, g.N, g.K, g.Batch, cublasStatus(s))
		}
		return nil
	})
}
