package checkpoint

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"crsc/compiler/ir"
	"crsc/internal/atomicfile"
)

// allDTypes has one tensor of every dtype, with awkward values: NaN and
// infinities, extremes of each integer type, a scalar and an empty tensor.
func allDTypes() map[string]*ir.Tensor {
	f16 := ir.NewTensor(ir.Float16, 2, 3)
	copy(f16.F32, []float32{0, -1.5, 65504, float32(math.Inf(-1)), 5.960464477539063e-08, 0.333251953125})
	i8 := ir.NewTensor(ir.Int8, 4)
	copy(i8.I32, []int32{-128, -1, 0, 127})
	u8 := ir.NewTensor(ir.Uint8, 3)
	copy(u8.I32, []int32{0, 1, 255})
	return map[string]*ir.Tensor{
		"f32":   ir.FromFloat32([]int{2, 2}, []float32{1, -2.5, float32(math.NaN()), float32(math.Inf(1))}),
		"f64":   {DType: ir.Float64, Shape: []int{3}, F64: []float64{math.Pi, -0.0, math.MaxFloat64}},
		"i64":   ir.FromInt64([]int{2}, []int64{math.MinInt64, math.MaxInt64}),
		"i32":   {DType: ir.Int32, Shape: []int{1, 2}, I32: []int32{math.MinInt32, 7}},
		"bool":  {DType: ir.Bool, Shape: []int{3}, Bool: []bool{true, false, true}},
		"f16":   f16,
		"i8":    i8,
		"u8":    u8,
		"step":  ir.FromInt64([]int{}, []int64{42}), // scalar
		"empty": ir.NewTensor(ir.Float32, 0, 5),
	}
}

// sameTensor compares bit for bit, so NaN equals NaN and -0 differs from 0.
func sameTensor(a, b *ir.Tensor) bool {
	if a.DType != b.DType || len(a.Shape) != len(b.Shape) || a.Len() != b.Len() {
		return false
	}
	for i := range a.Shape {
		if a.Shape[i] != b.Shape[i] {
			return false
		}
	}
	for i := 0; i < a.Len(); i++ {
		switch a.DType.Storage() {
		case ir.Float32:
			if math.Float32bits(a.F32[i]) != math.Float32bits(b.F32[i]) {
				return false
			}
		case ir.Float64:
			if math.Float64bits(a.F64[i]) != math.Float64bits(b.F64[i]) {
				return false
			}
		case ir.Int64:
			if a.I64[i] != b.I64[i] {
				return false
			}
		case ir.Int32:
			if a.I32[i] != b.I32[i] {
				return false
			}
		case ir.Bool:
			if a.Bool[i] != b.Bool[i] {
				return false
			}
		}
	}
	return true
}

func TestRoundTrip(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		name    string
		tensors map[string]*ir.Tensor
		meta    map[string]string
	}{
		{"all_dtypes", allDTypes(), map[string]string{"format": "pt", "step": "42", "note": `quotes " and <html> & ünïcode`}},
		{"empty", map[string]*ir.Tensor{}, nil},
		{"meta_only", nil, map[string]string{"k": "v"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(dir, c.name+".safetensors")
			if err := Save(path, c.tensors, c.meta); err != nil {
				t.Fatal(err)
			}
			got, meta, err := Load(path)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(c.tensors) {
				t.Fatalf("loaded %d tensors, saved %d", len(got), len(c.tensors))
			}
			for name, want := range c.tensors {
				if !sameTensor(got[name], want) {
					t.Errorf("tensor %s: saved %v, loaded %v", name, want, got[name])
				}
			}
			if len(meta) != len(c.meta) {
				t.Fatalf("metadata %v, saved %v", meta, c.meta)
			}
			for k, v := range c.meta {
				if meta[k] != v {
					t.Errorf("metadata %q = %q, saved %q", k, meta[k], v)
				}
			}
			// Saving again must give the same bytes (deterministic output).
			first, _ := os.ReadFile(path)
			if err := Save(path, got, meta); err != nil {
				t.Fatal(err)
			}
			if second, _ := os.ReadFile(path); !bytes.Equal(first, second) {
				t.Fatal("saving what was loaded gave different bytes")
			}
		})
	}
}

