package npy

import (
	"bytes"
	"crsc/internal/f16"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"crsc/compiler/ir"
)

// The fixtures in testdata were written by real numpy (testdata/gen.py), so
// these tests pin us to numpy's format rather than to our own reading of it.
func TestReadNumpyFiles(t *testing.T) {
	inf := float32(math.Inf(1))
	cases := []struct {
		file string
		want *ir.Tensor
		// byteExact: our Write must reproduce numpy's bytes (np.save uses
		// format 1.0, so the v2/v3 fixtures cannot match).
		byteExact bool
	}{
		{"f4_2x3.npy", ir.FromFloat32([]int{2, 3}, []float32{0, 0.25, 0.5, 0.75, 1, 1.25}), true},
		{"f8_3.npy", &ir.Tensor{DType: ir.Float64, Shape: []int{3}, F64: []float64{1.5, -2.25, 1e300}}, true},
		{"i8_2x2.npy", ir.FromInt64([]int{2, 2}, []int64{1, -2, 1 << 62, math.MinInt64}), true},
		{"i4_4.npy", &ir.Tensor{DType: ir.Int32, Shape: []int{4}, I32: []int32{0, -1, math.MaxInt32, math.MinInt32}}, true},
		{"b1_2x2.npy", &ir.Tensor{DType: ir.Bool, Shape: []int{2, 2}, Bool: []bool{true, false, false, true}}, true},
		{"u1_3.npy", &ir.Tensor{DType: ir.Uint8, Shape: []int{3}, I32: []int32{0, 128, 255}}, true},
		{"i1_3.npy", &ir.Tensor{DType: ir.Int8, Shape: []int{3}, I32: []int32{-128, 0, 127}}, true},
		{"f2_6.npy", &ir.Tensor{DType: ir.Float16, Shape: []int{6}, F32: []float32{1, -2.5, 65504, 0x1p-24, inf, 0}}, true},
		{"f4_scalar.npy", &ir.Tensor{DType: ir.Float32, Shape: []int{}, F32: []float32{3.25}}, true},
		{"f4_0x3.npy", &ir.Tensor{DType: ir.Float32, Shape: []int{0, 3}, F32: []float32{}}, true},
		{"f4_v2.npy", ir.FromFloat32([]int{3}, []float32{1, 2, 3}), false},
		{"f4_v3.npy", ir.FromFloat32([]int{3}, []float32{1, 2, 3}), false},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			path := filepath.Join("testdata", c.file)
			got, err := ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !tensorsEqual(got, c.want) {
				t.Fatalf("got %v, want %v", got, c.want)
			}
			if !c.byteExact {
				return
			}
			orig, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			if err := Write(&buf, got); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(buf.Bytes(), orig) {
				t.Errorf("Write does not reproduce numpy's bytes:\n got %q\nwant %q", buf.Bytes(), orig)
			}
		})
	}
}

func TestReadNumpyRejects(t *testing.T) {
	for file, want := range map[string]string{
		"f4_fortran.npy":   "fortran_order True is not supported",
		"f4_bigendian.npy": `unsupported dtype ">f4" (big-endian)`,
	} {
		path := filepath.Join("testdata", file)
		_, err := ReadFile(path)
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: got error %v, want one naming the file and containing %q", file, err, want)
		}
	}
}

// numpy's float32->float16 cast is the reference for our narrowing,
// including round-half-to-even, subnormals and overflow to inf.
func TestHalfRoundingMatchesNumpy(t *testing.T) {
	in, err := ReadFile("testdata/half_in_f4.npy")
	if err != nil {
		t.Fatal(err)
	}
	out, err := ReadFile("testdata/half_out_f2.npy")
	if err != nil {
		t.Fatal(err)
	}
	if len(in.F32) != len(out.F32) || len(in.F32) == 0 {
		t.Fatalf("fixture lengths %d, %d", len(in.F32), len(out.F32))
	}
	for i, x := range in.F32 {
		got := f16.ToFloat32(f16.FromFloat32(x))
		if math.Float32bits(got) != math.Float32bits(out.F32[i]) {
			t.Errorf("f16(%g) = %g, numpy says %g", x, got, out.F32[i])
		}
	}
}
