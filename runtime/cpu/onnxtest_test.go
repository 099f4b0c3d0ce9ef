package cpu

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"crsc/ir"
	pb "crsc/onnx/onnxpb"
)

// This file runs the ONNX node conformance cases under
// /usr/share/libonnx-testdata against the kernels. It is a development aid:
// set CRSC_CONFORMANCE=1 to run it (CRSC_CONFORMANCE=v lists every case).
// The single-node cases named in mustPass always run when the data exists.

const nodeTestDir = "/usr/share/libonnx-testdata/data/node"

// decodeTensor is a minimal TensorProto reader for the test data.
func decodeTensor(tp *pb.TensorProto) (*ir.Tensor, error) {
	var dt ir.DType
	switch pb.TensorProto_DataType(tp.GetDataType()) {
	case pb.TensorProto_FLOAT:
		dt = ir.Float32
	case pb.TensorProto_DOUBLE:
		dt = ir.Float64
	case pb.TensorProto_INT64:
		dt = ir.Int64
	case pb.TensorProto_INT32:
		dt = ir.Int32
	case pb.TensorProto_BOOL:
		dt = ir.Bool
	case pb.TensorProto_INT8:
		dt = ir.Int8
	case pb.TensorProto_UINT8:
		dt = ir.Uint8
	default:
		return nil, fmt.Errorf("unsupported tensor type %v", tp.GetDataType())
	}
	shape := make([]int, len(tp.Dims))
	for i, d := range tp.Dims {
		shape[i] = int(d)
	}
	if n := ir.NumElements(shape); n > 1<<24 || n < 0 {
		return nil, fmt.Errorf("tensor of shape %v too large for the test helper", shape)
	}
	t := ir.NewTensor(dt, shape...)
	raw := tp.GetRawData()
	n := t.Len()
	if raw != nil && len(raw) < n*dt.Size() {
		return nil, fmt.Errorf("raw data too short")
	}
	if raw == nil && len(tp.FloatData)+len(tp.DoubleData)+len(tp.Int64Data)+len(tp.Int32Data) < n {
		return nil, fmt.Errorf("typed data too short (not a plain tensor?)")
	}
	le := binary.LittleEndian
	for i := 0; i < n; i++ {
		switch dt {
		case ir.Float32:
			if raw != nil {
				t.F32[i] = math.Float32frombits(le.Uint32(raw[4*i:]))
			} else {
				t.F32[i] = tp.FloatData[i]
			}
		case ir.Float64:
			if raw != nil {
				t.F64[i] = math.Float64frombits(le.Uint64(raw[8*i:]))
			} else {
				t.F64[i] = tp.DoubleData[i]
			}
		case ir.Int64:
			if raw != nil {
				t.I64[i] = int64(le.Uint64(raw[8*i:]))
			} else {
				t.I64[i] = tp.Int64Data[i]
			}
		case ir.Int32:
			if raw != nil {
				t.I32[i] = int32(le.Uint32(raw[4*i:]))
			} else {
				t.I32[i] = tp.Int32Data[i]
			}
		case ir.Int8:
			if raw != nil {
				t.I32[i] = int32(int8(raw[i]))
			} else {
				t.I32[i] = tp.Int32Data[i]
			}
		case ir.Uint8:
			if raw != nil {
				t.I32[i] = int32(raw[i])
			} else {
				t.I32[i] = tp.Int32Data[i]
			}
		case ir.Bool:
			if raw != nil {
				t.Bool[i] = raw[i] != 0
			} else {
				t.Bool[i] = tp.Int32Data[i] != 0
			}
		}
	}
	return t, nil
}

func decodeAttrs(ap []*pb.AttributeProto) (ir.Attrs, error) {
	attrs := ir.Attrs{}
	for _, a := range ap {
		switch a.GetType() {
		case pb.AttributeProto_INT:
			attrs[a.GetName()] = ir.IntAttr(a.GetI())
		case pb.AttributeProto_FLOAT:
			attrs[a.GetName()] = ir.FloatAttr(a.GetF())
		case pb.AttributeProto_STRING:
			attrs[a.GetName()] = ir.StringAttr(string(a.GetS()))
		case pb.AttributeProto_INTS:
			attrs[a.GetName()] = ir.IntsAttr(a.GetInts()...)
		case pb.AttributeProto_FLOATS:
			attrs[a.GetName()] = ir.FloatsAttr(a.GetFloats()...)
		case pb.AttributeProto_TENSOR:
			t, err := decodeTensor(a.GetT())
			if err != nil {
				return nil, err
			}
			attrs[a.GetName()] = ir.TensorAttr(t)
		default:
			return nil, fmt.Errorf("attribute %s: unsupported type %v", a.GetName(), a.GetType())
		}
	}
	return attrs, nil
}

