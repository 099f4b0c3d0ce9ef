package npy

import (
	"bytes"
	"crsc/internal/f16"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"crsc/compiler/ir"
)

// tensorsEqual compares dtype, shape and elements bit for bit, so NaN
// payloads and signed zeros count.
func tensorsEqual(a, b *ir.Tensor) bool {
	if a.DType != b.DType || !slices.Equal(a.Shape, b.Shape) {
		return false
	}
	n := ir.NumElements(a.Shape)
	switch a.DType {
	case ir.Float32, ir.Float16:
		return equalBy(a.F32, b.F32, n, math.Float32bits)
	case ir.Float64:
		return equalBy(a.F64, b.F64, n, math.Float64bits)
	case ir.Int64:
		return equalBy(a.I64, b.I64, n, same)
	case ir.Int32, ir.Int8, ir.Uint8:
		return equalBy(a.I32, b.I32, n, same)
	case ir.Bool:
		return equalBy(a.Bool, b.Bool, n, same)
	}
	return true
}

// equalBy reports whether a and b both hold n elements that key maps to
// the same values.
func equalBy[T any, K comparable](a, b []T, n int, key func(T) K) bool {
	if len(a) != n || len(b) != n {
		return false
	}
	for i := range a {
		if key(a[i]) != key(b[i]) {
			return false
		}
	}
	return true
}

func same[T any](v T) T { return v }

func roundTripCases() map[string]*ir.Tensor {
	nan := float32(math.NaN())
	big := ir.NewTensor(ir.Float32, 70, 1000) // spans several write batches
	for i := range big.F32 {
		big.F32[i] = float32(i) * 0.5
	}
	return map[string]*ir.Tensor{
		"f32 2x3":     ir.FromFloat32([]int{2, 3}, []float32{1, -2, 3.5, nan, float32(math.Inf(-1)), float32(math.Copysign(0, -1))}),
		"f32 scalar":  ir.ScalarF32(7),
		"f32 0x4":     ir.NewTensor(ir.Float32, 0, 4),
		"f32 big":     big,
		"f32 rank 5":  ir.NewTensor(ir.Float32, 1, 2, 1, 3, 1),
		"f64":         {DType: ir.Float64, Shape: []int{2}, F64: []float64{math.Pi, -1e-300}},
		"i64 scalar":  ir.FromInt64(nil, []int64{-5}),
		"i64":         ir.FromInt64([]int{3}, []int64{math.MaxInt64, math.MinInt64, 0}),
		"i32":         {DType: ir.Int32, Shape: []int{1, 2}, I32: []int32{math.MinInt32, 42}},
		"bool":        {DType: ir.Bool, Shape: []int{3}, Bool: []bool{true, false, true}},
		"bool scalar": {DType: ir.Bool, Shape: []int{}, Bool: []bool{true}},
		"u8":          {DType: ir.Uint8, Shape: []int{2}, I32: []int32{0, 255}},
		"i8":          {DType: ir.Int8, Shape: []int{2}, I32: []int32{-128, 127}},
		"f16":         {DType: ir.Float16, Shape: []int{4}, F32: []float32{1, 0x1p-24, 65504, float32(math.Inf(1))}},
	}
}

func TestRoundTrip(t *testing.T) {
	for name, want := range roundTripCases() {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := Write(&buf, want); err != nil {
				t.Fatal(err)
			}
			if hdr := buf.Len() - want.Len()*want.DType.Size(); hdr%64 != 0 {
				t.Errorf("data starts at byte %d, not 64-byte aligned", hdr)
			}
			got, err := Read(&buf)
			if err != nil {
				t.Fatal(err)
			}
			if !tensorsEqual(got, want) {
				t.Fatalf("got %v, want %v", got, want)
			}
			if buf.Len() != 0 {
				t.Errorf("Read left %d bytes unread", buf.Len())
			}
		})
	}
}

func TestFileRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.npy")
	want := ir.FromFloat32([]int{2, 2}, []float32{1, 2, 3, 4})
	if err := WriteFile(path, want); err != nil {
		t.Fatal(err)
	}
	got, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !tensorsEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func TestWriteErrors(t *testing.T) {
	cases := map[string]struct {
		t    *ir.Tensor
		want string
	}{
		"nil":           {nil, "nil tensor"},
		"short data":    {ir.FromFloat32([]int{2, 2}, []float32{1}), "has 1 elements, want 4"},
		"negative dim":  {ir.FromFloat32([]int{-1}, nil), "negative dimension"},
		"invalid dtype": {&ir.Tensor{Shape: []int{}}, "cannot write dtype invalid"},
		"i8 range":      {&ir.Tensor{DType: ir.Int8, Shape: []int{1}, I32: []int32{200}}, "out of range"},
		"u8 range":      {&ir.Tensor{DType: ir.Uint8, Shape: []int{1}, I32: []int32{-1}}, "out of range"},
	}
	for name, c := range cases {
		err := Write(&bytes.Buffer{}, c.t)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want error containing %q", name, err, c.want)
		}
	}
}

// npyBytes builds a file with a hand-written header, for malformed inputs.
func npyBytes(major byte, hdr string, data []byte) []byte {
	b := append([]byte{}, magic...)
	b = append(b, major, 0)
	if major == 1 {
		b = binary.LittleEndian.AppendUint16(b, uint16(len(hdr)))
	} else {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(hdr)))
	}
	b = append(b, hdr...)
	return append(b, data...)
}

func TestReadErrors(t *testing.T) {
	good := "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }\n"
	cases := map[string]struct {
		in   []byte
		want string
	}{
		"empty":           {nil, "empty input"},
		"short":           {[]byte("\x93NUM"), "truncated preamble"},
		"bad magic":       {[]byte("PK\x03\x04\x00\x00\x00\x00"), "bad magic"},
		"version":         {npyBytes(9, good, nil), "unsupported format version 9.0"},
		"short header":    {npyBytes(1, good, nil)[:20], "truncated header"},
		"no data":         {npyBytes(1, good, nil), "truncated data: header promises 8 bytes, got 0"},
		"part data":       {npyBytes(1, good, make([]byte, 5)), "truncated data: header promises 8 bytes, got 5"},
		"trailing":        {npyBytes(1, good, make([]byte, 11)), "3 trailing bytes after the 8 bytes of data that shape [2] of <f4 needs"},
		"two arrays":      {append(npyBytes(1, good, make([]byte, 8)), npyBytes(1, good, make([]byte, 8))...), "trailing bytes"},
		"empty, trailing": {npyBytes(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (0,), }", []byte{0}), "1 trailing bytes after the 0 bytes"},
		"big endian":      {npyBytes(1, "{'descr': '>f4', 'fortran_order': False, 'shape': (), }", nil), `unsupported dtype ">f4" (big-endian)`},
		"complex":         {npyBytes(1, "{'descr': '<c8', 'fortran_order': False, 'shape': (), }", nil), `unsupported dtype "<c8"`},
		"unsigned 32":     {npyBytes(1, "{'descr': '<u4', 'fortran_order': False, 'shape': (), }", nil), `unsupported dtype "<u4"`},
		"structured":      {npyBytes(1, "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (), }", nil), "structured arrays"},
		"fortran":         {npyBytes(1, "{'descr': '<f4', 'fortran_order': True, 'shape': (1,), }", nil), "fortran_order True"},
		"missing key":     {npyBytes(1, "{'descr': '<f4', 'shape': (1,), }", nil), `missing key "fortran_order"`},
		"extra key":       {npyBytes(1, "{'descr': '<f4', 'x': 1, 'fortran_order': False, 'shape': (1,)}", nil), `unexpected key "x"`},
		"negative dim":    {npyBytes(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }", nil), "non-negative integer"},
		"huge dim":        {npyBytes(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }", nil), "out of range"},
		"huge shape":      {npyBytes(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296), }", nil), "too large"},
		"not a dict":      {npyBytes(1, "[1, 2]", nil), "bad header"},
		"unterminated":    {npyBytes(1, "{'descr': '<f4", nil), "unterminated string"},
		"huge header":     {npyBytes(2, "", nil)[:8], "truncated header length"},
		"big v2 header":   {append(append([]byte{}, magic...), 2, 0, 0xff, 0xff, 0xff, 0xff), "exceeds"},
	}
	for name, c := range cases {
		_, err := Read(bytes.NewReader(c.in))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want error containing %q", name, err, c.want)
			continue
		}
		if strings.ContainsAny(err.Error(), "\n\r") {
			t.Errorf("%s: error spans several lines: %q", name, err)
		}
	}
}

// A header claiming terabytes on a short input must fail fast as truncated,
// not try to allocate what it claims.
func TestReadHugeClaimIsCheap(t *testing.T) {
	in := npyBytes(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (1000000, 1000000), }", make([]byte, 100))
	_, err := Read(bytes.NewReader(in))
	if err == nil || !strings.Contains(err.Error(), "truncated data") {
		t.Fatalf("got %v", err)
	}
}

// TestReadDir: only the files with the prefix are read, keyed by the name
// between the prefix and ".npy".
func TestReadDir(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"input_ids", "input_mask", "output_logits"} {
		if err := WriteFile(filepath.Join(dir, name+".npy"), ir.FromFloat32([]int{1}, []float32{1})); err != nil {
			t.Fatal(err)
		}
	}
	got, err := ReadDir(dir, "input_")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got["ids"] == nil || got["mask"] == nil {
		t.Errorf("got %v, want ids and mask", got)
	}
}

func TestReadFileErrorsNameTheFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "junk.npy")
	if err := os.WriteFile(path, []byte("hello world"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := ReadFile(path)
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "bad magic") {
		t.Errorf("got %v", err)
	}
	_, err = ReadFile(filepath.Join(dir, "missing.npy"))
	if err == nil || !strings.Contains(err.Error(), "missing.npy") {
		t.Errorf("got %v", err)
	}
}

