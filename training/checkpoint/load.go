package checkpoint

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"sort"
	"unicode/utf8"

	"crsc/compiler/ir"
	"crsc/internal/rawdata"
)

// maxHeaderSize is the Hugging Face loader's limit on the JSON header. It
// also stops a corrupt length prefix from making us allocate gigabytes.
const maxHeaderSize = 100_000_000

// Load reads a safetensors file: the tensors by name and the metadata
// (nil when the file has none). It checks the whole structure before
// reading any tensor data, and every error is one line that starts with
// "checkpoint PATH:".
//
// It accepts what the Hugging Face loader accepts, for the dtypes crsc
// has: tensors must tile the data region exactly, without gaps, overlaps
// or trailing bytes, and the header must be valid UTF-8.
//
// Every tensor's bytes are checked against the CRC32C that Save records
// in the metadata (see ChecksumPrefix); a mismatch is an error naming the
// tensor. The checksum keys are not part of the metadata returned. Files
// without checksums (older crsc checkpoints, Hugging Face weights) load
// without that check.
func Load(path string) (map[string]*ir.Tensor, map[string]string, error) {
	fail := func(err error) (map[string]*ir.Tensor, map[string]string, error) {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err // the path is already in our prefix
		}
		return nil, nil, fmt.Errorf("checkpoint %s: %v", path, err)
	}
	f, err := os.Open(path)
	if err != nil {
		return fail(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fail(err)
	}
	if st.IsDir() {
		return fail(errors.New("is a directory"))
	}
	tensors, meta, err := decode(f, st.Size())
	if err != nil {
		return fail(err)
	}
	return tensors, meta, nil
}

// decode reads a safetensors image of the given size from r.
func decode(r io.ReaderAt, size int64) (map[string]*ir.Tensor, map[string]string, error) {
	if size < 8 {
		return nil, nil, fmt.Errorf("truncated: file has %d bytes, too few for the 8-byte header length", size)
	}
	var lenBuf [8]byte
	if _, err := r.ReadAt(lenBuf[:], 0); err != nil {
		return nil, nil, fmt.Errorf("reading header length: %v", err)
	}
	n := binary.LittleEndian.Uint64(lenBuf[:])
	if n > maxHeaderSize {
		return nil, nil, fmt.Errorf("header length %d is over the %d-byte limit: not a safetensors file, or corrupt", n, maxHeaderSize)
	}
	if int64(n) > size-8 {
		return nil, nil, fmt.Errorf("truncated: header says it is %d bytes, file has %d bytes after the length", n, size-8)
	}
	header := make([]byte, n)
	if _, err := r.ReadAt(header, 8); err != nil {
		return nil, nil, fmt.Errorf("reading header: %v", err)
	}
	if !utf8.Valid(header) {
		return nil, nil, errors.New("bad header JSON: not valid UTF-8")
	}
	entries, meta, err := parseHeader(header)
	if err != nil {
		return nil, nil, err
	}
	meta, sums, err := splitChecksums(meta, entries)
	if err != nil {
		return nil, nil, err
	}
	dataStart := 8 + int64(n)
	if err := checkLayout(entries, size-dataStart); err != nil {
		return nil, nil, err
	}
	tensors := make(map[string]*ir.Tensor, len(entries))
	for _, e := range entries {
		buf := make([]byte, e.end-e.begin)
		if _, err := r.ReadAt(buf, dataStart+e.begin); err != nil {
			return nil, nil, fmt.Errorf("tensor %q: reading data: %v", e.name, err)
		}
		if err := verify(e, buf, sums); err != nil {
			return nil, nil, err
		}
		t, err := decodeData(e, buf)
		if err != nil {
			return nil, nil, err
		}
		tensors[e.name] = t
	}
	return tensors, meta, nil
}

// tensorInfo is one header entry. Pointers tell a missing field from a
// zero one.
type tensorInfo struct {
	DType       *string   `json:"dtype"`
	Shape       *[]int64  `json:"shape"`
	DataOffsets *[]uint64 `json:"data_offsets"`
}

// parseHeader decodes and checks the JSON header entry by entry, so that
// a duplicated name (which a plain map decode would silently drop) is
// caught.
func parseHeader(header []byte) ([]entry, map[string]string, error) {
	bad := func(err error) ([]entry, map[string]string, error) {
		return nil, nil, fmt.Errorf("bad header JSON: %v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(header))
	if tok, err := dec.Token(); err != nil {
		return bad(err)
	} else if tok != json.Delim('{') {
		return bad(fmt.Errorf("header is %v, not a JSON object", tok))
	}
	var entries []entry
	var meta map[string]string
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return bad(err)
		}
		name, _ := tok.(string) // object keys are always strings
		if seen[name] {
			return nil, nil, fmt.Errorf("header lists %q twice", name)
		}
		seen[name] = true
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return bad(err)
		}
		if name == metadataKey {
			if err := json.Unmarshal(raw, &meta); err != nil {
				return nil, nil, fmt.Errorf("header: %s must map strings to strings: %v", metadataKey, err)
			}
			continue
		}
		e, err := parseEntry(name, raw)
		if err != nil {
			return nil, nil, err
		}
		entries = append(entries, e)
	}
	if tok, err := dec.Token(); err != nil {
		return bad(err)
	} else if tok != json.Delim('}') {
		return bad(fmt.Errorf("unexpected %v", tok))
	}
	if _, err := dec.Token(); err != io.EOF {
		return bad(errors.New("data after the header object"))
	}
	return entries, meta, nil
}