// TestByteLayout pins the exact bytes against a file built by hand from
// the safetensors specification.
func TestByteLayout(t *testing.T) {
	i8 := ir.NewTensor(ir.Int8, 3)
	copy(i8.I32, []int32{-1, 0, 1})
	tensors := map[string]*ir.Tensor{
		"b":   i8,
		"a":   ir.FromFloat32([]int{2}, []float32{1, -2}),
		"c":   ir.FromInt64([]int{1, 1}, []int64{258}),
		"h":   {DType: ir.Float16, Shape: []int{1}, F32: []float32{1}},
		"<&>": {DType: ir.Bool, Shape: []int{}, Bool: []bool{true}},
	}
	// The metadata carries each tensor's CRC32C (Castagnoli) of its bytes
	// below, computed with a bitwise CRC-32C independent of hash/crc32.
	json := `{"__metadata__":{"crc32c/<&>":"a016d052","crc32c/a":"aa36f2c9","crc32c/b":"030a0bd1",` +
		`"crc32c/c":"7653640c","crc32c/h":"8cc1f1b3","format":"pt"},` +
		// 8-byte elements first, then 4, 2, 1; by name within a size.
		`"c":{"dtype":"I64","shape":[1,1],"data_offsets":[0,8]},` +
		`"a":{"dtype":"F32","shape":[2],"data_offsets":[8,16]},` +
		`"h":{"dtype":"F16","shape":[1],"data_offsets":[16,18]},` +
		`"<&>":{"dtype":"BOOL","shape":[],"data_offsets":[18,19]},` +
		`"b":{"dtype":"I8","shape":[3],"data_offsets":[19,22]}}`
	if len(json) != 419 {
		t.Fatalf("hand-built header is %d bytes; fix the padding below", len(json))
	}
	header := json + "     "                     // pad 419 to 424, a multiple of 8
	want := []byte{0xa8, 0x01, 0, 0, 0, 0, 0, 0} // 424, little-endian
	want = append(want, header...)
	want = append(want,
		2, 1, 0, 0, 0, 0, 0, 0, // I64 258
		0, 0, 0x80, 0x3f, 0, 0, 0, 0xc0, // F32 1, -2
		0x00, 0x3c, // F16 1.0
		1,                // BOOL true
		0xff, 0x00, 0x01, // I8 -1, 0, 1
	)
	path := filepath.Join(t.TempDir(), "x.safetensors")
	if err := Save(path, tensors, map[string]string{"format": "pt"}); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("file bytes\n got %q\nwant %q", got, want)
	}
}

func TestSaveRejects(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.safetensors")
	i8 := ir.NewTensor(ir.Int8, 1)
	i8.I32[0] = 200
	for _, c := range []struct {
		tensors map[string]*ir.Tensor
		want    string
	}{
		{map[string]*ir.Tensor{"__metadata__": ir.ScalarF32(1)}, "metadata key"},
		{map[string]*ir.Tensor{"x": nil}, "nil"},
		{map[string]*ir.Tensor{"x": {DType: ir.Float32, Shape: []int{3}, F32: []float32{1}}}, "holds 1 elements"},
		{map[string]*ir.Tensor{"x": i8}, "out of range for I8"},
	} {
		err := Save(path, c.tensors, nil)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "checkpoint "+path+": ") {
			t.Errorf("Save: err = %v, want %q", err, c.want)
		}
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("a rejected Save left a file behind (stat: %v)", err)
	}
}

