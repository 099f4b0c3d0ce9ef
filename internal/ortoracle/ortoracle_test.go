//go:build ort

package ortoracle

import (
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"crsc/compiler/ir"
)

func TestBertTinyPooler(t *testing.T) {
	const model = "/work/shared/models/hf_bert_tiny_tribuo.onnx"
	if _, err := os.Stat(model); err != nil {
		t.Skipf("model not available: %v", err)
	}
	ids := []int64{3, 114, 134, 18, 1528, 269, 297, 55, 66, 385, 1599, 6, 1}
	n := len(ids)
	mask := make([]int64, n)
	for i := range mask {
		mask[i] = 1
	}
	out, err := Run(model, map[string]*ir.Tensor{
		"input_ids":      ir.FromInt64([]int{1, n}, ids),
		"attention_mask": ir.FromInt64([]int{1, n}, mask),
		"token_type_ids": ir.FromInt64([]int{1, n}, make([]int64, n)),
	})
	if err != nil {
		t.Fatal(err)
	}
	// The export names its outputs output_0 (last hidden state) and
	// output_1 (pooler).
	pooler := out["output_1"]
	if pooler == nil || len(out) != 2 {
		t.Fatalf("want outputs output_0 and output_1, got %v", out)
	}
	want := []float32{-0.09987276, -0.08381575, -0.17915812, 0.15954030, 0.12995538}
	if pooler.DType != ir.Float32 || len(pooler.F32) < len(want) {
		t.Fatalf("pooler output %v", pooler)
	}
	for i, w := range want {
		if d := math.Abs(float64(pooler.F32[i] - w)); d > 1e-6 {
			t.Errorf("pooler[%d] = %.8f, want %.8f", i, pooler.F32[i], w)
		}
	}
}

// TestSmallModel covers what the BERT model does not: 0-d inputs and
// outputs, outputs of unknown rank, bool and int32, and a training-mode
// Dropout (which must really drop, since crsc compares training graphs).
func TestSmallModel(t *testing.T) {
	path := filepath.Join(t.TempDir(), "small.onnx")
	if err := os.WriteFile(path, smallModel(), 0o644); err != nil {
		t.Fatal(err)
	}
	ones := make([]float32, 1000)
	for i := range ones {
		ones[i] = 1
	}
	out, err := Run(path, map[string]*ir.Tensor{
		"x": ir.FromFloat32([]int{2, 3}, []float32{1, 2, 3, 4, 5, 6}),
		"b": {DType: ir.Bool, Shape: []int{2}, Bool: []bool{true, false}},
		"k": {DType: ir.Int32, Shape: []int{}, I32: []int32{-7}},
		"z": ir.FromFloat32([]int{1000}, ones),
		// Shape inputs of dynamic length leave ORT unable to infer the
		// Reshape outputs' ranks, which exercises the per-output fallback.
		"s":  ir.FromInt64([]int{2}, []int64{3, 2}),
		"s0": ir.FromInt64([]int{0}, []int64{}),
	})
	if err != nil {
		t.Fatal(err)
	}
	check := func(name string, dt ir.DType, shape []int) *ir.Tensor {
		t.Helper()
		v := out[name]
		if v == nil {
			t.Fatalf("missing output %q", name)
		}
		if v.DType != dt || len(v.Shape) != len(shape) || v.Len() != ir.NumElements(shape) {
			t.Fatalf("%s: got %v, want %v%v", name, v, dt, shape)
		}
		return v
	}
	if s := check("sum", ir.Float32, nil); s.F32[0] != 21 {
		t.Errorf("sum = %v", s)
	}
	if s := check("sum_unknown_rank", ir.Float32, nil); s.F32[0] != 21 {
		t.Errorf("sum_unknown_rank = %v", s)
	}
	if x := check("x_unknown_rank", ir.Float32, []int{2, 3}); x.F32[5] != 6 {
		t.Errorf("x_unknown_rank = %v", x)
	}
	if r := check("reshaped", ir.Float32, []int{3, 2}); r.F32[5] != 6 {
		t.Errorf("reshaped = %v", r)
	}
	if r := check("reshaped0", ir.Float32, nil); r.F32[0] != 21 {
		t.Errorf("reshaped0 = %v", r)
	}
	if nb := check("not_b", ir.Bool, []int{2}); nb.Bool[0] || !nb.Bool[1] {
		t.Errorf("not_b = %v", nb)
	}
	if k := check("k64", ir.Int64, nil); k.I64[0] != -7 {
		t.Errorf("k64 = %v", k)
	}
	if k := check("k32", ir.Int32, nil); k.I32[0] != -7 {
		t.Errorf("k32 = %v", k)
	}
	d := check("dropped", ir.Float32, []int{1000})
	zeros := 0
	for _, v := range d.F32 {
		switch v {
		case 0:
			zeros++
		case 2:
		default:
			t.Fatalf("dropout output %v is neither 0 nor 2", v)
		}
	}
	if zeros < 300 || zeros > 700 {
		t.Errorf("dropout zeroed %d of 1000 with ratio 0.5; was it optimized away?", zeros)
	}
}

