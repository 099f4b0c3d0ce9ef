// Package selftest checks a GPU (or the CPU emulator of one) against the
// CPU backend, one line per check: the driver and device, the compilation
// of every kernel file, every kernel on random inputs, cuBLAS GEMMs at
// BERT-base shapes, and one training step of a tiny BERT and a tiny T5
// with WTA-CRS sampling and Dropout (same seed on both backends, so the
// same rows are sampled and the same elements dropped).
//
// It waits for the device after every launch, GEMM and check, so a kernel
// that faults is named by its own check, and it stops at the first error
// that poisons the CUDA context (an illegal address and the like), since
// every later check would fail with it.
package selftest