// validFile is a small, valid file to corrupt.
func validFile(t *testing.T) []byte {
	var b bytes.Buffer
	err := encode(&b, map[string]*ir.Tensor{
		"w": ir.FromFloat32([]int{2, 2}, []float32{1, 2, 3, 4}),
		"n": ir.FromInt64([]int{1}, []int64{5}),
	}, map[string]string{"format": "pt"})
	if err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// withHeader builds a file from a header and data, padding as Save does.
func withHeader(header string, data []byte) []byte {
	for len(header)%8 != 0 {
		header += " "
	}
	out := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	return append(append(out, header...), data...)
}

func TestLoadCorrupt(t *testing.T) {
	dir := t.TempDir()
	valid := validFile(t)
	f32 := func(offs string) string {
		return `{"w":{"dtype":"F32","shape":[2],"data_offsets":` + offs + `}}`
	}
	eight := make([]byte, 8)
	for _, c := range []struct {
		name string
		data []byte
		want string
	}{
		{"empty_file", nil, "truncated: file has 0 bytes"},
		{"short_length", []byte{1, 2, 3}, "truncated: file has 3 bytes"},
		{"header_past_end", valid[:20], "truncated: header says it is"},
		{"data_cut", valid[:len(valid)-3], "truncated: header says 24 bytes of data, file has 21"},
		{"huge_header_len", binary.LittleEndian.AppendUint64(nil, 1<<40), "over the 100000000-byte limit"},
		{"not_json", withHeader(`{"w": nope}`, nil), "bad header JSON"},
		{"json_array", withHeader(`[1,2]`, nil), "not a JSON object"},
		{"trailing_json", withHeader(`{}{}`, nil), "data after the header object"},
		{"duplicate", withHeader(`{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, eight), `lists "w" twice`},
		{"bad_metadata", withHeader(`{"__metadata__":{"k":1}}`, nil), "must map strings to strings"},
		{"missing_field", withHeader(`{"w":{"dtype":"F32","shape":[2]}}`, eight), "needs dtype, shape and data_offsets"},
		{"unknown_dtype", withHeader(`{"w":{"dtype":"BF16","shape":[4],"data_offsets":[0,8]}}`, eight), `unsupported dtype "BF16"`},
		{"negative_dim", withHeader(`{"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}`, eight), "negative dim"},
		{"float_dim", withHeader(`{"w":{"dtype":"F32","shape":[1.5],"data_offsets":[0,8]}}`, eight), "bad header entry"},
		{"reversed_offsets", withHeader(f32(`[8,0]`), eight), "bad data_offsets [8, 0]"},
		{"three_offsets", withHeader(f32(`[0,4,8]`), eight), "has 3 numbers"},
		{"wrong_length", withHeader(f32(`[0,4]`), eight[:4]), "shape [2] of F32 needs 8 bytes, data_offsets give 4"},
		{"huge_shape", withHeader(`{"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}}`, eight), "needs more than 8 bytes"},
		{"wrapping_shape", withHeader(`{"w":{"dtype":"U8","shape":[4294967296,4294967296],"data_offsets":[0,0]}}`, nil), "needs more than 0 bytes"},
		{"offsets_out_of_range", withHeader(f32(`[1000,1008]`), eight), "bytes [0, 1000) of the data belong to no tensor"},
		{"offsets_past_end", withHeader(f32(`[0,8]`), eight[:6]), `truncated: header says 8 bytes of data, file has 6 (tensor "w" ends at byte 8)`},
		{"offset_overflow", withHeader(f32(`[18446744073709551608,18446744073709551615]`), eight), "bad data_offsets"},
		{"overlap", withHeader(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, eight), `overlaps tensor "a"`},
		{"gap", withHeader(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, eight), "bytes [0, 4) of the data belong to no tensor"},
		{"stray_bytes", append(append([]byte{}, valid...), 0), "1 stray bytes"},
		{"bad_bool", withHeader(`{"b":{"dtype":"BOOL","shape":[1],"data_offsets":[0,1]}}`, []byte{7}), "not a BOOL"},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(dir, c.name+".safetensors")
			if err := os.WriteFile(path, c.data, 0o644); err != nil {
				t.Fatal(err)
			}
			_, _, err := Load(path)
			if err == nil {
				t.Fatal("Load accepted a corrupt file")
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "checkpoint "+path+": ") || !strings.Contains(msg, c.want) || strings.Contains(msg, "\n") {
				t.Fatalf("error %q\nwant one line, starting with the path, containing %q", msg, c.want)
			}
		})
	}
}

// TestLoadEveryTruncation cuts a valid file at every length: each must be
// an error, never a panic.
func TestLoadEveryTruncation(t *testing.T) {
	valid := validFile(t)
	for n := 0; n < len(valid); n++ {
		if _, _, err := decode(bytes.NewReader(valid[:n]), int64(n)); err == nil {
			t.Fatalf("a file cut to %d of %d bytes loaded", n, len(valid))
		}
	}
}

func TestLoadMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nope.safetensors")
	_, _, err := Load(path)
	if err == nil || err.Error() != "checkpoint "+path+": no such file or directory" {
		t.Fatalf("err = %v", err)
	}
}

// failAfter lets n bytes through, then fails, like a full disk.
type failAfter struct {
	w io.Writer
	n int
}

func (f *failAfter) Write(p []byte) (int, error) {
	if len(p) > f.n {
		k, _ := f.w.Write(p[:f.n])
		f.n = 0
		return k, errors.New("injected write failure")
	}
	f.n -= len(p)
	return f.w.Write(p)
}

func TestFailedSaveKeepsOldFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ckpt.safetensors")
	old := map[string]*ir.Tensor{"w": ir.FromFloat32([]int{2}, []float32{1, 2})}
	if err := Save(path, old, nil); err != nil {
		t.Fatal(err)
	}
	big := map[string]*ir.Tensor{"w": ir.NewTensor(ir.Float32, 1<<20)}
	atomicfile.WrapForTest = func(w io.Writer) io.Writer { return &failAfter{w: w, n: 1000} }
	err := Save(path, big, nil)
	atomicfile.WrapForTest = nil
	if err == nil || !strings.Contains(err.Error(), "injected write failure") {
		t.Fatalf("Save through a failing writer: err = %v", err)
	}
	got, _, err := Load(path)
	if err != nil {
		t.Fatalf("old checkpoint unreadable after a failed save: %v", err)
	}
	if !sameTensor(got["w"], old["w"]) {
		t.Fatalf("old checkpoint changed: %v", got["w"])
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Fatalf("a failed save left files behind: %v", names)
	}
}

