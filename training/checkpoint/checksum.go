package checkpoint

import (
	"fmt"
	"hash/crc32"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"

	"crsc/compiler/ir"
)

// ChecksumPrefix starts the metadata key that holds one tensor's checksum:
// "crc32c/NAME" maps to the CRC32C (Castagnoli) of the tensor's bytes as
// stored in the file (little-endian, between its data_offsets), written
// as 8 lowercase hex digits. Save writes one per tensor; Load checks every
// one and returns the metadata without them. The keys are reserved: Save
// refuses caller metadata that uses the prefix.
//
// Files without any such key (written before checksums, or by other
// tools such as Hugging Face's) load unverified, as before. A file with
// some checksums must have one for every tensor.
const ChecksumPrefix = "crc32c/"

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func formatChecksum(sum uint32) string { return fmt.Sprintf("%08x", sum) }

// checksums computes the checksum metadata of laid-out entries, by
// streaming each tensor's file bytes through the hash (no full-size copy).
func checksums(entries []entry) (map[string]string, error) {
	sums := make(map[string]string, len(entries))
	buf := make([]byte, 0, 64<<10)
	for _, e := range entries {
		h := crc32.New(castagnoli)
		var err error
		if buf, err = writeData(h, buf, e); err != nil {
			return nil, err
		}
		sums[ChecksumPrefix+e.name] = formatChecksum(h.Sum32())
	}
	return sums, nil
}

// withChecksums returns meta plus the checksums, refusing caller keys that
// would collide with them.
func withChecksums(meta map[string]string, entries []entry) (map[string]string, error) {
	for k := range meta {
		if strings.HasPrefix(k, ChecksumPrefix) {
			return nil, fmt.Errorf("metadata key %q: keys starting with %q are reserved for the tensor checksums", k, ChecksumPrefix)
		}
	}
	sums, err := checksums(entries)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(meta)+len(sums))
	for k, v := range meta {
		out[k] = v
	}
	for k, v := range sums {
		out[k] = v
	}
	return out, nil
}

// splitChecksums separates the checksum keys from the rest of the
// metadata and checks that they are well formed and name exactly the
// file's tensors. sums is nil when the file has no checksums.
func splitChecksums(meta map[string]string, entries []entry) (rest map[string]string, sums map[string]uint32, err error) {
	for k, v := range meta {
		name, ok := strings.CutPrefix(k, ChecksumPrefix)
		if !ok {
			if rest == nil {
				rest = map[string]string{}
			}
			rest[k] = v
			continue
		}
		n, perr := strconv.ParseUint(v, 16, 32)
		if perr != nil || len(v) != 8 || strings.ToLower(v) != v {
			return nil, nil, fmt.Errorf("metadata %q is %q, want a CRC32C as 8 lowercase hex digits", k, clip(v))
		}
		if sums == nil {
			sums = map[string]uint32{}
		}
		sums[name] = uint32(n)
	}
	if sums == nil {
		return rest, nil, nil
	}
	names := map[string]bool{}
	for _, e := range entries {
		names[e.name] = true
		if _, ok := sums[e.name]; !ok {
			return nil, nil, fmt.Errorf("tensor %q has no checksum (metadata %q) though the file's other tensors do", e.name, ChecksumPrefix+e.name)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(sums)) {
		if !names[name] {
			return nil, nil, fmt.Errorf("metadata %q is the checksum of a tensor %q the file does not have", ChecksumPrefix+name, name)
		}
	}
	return rest, sums, nil
}

// verify checks one tensor's file bytes against its recorded checksum.
func verify(e entry, b []byte, sums map[string]uint32) error {
	want, ok := sums[e.name]
	if !ok {
		return nil // a file without checksums
	}
	if got := crc32.Checksum(b, castagnoli); got != want {
		return fmt.Errorf("tensor %q: checksum mismatch: its bytes have CRC32C %s, the metadata records %s (the data is corrupt)", e.name, formatChecksum(got), formatChecksum(want))
	}
	return nil
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// ParamPrefix starts the names of the model parameters in a training-state
// checkpoint (the trainer also stores "optim/…" moments and ‖G‖ state).
const ParamPrefix = "param/"

// CheckFinite returns an error naming the first tensor (in name order)
// holding a NaN or an infinity, with the element's flat index and its
// position, or nil when every float tensor is finite. Integer and bool
// tensors are skipped. The error does not name a file: callers prefix
// it, e.g. "checkpoint PATH: ".
//
// Load does not call it: a checkpoint may legitimately hold non-finite
// values (a mask of -Inf); whoever knows which tensors are parameters
// checks them, e.g. with CheckFiniteParams.
func CheckFinite(tensors map[string]*ir.Tensor) error {
	return checkFinite(tensors, "")
}

// CheckFiniteParams is CheckFinite restricted to the tensors whose name
// starts with ParamPrefix: the parameters of a training-state checkpoint.
func CheckFiniteParams(tensors map[string]*ir.Tensor) error {
	return checkFinite(tensors, ParamPrefix)
}

func checkFinite(tensors map[string]*ir.Tensor, prefix string) error {
	for _, name := range slices.Sorted(maps.Keys(tensors)) {
		t := tensors[name]
		if t == nil || !strings.HasPrefix(name, prefix) {
			continue
		}
		var bad func(i int) (float64, bool)
		switch {
		case t.DType.Storage() == ir.Float32 && len(t.F32) > 0:
			bad = func(i int) (float64, bool) { v := float64(t.F32[i]); return v, math.IsNaN(v) || math.IsInf(v, 0) }
		case t.DType.Storage() == ir.Float64 && len(t.F64) > 0:
			bad = func(i int) (float64, bool) { v := t.F64[i]; return v, math.IsNaN(v) || math.IsInf(v, 0) }
		default:
			continue
		}
		n := len(t.F32) + len(t.F64)
		for i := 0; i < n; i++ {
			if v, nonFinite := bad(i); nonFinite {
				return fmt.Errorf("tensor %q: element %d (index %v of shape %v) is %v", name, i, ir.Unravel(i, t.Shape), t.Shape, v)
			}
		}
	}
	return nil
}