func parseEntry(name string, raw json.RawMessage) (entry, error) {
	var info tensorInfo
	if err := json.Unmarshal(raw, &info); err != nil {
		return entry{}, fmt.Errorf("tensor %q: bad header entry: %v", name, err)
	}
	if info.DType == nil || info.Shape == nil || info.DataOffsets == nil {
		return entry{}, fmt.Errorf("tensor %q: header entry needs dtype, shape and data_offsets", name)
	}
	dt, ok := dtypesByName[*info.DType]
	if !ok {
		return entry{}, fmt.Errorf("tensor %q: unsupported dtype %q", name, *info.DType)
	}
	offs := *info.DataOffsets
	if len(offs) != 2 {
		return entry{}, fmt.Errorf("tensor %q: data_offsets has %d numbers, want [begin, end]", name, len(offs))
	}
	// Anything past maxInt64 cannot be an offset into a file; rejecting it
	// here keeps the arithmetic below free of overflow.
	if offs[0] > offs[1] || offs[1] > math.MaxInt64 {
		return entry{}, fmt.Errorf("tensor %q: bad data_offsets [%d, %d]", name, offs[0], offs[1])
	}
	nbytes := offs[1] - offs[0]
	shape := make([]int, len(*info.Shape))
	// The element count is capped so that elems·size cannot wrap: past the
	// cap the shape needs more bytes than any file holds. A zero dim
	// anywhere makes the tensor empty whatever the other dims say.
	const maxElems = math.MaxInt64 / 8
	elems, tooBig := uint64(1), false
	for i, d := range *info.Shape {
		if d < 0 {
			return entry{}, fmt.Errorf("tensor %q: negative dim in shape %v", name, *info.Shape)
		}
		shape[i] = int(d)
	}
	for _, d := range *info.Shape {
		if d == 0 {
			elems, tooBig = 0, false
			break
		}
		if !tooBig && elems > maxElems/uint64(d) {
			tooBig = true
		}
		if !tooBig {
			elems *= uint64(d)
		}
	}
	if want := elems * uint64(dt.Size()); tooBig || want != nbytes {
		need := fmt.Sprintf("%d bytes", want)
		if tooBig {
			need = fmt.Sprintf("more than %d bytes", nbytes)
		}
		return entry{}, fmt.Errorf("tensor %q: shape %v of %s needs %s, data_offsets give %d", name, *info.Shape, *info.DType, need, nbytes)
	}
	return entry{name: name, dtype: dt, shape: shape, begin: int64(offs[0]), end: int64(offs[1])}, nil
}

// checkLayout requires the tensors to tile [0, dataLen) exactly.
func checkLayout(entries []entry, dataLen int64) error {
	sorted := append([]entry(nil), entries...)
	sort.Slice(sorted, func(i, j int) bool {
		if sorted[i].begin != sorted[j].begin {
			return sorted[i].begin < sorted[j].begin
		}
		return sorted[i].end < sorted[j].end
	})
	var next int64 // where the next tensor must start
	var last string
	for i, e := range sorted {
		switch {
		case e.begin < next:
			prev := sorted[i-1]
			return fmt.Errorf("tensor %q (bytes [%d, %d)) overlaps tensor %q (bytes [%d, %d))", e.name, e.begin, e.end, prev.name, prev.begin, prev.end)
		case e.begin > next:
			return fmt.Errorf("bytes [%d, %d) of the data belong to no tensor", next, e.begin)
		}
		next, last = e.end, e.name
	}
	switch {
	case next > dataLen:
		return fmt.Errorf("truncated: header says %d bytes of data, file has %d (tensor %q ends at byte %d)", next, dataLen, last, next)
	case next < dataLen:
		return fmt.Errorf("%d stray bytes after the last tensor's data", dataLen-next)
	}
	return nil
}

// decodeData converts little-endian bytes (already checked to match the
// shape) into a tensor.
func decodeData(e entry, b []byte) (*ir.Tensor, error) {
	if e.dtype == ir.Bool {
		for i, v := range b {
			if v > 1 {
				return nil, fmt.Errorf("tensor %q: element %d is byte %d, not a BOOL (0 or 1)", e.name, i, v)
			}
		}
	}
	t := ir.NewTensor(e.dtype, e.shape...)
	rawdata.Decode(t, b)
	return t, nil
}