func TestRunErrors(t *testing.T) {
	path := filepath.Join(t.TempDir(), "small.onnx")
	if err := os.WriteFile(path, smallModel(), 0o644); err != nil {
		t.Fatal(err)
	}
	x := ir.FromFloat32([]int{2, 3}, make([]float32, 6))
	b := &ir.Tensor{DType: ir.Bool, Shape: []int{2}, Bool: []bool{true, false}}
	k := &ir.Tensor{DType: ir.Int32, Shape: []int{}, I32: []int32{1}}
	z := ir.FromFloat32([]int{3}, make([]float32, 3))
	sh := ir.FromInt64([]int{1}, []int64{6})
	for name, c := range map[string]struct {
		in   map[string]*ir.Tensor
		want string
	}{
		"missing":    {map[string]*ir.Tensor{"x": x, "b": b, "k": k, "s": sh, "s0": sh}, `missing input "z"`},
		"extra":      {map[string]*ir.Tensor{"x": x, "b": b, "k": k, "z": z, "s": sh, "s0": sh, "q": z}, `no input "q"`},
		"wrong type": {map[string]*ir.Tensor{"x": x, "b": b, "k": ir.FromInt64(nil, []int64{1}), "z": z, "s": sh, "s0": sh}, `input "k" is`},
		"short data": {map[string]*ir.Tensor{"x": ir.FromFloat32([]int{2, 3}, nil), "b": b, "k": k, "z": z, "s": sh, "s0": sh}, "needs 6 elements"},
	} {
		_, err := Run(path, c.in)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: got %v, want error containing %q and the model path", name, err, c.want)
		}
	}
	if _, err := Run(filepath.Join(t.TempDir(), "nope.onnx"), nil); err == nil {
		t.Error("missing model: no error")
	}
}

// A hand-rolled protobuf encoder keeps this test independent of crsc's own
// ONNX exporter, which is what the oracle exists to check.
type pb []byte

func (b pb) tag(field, wire int) pb { return binary.AppendUvarint(b, uint64(field<<3|wire)) }
func (b pb) varint(field int, v int64) pb {
	return binary.AppendUvarint(b.tag(field, 0), uint64(v))
}
func (b pb) bytes(field int, v []byte) pb {
	b = binary.AppendUvarint(b.tag(field, 2), uint64(len(v)))
	return append(b, v...)
}
func (b pb) str(field int, s string) pb { return b.bytes(field, []byte(s)) }
func (b pb) f32(field int, v float32) pb {
	return binary.LittleEndian.AppendUint32(b.tag(field, 5), math.Float32bits(v))
}

const (
	onnxFloat = 1
	onnxInt32 = 6
	onnxInt64 = 7
	onnxBool  = 9
)

// valueInfo declares a tensor; dims nil means no shape at all (unknown
// rank), an empty non-nil slice means rank 0, and -1 a symbolic dimension.
func valueInfo(name string, elem int64, dims []int64) []byte {
	tt := pb{}.varint(1, elem)
	if dims != nil {
		shape := pb{}
		for _, d := range dims {
			if d < 0 {
				shape = shape.bytes(1, pb{}.str(2, "N"))
			} else {
				shape = shape.bytes(1, pb{}.varint(1, d))
			}
		}
		tt = tt.bytes(2, shape)
	}
	return pb{}.str(1, name).bytes(2, pb{}.bytes(1, tt))
}

func node(op string, in, out []string, attrs ...[]byte) []byte {
	n := pb{}
	for _, s := range in {
		n = n.str(1, s)
	}
	for _, s := range out {
		n = n.str(2, s)
	}
	n = n.str(4, op)
	for _, a := range attrs {
		n = n.bytes(5, a)
	}
	return n
}

func intAttr(name string, v int64) []byte { return pb{}.str(1, name).varint(3, v).varint(20, 2) }

func smallModel() []byte {
	g := pb{}.
		bytes(1, node("ReduceSum", []string{"x"}, []string{"sum"}, intAttr("keepdims", 0))).
		bytes(1, node("Identity", []string{"sum"}, []string{"sum_unknown_rank"})).
		bytes(1, node("Identity", []string{"x"}, []string{"x_unknown_rank"})).
		bytes(1, node("ReduceSum", []string{"x"}, []string{"sum11"})).
		bytes(1, node("Reshape", []string{"x", "s"}, []string{"reshaped"})).
		bytes(1, node("Reshape", []string{"sum11", "s0"}, []string{"reshaped0"})).
		bytes(1, node("Not", []string{"b"}, []string{"not_b"})).
		bytes(1, node("Cast", []string{"k"}, []string{"k64"}, intAttr("to", onnxInt64))).
		bytes(1, node("Identity", []string{"k"}, []string{"k32"})).
		bytes(1, node("Dropout", []string{"z", "ratio", "training"}, []string{"dropped"}, intAttr("seed", 1))).
		str(2, "small").
		bytes(5, pb{}.varint(2, onnxFloat).str(8, "ratio").f32(4, 0.5)).
		bytes(5, pb{}.varint(2, onnxBool).str(8, "training").varint(5, 1)).
		bytes(11, valueInfo("x", onnxFloat, []int64{2, 3})).
		bytes(11, valueInfo("b", onnxBool, []int64{2})).
		bytes(11, valueInfo("k", onnxInt32, []int64{})).
		bytes(11, valueInfo("z", onnxFloat, []int64{-1})).
		bytes(11, valueInfo("s", onnxInt64, []int64{-1})).
		bytes(11, valueInfo("s0", onnxInt64, []int64{-1})).
		bytes(12, valueInfo("sum", onnxFloat, []int64{})).
		bytes(12, valueInfo("sum_unknown_rank", onnxFloat, nil)).
		bytes(12, valueInfo("x_unknown_rank", onnxFloat, nil)).
		bytes(12, valueInfo("reshaped", onnxFloat, nil)).
		bytes(12, valueInfo("reshaped0", onnxFloat, nil)).
		bytes(12, valueInfo("not_b", onnxBool, []int64{2})).
		bytes(12, valueInfo("k64", onnxInt64, []int64{})).
		bytes(12, valueInfo("k32", onnxInt32, []int64{})).
		bytes(12, valueInfo("dropped", onnxFloat, []int64{-1}))
	return pb{}.varint(1, 8).
		bytes(8, pb{}.str(1, "").varint(2, 13)).
		bytes(7, g)
}