func TestHeaderVariants(t *testing.T) {
	for _, hdr := range []string{
		`{"descr": "<f4", "fortran_order": False, "shape": (2,)}`,
		"{'shape': (2L,), 'fortran_order': False, 'descr': '<f4'}   \n",
		"{ 'descr' : '=f4' , 'fortran_order' : False , 'shape' : ( 2 , ) , }",
	} {
		got, err := Read(bytes.NewReader(npyBytes(1, hdr, make([]byte, 8))))
		if err != nil {
			t.Errorf("%q: %v", hdr, err)
			continue
		}
		if got.DType != ir.Float32 || len(got.Shape) != 1 || got.Shape[0] != 2 {
			t.Errorf("%q: got %v", hdr, got)
		}
	}
	for _, d := range []string{"<u1", ">i1", "=b1", "|u1"} {
		if _, err := Read(bytes.NewReader(npyBytes(1, "{'descr': '"+d+"', 'fortran_order': False, 'shape': ()}", []byte{1}))); err != nil {
			t.Errorf("%s: %v", d, err)
		}
	}
}

func TestHalfExhaustive(t *testing.T) {
	for h := range 1 << 16 {
		f := f16.ToFloat32(uint16(h))
		if back := f16.FromFloat32(f); back != uint16(h) {
			t.Fatalf("half %#04x -> %g -> %#04x", h, f, back)
		}
	}
}

func TestSafeName(t *testing.T) {
	for in, want := range map[string]string{
		"logits":         "logits",
		"a/b:0":          "a_b_0",
		"../etc/passwd":  ".._etc_passwd",
		"x y\tz":         "x_y_z",
		"Ünïcode-ok_1.2": "_n_code-ok_1.2",
		"":               "",
	} {
		if got := SafeName(in); got != want {
			t.Errorf("SafeName(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzRead(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.npy")
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	for _, tt := range roundTripCases() {
		if tt.Len() > 100 {
			continue
		}
		var buf bytes.Buffer
		if err := Write(&buf, tt); err == nil {
			f.Add(buf.Bytes())
		}
	}
	f.Add([]byte{})
	f.Add([]byte("\x93NUMPY\x02\x00\xff\xff\xff\x7f"))
	f.Fuzz(func(t *testing.T, in []byte) {
		got, err := Read(bytes.NewReader(in))
		if err != nil {
			if strings.ContainsAny(err.Error(), "\n\r") {
				t.Fatalf("multi-line error %q", err)
			}
			return
		}
		// Whatever we accept we must be able to write back unchanged.
		var buf bytes.Buffer
		if err := Write(&buf, got); err != nil {
			t.Fatalf("Write of accepted input: %v", err)
		}
		again, err := Read(&buf)
		if err != nil {
			t.Fatalf("reading back: %v", err)
		}
		if !tensorsEqual(got, again) {
			t.Fatalf("round trip changed %v into %v", got, again)
		}
	})
}
