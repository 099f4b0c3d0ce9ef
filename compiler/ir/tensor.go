package ir

import (
	"fmt"
	"strings"
)

// Tensor is a dense, row-major host tensor. Exactly one of the typed slices
// is in use, chosen by DType; keeping them as plain fields (rather than an
// interface) lets kernels reach the data without type switches in loops.
//
// Float16, Int8 and Uint8 data is widened on import (to F32, I32 and I32)
// because crsc computes in float32 and int64/int32; DType still records the
// original type so export can narrow it again.
//
// An Abstract tensor has a dtype and a shape but no data (every slice is
// nil): it lets crsc build and plan the memory of models whose weights are
// too large to materialize (T5-3B holds 11 GB of float32), since planning
// needs only sizes. Kernels refuse it (CheckData fails), so an abstract graph
// can be compiled and measured but never run.
type Tensor struct {
	DType DType
	Shape []int
	// Abstract: shape and dtype only, no data: for planning memory of
	// models too large to materialize.
	Abstract bool
	F32      []float32
	F64      []float64
	I64      []int64
	I32      []int32
	Bool     []bool
	// Device, when set, holds the data in an accelerator's memory instead
	// of the host slices (which are then nil). Only the backend that made
	// the tensor knows the concrete type; everything else treats the tensor
	// as opaque until that backend copies it back to the host.
	Device DeviceData
}

// DeviceData is a tensor's storage on an accelerator.
type DeviceData interface {
	// DeviceBytes is the size of the device allocation.
	DeviceBytes() int64
}

