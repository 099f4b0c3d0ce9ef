package onnx

import (
	"crsc/internal/f16"
	"fmt"
	"math"
	"os"
	"path/filepath"

	"crsc/compiler/ir"
	pb "crsc/compiler/onnx/onnxpb"
	"crsc/internal/rawdata"
)

// dtypeFromProto maps an ONNX element type to crsc's; ok is false for types
// crsc cannot compute with (strings, complex, unsigned 16/32/64).
func dtypeFromProto(t int32) (ir.DType, bool) { return ir.DTypeFromONNX(int64(t)) }

func dtypeToProto(d ir.DType) pb.TensorProto_DataType {
	return pb.TensorProto_DataType(ir.DTypeToONNX(d))
}

func dtypeName(t int32) string {
	if s, ok := pb.TensorProto_DataType_name[t]; ok {
		return s
	}
	return fmt.Sprintf("type %d", t)
}

// TensorFromProto decodes a TensorProto. dir is the model's folder, used to
// resolve external data; "" disallows external data.
func TensorFromProto(tp *pb.TensorProto, dir string) (*ir.Tensor, error) {
	dt, ok := dtypeFromProto(tp.GetDataType())
	if !ok {
		return nil, fmt.Errorf("tensor %q: unsupported element type %s", tp.GetName(), dtypeName(tp.GetDataType()))
	}
	shape := make([]int, len(tp.Dims))
	n := 1
	for i, d := range tp.Dims {
		if d < 0 || d > math.MaxInt32 {
			return nil, fmt.Errorf("tensor %q: bad dim %d", tp.GetName(), d)
		}
		shape[i] = int(d)
		n *= int(d)
		if n > 1<<34 {
			return nil, fmt.Errorf("tensor %q: too large (%v)", tp.GetName(), tp.Dims)
		}
	}
	raw := tp.RawData
	if tp.GetDataLocation() == pb.TensorProto_EXTERNAL {
		var err error
		if raw, err = readExternal(tp, dir); err != nil {
			return nil, err
		}
	}
	t := ir.NewTensor(dt, shape...)
	if raw != nil {
		if len(raw) != n*dt.Size() {
			return nil, fmt.Errorf("tensor %q: %d bytes of data for %v %v (want %d)", tp.GetName(), len(raw), dt, shape, n*dt.Size())
		}
		rawdata.Decode(t, raw)
		return t, nil
	}
	have := 0
	switch dt {
	case ir.Float32:
		have = copy(t.F32, tp.FloatData)
	case ir.Float64:
		have = copy(t.F64, tp.DoubleData)
	case ir.Int64:
		have = copy(t.I64, tp.Int64Data)
	case ir.Int32, ir.Int8, ir.Uint8:
		have = copy(t.I32, tp.Int32Data)
	case ir.Bool:
		for i := 0; i < n && i < len(tp.Int32Data); i++ {
			t.Bool[i] = tp.Int32Data[i] != 0
		}
		have = len(tp.Int32Data)
	case ir.Float16:
		for i := 0; i < n && i < len(tp.Int32Data); i++ {
			t.F32[i] = f16.ToFloat32(uint16(tp.Int32Data[i]))
		}
		have = len(tp.Int32Data)
	case ir.BFloat16: // one element per int32_data entry, like float16
		for i := 0; i < n && i < len(tp.Int32Data); i++ {
			ir.SetBF16(t.I32, i, uint16(tp.Int32Data[i]))
		}
		have = len(tp.Int32Data)
	}
	if have != n {
		return nil, fmt.Errorf("tensor %q: %d values for %v %v (want %d)", tp.GetName(), have, dt, shape, n)
	}
	return t, nil
}

// readExternal loads data_location=EXTERNAL bytes: location is relative to the
// model's folder and may not escape it.
func readExternal(tp *pb.TensorProto, dir string) ([]byte, error) {
	var location string
	var offset, length int64 = 0, -1
	for _, kv := range tp.ExternalData {
		switch kv.GetKey() {
		case "location":
			location = kv.GetValue()
		case "offset":
			fmt.Sscan(kv.GetValue(), &offset)
		case "length":
			fmt.Sscan(kv.GetValue(), &length)
		}
	}
	if dir == "" || location == "" {
		return nil, fmt.Errorf("tensor %q: external data without a model folder or location", tp.GetName())
	}
	if filepath.IsAbs(location) || !filepath.IsLocal(location) {
		return nil, fmt.Errorf("tensor %q: external data location %q leaves the model's folder", tp.GetName(), location)
	}
	f, err := os.Open(filepath.Join(dir, location))
	if err != nil {
		return nil, fmt.Errorf("tensor %q: external data: %v", tp.GetName(), err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("tensor %q: external data: %v", tp.GetName(), err)
	}
	if length < 0 {
		length = st.Size() - offset
	}
	if offset < 0 || offset+length > st.Size() {
		return nil, fmt.Errorf("tensor %q: external data %s[%d:%d] is past its end (%d bytes)", tp.GetName(), location, offset, offset+length, st.Size())
	}
	buf := make([]byte, length)
	if _, err := f.ReadAt(buf, offset); err != nil {
		return nil, fmt.Errorf("tensor %q: external data: %v", tp.GetName(), err)
	}
	return buf, nil
}

// TensorToProto encodes t as raw little-endian data in its declared dtype.
func TensorToProto(name string, t *ir.Tensor) *pb.TensorProto {
	tp := tensorHeader(name, t)
	tp.RawData = rawdata.Append(make([]byte, 0, rawLen(t)), t, 0, t.Len())
	return tp
}

// tensorHeader is t's TensorProto without its data.
func tensorHeader(name string, t *ir.Tensor) *pb.TensorProto {
	dims := make([]int64, len(t.Shape))
	for i, d := range t.Shape {
		dims[i] = int64(d)
	}
	dt := int32(dtypeToProto(t.DType))
	return &pb.TensorProto{Name: &name, Dims: dims, DataType: &dt}
}

// rawLen is the byte length of t's raw data.
func rawLen(t *ir.Tensor) int { return t.Len() * t.DType.Size() }
