package rawdata

import (
	"bytes"
	"reflect"
	"testing"

	"crsc/compiler/ir"
)

// cases are tensors with their bytes (Bool's 2 decodes as true; Append
// writes 1).
var cases = []struct {
	dt   ir.DType
	raw  []byte
	want *ir.Tensor
}{
	{ir.Float32, []byte{0, 0, 0x80, 0x3f, 0, 0, 0, 0xc0}, ir.FromFloat32([]int{2}, []float32{1, -2})},
	{ir.Float64, []byte{0, 0, 0, 0, 0, 0, 0xf0, 0x3f}, &ir.Tensor{DType: ir.Float64, Shape: []int{1}, F64: []float64{1}}},
	{ir.Int64, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, ir.FromInt64([]int{1}, []int64{-1})},
	{ir.Int32, []byte{2, 1, 0, 0}, &ir.Tensor{DType: ir.Int32, Shape: []int{1}, I32: []int32{258}}},
	{ir.Int8, []byte{0xff, 5}, &ir.Tensor{DType: ir.Int8, Shape: []int{2}, I32: []int32{-1, 5}}},
	{ir.Uint8, []byte{0xff, 5}, &ir.Tensor{DType: ir.Uint8, Shape: []int{2}, I32: []int32{255, 5}}},
	{ir.Bool, []byte{0, 1, 2}, &ir.Tensor{DType: ir.Bool, Shape: []int{3}, Bool: []bool{false, true, true}}},
	{ir.Float16, []byte{0, 0x3c, 0, 0xc0}, &ir.Tensor{DType: ir.Float16, Shape: []int{2}, F32: []float32{1, -2}}},
}

func TestDecode(t *testing.T) {
	for _, tc := range cases {
		got := ir.NewTensor(tc.dt, tc.want.Shape...)
		Decode(got, tc.raw)
		if !reflect.DeepEqual(got.F32, tc.want.F32) || !reflect.DeepEqual(got.F64, tc.want.F64) || !reflect.DeepEqual(got.I64, tc.want.I64) ||
			!reflect.DeepEqual(got.I32, tc.want.I32) || !reflect.DeepEqual(got.Bool, tc.want.Bool) {
			t.Errorf("%v: got %+v, want %+v", tc.dt, got, tc.want)
		}
	}
}

// TestAppend: Append writes the bytes Decode reads (a Bool's true as 1).
func TestAppend(t *testing.T) {
	for _, tc := range cases {
		want := tc.raw
		if tc.dt == ir.Bool {
			want = []byte{0, 1, 1}
		}
		if got := Append([]byte{9}, tc.want, 0, tc.want.Len()); !bytes.Equal(got, append([]byte{9}, want...)) {
			t.Errorf("%v: got % x, want 09 % x", tc.dt, got, want)
		}
	}
	x := ir.FromFloat32([]int{3}, []float32{1, 2, 3})
	if got := Append(nil, x, 1, 2); !bytes.Equal(got, []byte{0, 0, 0, 0x40}) {
		t.Errorf("element 1 alone: % x", got)
	}
}

func TestOutOfRange(t *testing.T) {
	for _, tc := range []struct {
		t    *ir.Tensor
		want int
	}{
		{&ir.Tensor{DType: ir.Int8, Shape: []int{3}, I32: []int32{-128, 127, 128}}, 2},
		{&ir.Tensor{DType: ir.Uint8, Shape: []int{3}, I32: []int32{0, -1, 256}}, 1},
		{&ir.Tensor{DType: ir.Uint8, Shape: []int{2}, I32: []int32{0, 255}}, -1},
		{&ir.Tensor{DType: ir.Int32, Shape: []int{1}, I32: []int32{1000}}, -1},
	} {
		if got := OutOfRange(tc.t); got != tc.want {
			t.Errorf("%v %v: %d, want %d", tc.t.DType, tc.t.I32, got, tc.want)
		}
	}
}