func TestSaveReadOnlyDir(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root ignores directory permissions")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "ckpt.safetensors")
	old := map[string]*ir.Tensor{"w": ir.FromFloat32([]int{1}, []float32{3})}
	if err := Save(path, old, nil); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o555); err != nil {
		t.Fatal(err)
	}
	defer os.Chmod(dir, 0o755)
	if err := Save(path, map[string]*ir.Tensor{"w": ir.FromFloat32([]int{1}, []float32{4})}, nil); err == nil {
		t.Fatal("Save into a read-only directory succeeded")
	}
	got, _, err := Load(path)
	if err != nil || got["w"].F32[0] != 3 {
		t.Fatalf("old checkpoint after a failed save: %v, %v", got, err)
	}
}

// FuzzLoad feeds arbitrary bytes to the loader. Whatever it accepts must
// survive a save/load cycle unchanged. The seeds run in plain go test.
func FuzzLoad(f *testing.F) {
	var b bytes.Buffer
	if err := encode(&b, allDTypes(), map[string]string{"format": "pt"}); err != nil {
		f.Fatal(err)
	}
	all := b.Bytes()
	f.Add(all)
	f.Add(all[:len(all)/2])
	f.Add(withHeader(`{}`, nil))
	f.Add(withHeader(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, make([]byte, 8)))
	f.Add(withHeader(`{"w":{"dtype":"U8","shape":[4294967296,4294967296],"data_offsets":[0,0]}}`, nil))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	f.Add(withHeader(`{"__metadata__":{"crc32c/w":"00000000"},"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, make([]byte, 8)))
	f.Add(withHeader(`{"__metadata__":{"crc32c/w":"8a9136aa"},"w":{"dtype":"U8","shape":[4],"data_offsets":[0,4]}}`, []byte{1, 2, 3, 4}))
	f.Fuzz(func(t *testing.T, data []byte) {
		tensors, meta, err := decode(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return
		}
		var once bytes.Buffer
		if err := encode(&once, tensors, meta); err != nil {
			t.Fatalf("re-encoding a loaded file: %v", err)
		}
		tensors2, meta2, err := decode(bytes.NewReader(once.Bytes()), int64(once.Len()))
		if err != nil {
			t.Fatalf("reloading a re-encoded file: %v", err)
		}
		var twice bytes.Buffer
		if err := encode(&twice, tensors2, meta2); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(once.Bytes(), twice.Bytes()) {
			t.Fatal("save/load cycle is not stable")
		}
	})
}
