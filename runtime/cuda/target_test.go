package cuda

import (
	"strings"
	"testing"
)

func TestParseArch(t *testing.T) {
	for in, want := range map[string]int{"sm_80": 80, "sm_90": 90, "sm_100": 100, "sm_120": 120} {
		if got, err := parseArch(in); err != nil || got != want {
			t.Errorf("parseArch(%q) = %d, %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "90", "sm_", "sm_9x", "compute_90", "sm_1"} {
		if _, err := parseArch(bad); err == nil {
			t.Errorf("parseArch(%q) accepted", bad)
		}
	}
}

func TestChooseTarget(t *testing.T) {
	nvrtc118 := []int{35, 37, 50, 52, 53, 60, 61, 62, 70, 72, 75, 80, 86, 87, 89, 90}
	tests := []struct {
		want      int
		supported []int
		option    string
		kind      string
		err       string
	}{
		{90, nvrtc118, "--gpu-architecture=sm_90", KindCUBIN, ""},
		{80, nvrtc118, "--gpu-architecture=sm_80", KindCUBIN, ""},
		{100, nvrtc118, "--gpu-architecture=compute_90", KindPTX, ""}, // Blackwell on CUDA 11.8
		{88, nvrtc118, "--gpu-architecture=compute_87", KindPTX, ""},
		{90, nil, "--gpu-architecture=sm_90", KindCUBIN, ""}, // NVRTC cannot list: just try
		{30, nvrtc118, "", "", "cannot target sm_30 (it supports sm_35 to sm_90)"},
	}
	for _, tc := range tests {
		opt, kind, err := chooseTarget(tc.want, tc.supported)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("chooseTarget(%d) error %v, want %q", tc.want, err, tc.err)
			}
			continue
		}
		if err != nil || opt != tc.option || kind != tc.kind {
			t.Errorf("chooseTarget(%d) = %s, %s, %v; want %s, %s", tc.want, opt, kind, err, tc.option, tc.kind)
		}
	}
}
