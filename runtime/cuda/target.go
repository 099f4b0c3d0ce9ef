package cuda

import (
	"fmt"
	"strconv"
	"strings"
)

// Code kinds CompileSource returns.
const (
	KindCUBIN = "cubin" // machine code for exactly one architecture
	KindPTX   = "ptx"   // virtual ISA the driver JIT-compiles at load
)

// nvrtcOptions are NVRTC's options for a --gpu-architecture target. They
// are part of the disk cache key (see compileCached).
//
// The kernels promise the CPU's arithmetic, so the float math is plain
// IEEE: no --use_fast_math, and --fmad=false, since NVRTC otherwise
// contracts a*b+c into one fused multiply-add (rounded once, where the CPU
// rounds twice). Kernels that want an FMA call fmaf explicitly.
func nvrtcOptions(target string) []string {
	return []string{target, "-std=c++17", "--fmad=false"}
}

// parseArch reads "sm_90" as 90.
func parseArch(arch string) (int, error) {
	s, ok := strings.CutPrefix(arch, "sm_")
	n, err := strconv.Atoi(s)
	if !ok || err != nil || n < 10 {
		return 0, fmt.Errorf("cuda: bad architecture %q (want sm_XY, e.g. sm_90)", arch)
	}
	return n, nil
}

// chooseTarget picks NVRTC's --gpu-architecture for a device of
// architecture want, given the real architectures this NVRTC supports (nil
// if it cannot say). CUBIN for the exact architecture is best: it loads
// without a JIT step. A device newer than the compiler gets PTX for the
// newest architecture the compiler knows below it, which the driver
// JIT-compiles; PTX runs on any later GPU.
func chooseTarget(want int, supported []int) (option, kind string, err error) {
	if len(supported) == 0 {
		return fmt.Sprintf("--gpu-architecture=sm_%d", want), KindCUBIN, nil
	}
	best := -1
	for _, s := range supported {
		if s == want {
			return fmt.Sprintf("--gpu-architecture=sm_%d", want), KindCUBIN, nil
		}
		if s < want && s > best {
			best = s
		}
	}
	if best < 0 {
		return "", "", fmt.Errorf("cuda: this NVRTC cannot target sm_%d (it supports sm_%d to sm_%d)",
			want, minInts(supported), maxInts(supported))
	}
	return fmt.Sprintf("--gpu-architecture=compute_%d", best), KindPTX, nil
}

func minInts(v []int) int {
	m := v[0]
	for _, x := range v {
		m = min(m, x)
	}
	return m
}

func maxInts(v []int) int {
	m := v[0]
	for _, x := range v {
		m = max(m, x)
	}
	return m
}
