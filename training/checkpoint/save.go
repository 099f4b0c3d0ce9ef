package checkpoint

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"unicode/utf8"

	"crsc/compiler/ir"
	"crsc/internal/atomicfile"
	"crsc/internal/rawdata"
)

// metadataKey is the header entry that holds free-form string metadata
// rather than a tensor.
const metadataKey = "__metadata__"

// entry is one tensor's place in the file; offsets are relative to the
// start of the data region, as in the header.
type entry struct {
	name       string
	dtype      ir.DType
	shape      []int
	begin, end int64
	t          *ir.Tensor // nil while loading until the data is read
}

// Save writes tensors and meta to path as a safetensors file.
//
// The file is replaced atomically: the data goes to a temporary file in
// the same directory, which is synced and then renamed over path, and the
// directory is synced so the rename itself survives a crash. A save that
// fails leaves any previous file untouched.
//
// The output is deterministic. Tensors are laid out by decreasing element
// size, then by name, the order the Hugging Face writer uses: with the
// header padded to a multiple of 8, every tensor then starts at an offset
// aligned to its element size, which zero-copy loaders rely on.
//
// Float16 tensors are rounded from their float32 storage to the nearest
// half; Int8 and Uint8 values must fit their type.
//
// The metadata written is meta plus a CRC32C of every tensor's bytes
// (keys ChecksumPrefix+name), which Load verifies.
func Save(path string, tensors map[string]*ir.Tensor, meta map[string]string) error {
	entries, header, err := prepare(tensors, meta)
	if err != nil {
		return fmt.Errorf("checkpoint %s: %v", path, err)
	}
	err = atomicfile.Write(path, func(w io.Writer) error { return writeFile(w, header, entries) })
	if err != nil {
		return fmt.Errorf("checkpoint %s: %v", path, err)
	}
	return nil
}

// encode writes the whole file to w (used by the fuzz test to re-encode
// what it loaded without touching the disk).
func encode(w io.Writer, tensors map[string]*ir.Tensor, meta map[string]string) error {
	entries, header, err := prepare(tensors, meta)
	if err != nil {
		return err
	}
	return writeFile(w, header, entries)
}

// prepare lays the tensors out and builds the header, with a checksum of
// each tensor's bytes in the metadata (see ChecksumPrefix).
func prepare(tensors map[string]*ir.Tensor, meta map[string]string) ([]entry, []byte, error) {
	entries, err := layout(tensors)
	if err != nil {
		return nil, nil, err
	}
	full, err := withChecksums(meta, entries)
	if err != nil {
		return nil, nil, err
	}
	header, err := encodeHeader(entries, full)
	if err != nil {
		return nil, nil, err
	}
	return entries, header, nil
}

// layout validates the tensors and assigns their byte ranges.
func layout(tensors map[string]*ir.Tensor) ([]entry, error) {
	entries := make([]entry, 0, len(tensors))
	for name, t := range tensors {
		switch {
		case name == metadataKey:
			return nil, fmt.Errorf("a tensor may not be named %q, the metadata key", metadataKey)
		case !utf8.ValidString(name):
			return nil, fmt.Errorf("tensor name %q is not valid UTF-8", name)
		case t == nil:
			return nil, fmt.Errorf("tensor %q is nil", name)
		}
		if _, ok := dtypeNames[t.DType]; !ok {
			return nil, fmt.Errorf("tensor %q: dtype %v cannot be stored", name, t.DType)
		}
		if err := t.CheckData(); err != nil {
			return nil, fmt.Errorf("tensor %q: %v", name, err)
		}
		entries = append(entries, entry{name: name, dtype: t.DType, shape: t.Shape, t: t})
	}
	sort.Slice(entries, func(i, j int) bool {
		a, b := entries[i], entries[j]
		if a.dtype.Size() != b.dtype.Size() {
			return a.dtype.Size() > b.dtype.Size()
		}
		return a.name < b.name
	})
	var off int64
	for i := range entries {
		entries[i].begin = off
		off += entries[i].t.Bytes()
		entries[i].end = off
	}
	return entries, nil
}

// encodeHeader builds the JSON header, padded with spaces to a multiple of
// 8 bytes. It is written by hand rather than with json.Marshal of a map so
// that the key order is the data order, as in Hugging Face's files.
func encodeHeader(entries []entry, meta map[string]string) ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	first := true
	comma := func() {
		if !first {
			b.WriteByte(',')
		}
		first = false
	}
	if len(meta) > 0 {
		keys := make([]string, 0, len(meta))
		for k := range meta {
			if !utf8.ValidString(k) || !utf8.ValidString(meta[k]) {
				return nil, fmt.Errorf("metadata %q is not valid UTF-8", k)
			}
			keys = append(keys, k)
		}
		sort.Strings(keys)
		comma()
		b.WriteString(jsonString(metadataKey) + ":{")
		for i, k := range keys {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(jsonString(k) + ":" + jsonString(meta[k]))
		}
		b.WriteByte('}')
	}
	for _, e := range entries {
		comma()
		fmt.Fprintf(&b, `%s:{"dtype":"%s","shape":[`, jsonString(e.name), dtypeNames[e.dtype])
		for i, d := range e.shape {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, "%d", d)
		}
		fmt.Fprintf(&b, `],"data_offsets":[%d,%d]}`, e.begin, e.end)
	}
	b.WriteByte('}')
	for b.Len()%8 != 0 {
		b.WriteByte(' ')
	}
	if b.Len() > maxHeaderSize {
		return nil, fmt.Errorf("header would be %d bytes, over the %d-byte limit readers enforce", b.Len(), maxHeaderSize)
	}
	return b.Bytes(), nil
}

// jsonString quotes s as JSON without Go's HTML escaping of <, > and &,
// which is valid but not what other writers produce.
func jsonString(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	return string(bytes.TrimSuffix(b.Bytes(), []byte("\n")))
}

func writeFile(w io.Writer, header []byte, entries []entry) error {
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(len(header)))
	if _, err := w.Write(n[:]); err != nil {
		return err
	}
	if _, err := w.Write(header); err != nil {
		return err
	}
	buf := make([]byte, 0, 64<<10)
	for _, e := range entries {
		var err error
		if buf, err = writeData(w, buf, e); err != nil {
			return err
		}
	}
	return nil
}

// writeData writes one tensor's elements little-endian, through buf in
// chunks so that a large tensor needs no second full-size copy.
func writeData(w io.Writer, buf []byte, e entry) ([]byte, error) {
	t := e.t
	if i := rawdata.OutOfRange(t); i >= 0 {
		return buf, fmt.Errorf("tensor %q: element %d is %d, out of range for %s", e.name, i, t.I32[i], dtypeNames[t.DType])
	}
	n, step := t.Len(), max(1, cap(buf)/8)
	for lo := 0; lo < n; lo += step {
		buf = rawdata.Append(buf[:0], t, lo, min(lo+step, n))
		if _, err := w.Write(buf); err != nil {
			return buf, err
		}
	}
	return buf, nil
}
