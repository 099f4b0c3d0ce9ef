// Package device opens the runtime that a --device flag names: the CPU
// (the default, everywhere), an NVIDIA GPU through the CUDA backend, or
// that same backend on the CPU emulator of a GPU (for testing kernels on
// machines without one). Nothing touches a GPU unless cuda or auto asks.
package device