func readPB(path string, m proto.Message) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return proto.Unmarshal(b, m)
}

// runCase evaluates a case's graph node by node; skip is non-empty when the
// case uses something the helper cannot express (subgraphs, strings, ops
// without a kernel).
func runCase(dir string) (skip string, err error) {
	var model pb.ModelProto
	if err := readPB(filepath.Join(dir, "model.onnx"), &model); err != nil {
		return "", err
	}
	opset := int64(0)
	for _, o := range model.GetOpsetImport() {
		if o.GetDomain() == "" || o.GetDomain() == "ai.onnx" {
			opset = o.GetVersion()
		}
	}
	g := model.GetGraph()
	vals := map[string]*ir.Tensor{}
	for _, init := range g.GetInitializer() {
		t, err := decodeTensor(init)
		if err != nil {
			return err.Error(), nil
		}
		vals[init.GetName()] = t
	}
	data := filepath.Join(dir, "test_data_set_0")
	var inputNames []string
	for _, vi := range g.GetInput() {
		if _, isInit := vals[vi.GetName()]; !isInit {
			inputNames = append(inputNames, vi.GetName())
		}
	}
	for i, name := range inputNames {
		var tp pb.TensorProto
		if err := readPB(filepath.Join(data, fmt.Sprintf("input_%d.pb", i)), &tp); err != nil {
			return "input: " + err.Error(), nil
		}
		t, err := decodeTensor(&tp)
		if err != nil {
			return err.Error(), nil
		}
		vals[name] = t
	}
	ctx := &Ctx{Threads: 2}
	for _, np := range g.GetNode() {
		k, ok := Lookup(np.GetDomain(), np.GetOpType())
		if !ok {
			return "no kernel for " + np.GetOpType(), nil
		}
		attrs, err := decodeAttrs(np.GetAttribute())
		if err != nil {
			return err.Error(), nil
		}
		switch np.GetOpType() {
		case "Softmax", "LogSoftmax", "Hardmax":
			attrs["_opset"] = ir.IntAttr(opset)
		}
		node := &ir.Node{Name: np.GetName(), Op: np.GetOpType(), Domain: np.GetDomain(), Attrs: attrs}
		for _, o := range np.GetOutput() {
			node.Outputs = append(node.Outputs, &ir.Value{Name: o})
		}
		var ins []*ir.Tensor
		for _, name := range np.GetInput() {
			if name == "" {
				ins = append(ins, nil)
				continue
			}
			t, ok := vals[name]
			if !ok {
				return "", fmt.Errorf("value %q undefined", name)
			}
			ins = append(ins, t)
		}
		outs, err := k(ctx, node, ins)
		if err != nil {
			return "", err
		}
		for i, o := range np.GetOutput() {
			if o != "" && i < len(outs) && outs[i] != nil {
				vals[o] = outs[i]
			}
		}
	}
	for i, vi := range g.GetOutput() {
		var tp pb.TensorProto
		if err := readPB(filepath.Join(data, fmt.Sprintf("output_%d.pb", i)), &tp); err != nil {
			return "output: " + err.Error(), nil
		}
		want, err := decodeTensor(&tp)
		if err != nil {
			return err.Error(), nil
		}
		got, ok := vals[vi.GetName()]
		if !ok {
			return "", fmt.Errorf("output %q not produced", vi.GetName())
		}
		if err := compareTensors(got, want, 1e-3, 1e-5); err != nil {
			return "", fmt.Errorf("output %d (%s): %v", i, vi.GetName(), err)
		}
	}
	return "", nil
}