// NumElements is the product of the dims of shape (1 for a scalar).
func NumElements(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// Unravel turns a row-major flat index into a multi-index of shape, for
// error messages that point at one element.
func Unravel(i int, shape []int) []int {
	idx := make([]int, len(shape))
	for d := len(shape) - 1; d >= 0; d-- {
		if shape[d] > 0 {
			idx[d] = i % shape[d]
			i /= shape[d]
		}
	}
	return idx
}

// NewTensor allocates a zero tensor of the given type and shape.
func NewTensor(dt DType, shape ...int) *Tensor {
	t := &Tensor{DType: dt, Shape: append([]int{}, shape...)}
	n := NumElements(shape)
	switch dt {
	case Float32, Float16:
		t.F32 = make([]float32, n)
	case Float64:
		t.F64 = make([]float64, n)
	case Int64:
		t.I64 = make([]int64, n)
	case Int32, Int8, Uint8:
		t.I32 = make([]int32, n)
	case BFloat16, Int8Rows:
		t.I32 = make([]int32, dt.StorageLen(n))
	case Bool:
		t.Bool = make([]bool, n)
	default:
		panic(fmt.Sprintf("ir.NewTensor: unsupported dtype %v", dt))
	}
	return t
}

// AbstractTensor returns a tensor of the given type and shape that holds
// no data (see Tensor.Abstract): nothing is allocated however large shape is.
func AbstractTensor(dt DType, shape ...int) *Tensor {
	if dt.Size() == 0 {
		panic(fmt.Sprintf("ir.AbstractTensor: unsupported dtype %v", dt))
	}
	return &Tensor{DType: dt, Shape: append([]int{}, shape...), Abstract: true}
}

// FromFloat32 wraps data (not copied) as a float32 tensor.
func FromFloat32(shape []int, data []float32) *Tensor {
	return &Tensor{DType: Float32, Shape: append([]int{}, shape...), F32: data}
}

// FromInt64 wraps data (not copied) as an int64 tensor.
func FromInt64(shape []int, data []int64) *Tensor {
	return &Tensor{DType: Int64, Shape: append([]int{}, shape...), I64: data}
}

// Scalar returns a 0-d float32 tensor.
func ScalarF32(v float32) *Tensor { return FromFloat32(nil, []float32{v}) }

// Len is the number of elements.
func (t *Tensor) Len() int { return NumElements(t.Shape) }

// Bytes is the in-memory size of the tensor in its declared dtype.
func (t *Tensor) Bytes() int64 { return int64(t.Len()) * int64(t.DType.Size()) }

// Clone returns a deep copy.
func (t *Tensor) Clone() *Tensor {
	c := &Tensor{DType: t.DType, Shape: append([]int{}, t.Shape...), Abstract: t.Abstract}
	c.F32 = append([]float32(nil), t.F32...)
	c.F64 = append([]float64(nil), t.F64...)
	c.I64 = append([]int64(nil), t.I64...)
	c.I32 = append([]int32(nil), t.I32...)
	c.Bool = append([]bool(nil), t.Bool...)
	return c
}

// Reshaped returns a tensor sharing t's data with a new shape.
func (t *Tensor) Reshaped(shape []int) *Tensor {
	c := *t
	c.Shape = append([]int{}, shape...)
	return &c
}

// Int64s returns the elements as int64 whatever the integer type; used for
// shape-like inputs (axes, shapes, indices) that ONNX allows as int32 or int64.
func (t *Tensor) Int64s() []int64 {
	switch {
	case t.I64 != nil || t.DType == Int64:
		return t.I64
	case t.DType == Int32 || t.DType == Int8 || t.DType == Uint8:
		out := make([]int64, len(t.I32))
		for i, v := range t.I32 {
			out[i] = int64(v)
		}
		return out
	case t.DType == Float32:
		out := make([]int64, len(t.F32))
		for i, v := range t.F32 {
			out[i] = int64(v)
		}
		return out
	}
	return nil
}

// Float64At returns element i converted to float64 (for printing and tests).
func (t *Tensor) Float64At(i int) float64 {
	switch t.DType {
	case Float32, Float16:
		return float64(t.F32[i])
	case Float64:
		return t.F64[i]
	case Int64:
		return float64(t.I64[i])
	case Int32, Int8, Uint8:
		return float64(t.I32[i])
	case BFloat16:
		return float64(BF16ToFloat32(BF16At(t.I32, i)))
	case Int8Rows: // the code; its row's scale is another tensor
		return float64(Int8RowsAt(t.I32, i))
	case Bool:
		if t.Bool[i] {
			return 1
		}
	}
	return 0
}

// String is a short description: dtype, shape and the first few values.
func (t *Tensor) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%v%v{", t.DType, t.Shape)
	if t.Abstract {
		b.WriteString("abstract}")
		return b.String()
	}
	n := t.Len()
	for i := 0; i < n && i < 6; i++ {
		if i > 0 {
			b.WriteString(" ")
		}
		fmt.Fprintf(&b, "%g", t.Float64At(i))
	}
	if n > 6 {
		b.WriteString(" …")
	}
	b.WriteString("}")
	return b.String()
}

// Storage is the dtype whose slice holds d's data: float16 lives in F32,
// int8/uint8 in I32, bfloat16 packed two to an I32 word.
func (d DType) Storage() DType {
	switch d {
	case Float16:
		return Float32
	case Int8, Uint8, BFloat16, Int8Rows:
		return Int32
	}
	return d
}

// StorageLen is the length of the storage slice that holds n elements of
// d: n, except for the packed words of bfloat16 and 8-bit rows.
func (d DType) StorageLen(n int) int {
	switch d {
	case BFloat16:
		return (n + 1) / 2
	case Int8Rows:
		return (n + 3) / 4
	}
	return n
}

// Packed reports whether d is stored several elements to an int32 word, so
// that a buffer of it is allocated as StorageLen words of Storage.
func (d DType) Packed() bool { return d == BFloat16 || d == Int8Rows }

// StorageBytes is the memory n elements of d take as stored.
func (d DType) StorageBytes(n int) int64 {
	return int64(d.StorageLen(n)) * int64(d.Storage().Size())
}

// CheckData verifies that the storage slice matches the shape, so that
// indexing by shape cannot go out of range. An abstract tensor fails: it
// has no data for a kernel to read.
func (t *Tensor) CheckData() error {
	if t.Device != nil {
		return fmt.Errorf("tensor %v%v lives in device memory: copy it to the host first", t.DType, t.Shape)
	}
	if t.Abstract {
		return fmt.Errorf("abstract tensor %v%v has no data (built for planning only)", t.DType, t.Shape)
	}
	for _, d := range t.Shape {
		if d < 0 {
			return fmt.Errorf("negative dim in shape %v", t.Shape)
		}
	}
	var have int
	switch t.DType.Storage() {
	case Float32:
		have = len(t.F32)
	case Float64:
		have = len(t.F64)
	case Int64:
		have = len(t.I64)
	case Int32:
		have = len(t.I32)
	case Bool:
		have = len(t.Bool)
	default:
		return fmt.Errorf("unsupported dtype %v", t.DType)
	}
	if want := t.DType.StorageLen(t.Len()); have != want {
		return fmt.Errorf("tensor of shape %v holds %d elements, want %d", t.Shape, have, want)
	}
	return nil
}
