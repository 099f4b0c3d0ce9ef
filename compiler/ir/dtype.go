package ir

import "fmt"

// DType is the element type of a Value or Tensor.
type DType uint8

// The element types crsc knows. The numbering is crsc's own; the onnx
// package maps it to and from TensorProto.DataType.
const (
	Invalid DType = iota
	Float32
	Float64
	Int64
	Int32
	Bool
	Float16
	Int8
	Uint8
	// BFloat16 is stored packed, two elements per int32 word (element 2i
	// in the low half of word i): the only 2-byte layout a Tensor has, so
	// that a bf16 stash takes half the memory of its float32 source. Only
	// Cast reads or writes it; it exists to keep activations for backward.
	BFloat16
	// Int8Rows holds signed 8-bit codes packed four per int32 word (element
	// 4i+k in byte k of word i), each row (last axis) scaled by its own
	// float32 (a separate value): an 8-bit stash, a quarter of its float32
	// source. Only QuantizeRows writes it and only DequantizeRows reads it.
	Int8Rows
)

var dtypeNames = [...]string{
	Invalid:  "invalid",
	Float32:  "f32",
	Float64:  "f64",
	Int64:    "i64",
	Int32:    "i32",
	Bool:     "bool",
	Float16:  "f16",
	Int8:     "i8",
	Uint8:    "u8",
	BFloat16: "bf16",
	Int8Rows: "i8rows",
}

func (d DType) String() string {
	if int(d) < len(dtypeNames) {
		return dtypeNames[d]
	}
	return fmt.Sprintf("dtype(%d)", uint8(d))
}

// Size is the number of bytes one element occupies in memory.
func (d DType) Size() int {
	switch d {
	case Float64, Int64:
		return 8
	case Float32, Int32:
		return 4
	case Float16, BFloat16:
		return 2
	case Bool, Int8, Uint8, Int8Rows:
		return 1
	}
	return 0
}

// IsFloat reports whether d is a floating-point type (and so can carry a gradient).
func (d DType) IsFloat() bool {
	return d == Float32 || d == Float64 || d == Float16 || d == BFloat16
}

// IsInt reports whether d is an integer type.
func (d DType) IsInt() bool { return d == Int64 || d == Int32 || d == Int8 || d == Uint8 }