// compareTensors checks dtype, shape and values within rtol/atol (NaN
// matches NaN).
func compareTensors(got, want *ir.Tensor, rtol, atol float64) error {
	if storage(got.DType) != storage(want.DType) {
		return fmt.Errorf("dtype %v, want %v", got.DType, want.DType)
	}
	if !equalInts(got.Shape, want.Shape) {
		return fmt.Errorf("shape %v, want %v", got.Shape, want.Shape)
	}
	for i := 0; i < want.Len(); i++ {
		g, w := got.Float64At(i), want.Float64At(i)
		if math.IsNaN(w) && math.IsNaN(g) || g == w {
			continue
		}
		if math.IsNaN(g) || math.IsNaN(w) || math.Abs(g-w) > atol+rtol*math.Abs(w) {
			return fmt.Errorf("element %d = %v, want %v (got %v, want %v)", i, g, w, got, want)
		}
	}
	return nil
}

// mustPass lists conformance cases that guard the semantics BERT/T5 exports
// rely on; they run in the normal test suite when the data is installed.
var mustPass = []string{
	"test_add_bcast", "test_matmul_4d", "test_matmul_2d", "test_softmax_axis_0", "test_softmax_default_axis",
	"test_reshape_allowzero_reordered", "test_reshape_negative_extended_dims", "test_slice_neg_steps",
	"test_slice_end_out_of_bounds", "test_gather_negative_indices", "test_split_variable_parts_1d_opset13",
	"test_reduce_sum_empty_axes_input_noop_example", "test_reduce_mean_default_axes_keepdims_example",
	"test_range_float_type_positive_delta", "test_cumsum_1d_reverse_exclusive", "test_tril_neg",
	"test_triu_one_row", "test_layer_normalization_4d_axis_negative_3",
	"test_sce_mean_weight_ii_3d", "test_where_long_example", "test_expand_dim_changed", "test_unsqueeze_negative_axes",
	"test_squeeze_negative_axes", "test_transpose_all_permutations_4", "test_concat_3d_axis_negative_1",
	"test_gemm_all_attributes", "test_pow_bcast_array", "test_equal_bcast", "test_cast_FLOAT_to_INT64",
	"test_dropout_default_ratio", "test_constantofshape_int_zeros", "test_erf", "test_shape_start_negative_1",
}

func TestConformanceSelected(t *testing.T) {
	if _, err := os.Stat(nodeTestDir); err != nil {
		t.Skip("ONNX node test data not installed")
	}
	for _, name := range mustPass {
		dir := filepath.Join(nodeTestDir, name)
		if _, err := os.Stat(dir); err != nil {
			continue
		}
		skip, err := runCase(dir)
		if err != nil {
			t.Errorf("%s: %v", name, err)
		} else if skip != "" {
			t.Errorf("%s: skipped: %s", name, skip)
		}
	}
}

func TestConformanceAll(t *testing.T) {
	mode := os.Getenv("CRSC_CONFORMANCE")
	if mode == "" {
		t.Skip("set CRSC_CONFORMANCE=1 to run the whole ONNX node suite")
	}
	dirs, _ := filepath.Glob(filepath.Join(nodeTestDir, "test_*"))
	sort.Strings(dirs)
	pass, fail := 0, 0
	skips := map[string]int{}
	for _, dir := range dirs {
		name := filepath.Base(dir)
		skip, err := func() (skip string, err error) {
			defer func() {
				if r := recover(); r != nil {
					err = fmt.Errorf("PANIC: %v", r)
				}
			}()
			return runCase(dir)
		}()
		switch {
		case err != nil && strings.HasPrefix(name, "test_training_dropout") && !strings.Contains(name, "zero_ratio"):
			// The expected masks come from numpy's generator, not ours.
		case err != nil:
			fail++
			msg := err.Error()
			if len(msg) > 300 {
				msg = msg[:300] + "…"
			}
			t.Errorf("%s: %s", name, msg)
		case skip != "":
			key := skip
			if i := strings.Index(key, ":"); i > 0 && !strings.HasPrefix(key, "no kernel") {
				key = key[:i]
			}
			skips[key]++
			if mode == "v" {
				t.Logf("%s: skip: %s", name, skip)
			}
		default:
			pass++
		}
	}
	t.Logf("pass %d, fail %d, skipped %v", pass, fail, skips)
}
