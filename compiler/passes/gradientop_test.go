package passes_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"crsc/compiler/ir"
	"crsc/compiler/onnx"
	pb "crsc/compiler/onnx/onnxpb"
	"crsc/compiler/passes"
	"crsc/internal/testenv"
	"crsc/internal/testutil"
	"crsc/runtime"
)

func readTensorPB(t *testing.T, path string) *ir.Tensor {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var tp pb.TensorProto
	if err := proto.Unmarshal(data, &tp); err != nil {
		t.Fatal(err)
	}
	tensor, err := onnx.TensorFromProto(&tp, "")
	if err != nil {
		t.Fatal(err)
	}
	return tensor
}

// TestONNXGradientOp runs ONNX's own gradient tests (Debian libonnx-testdata:
// simple/test_gradient_of_add*), whose Gradient nodes crsc lowers into
// backward graphs.
func TestONNXGradientOp(t *testing.T) {
	root := "/usr/share/libonnx-testdata/data/simple"
	testenv.NeedFile(t, root) // Debian's libonnx-testdata
	for _, name := range []string{"test_gradient_of_add", "test_gradient_of_add_and_mul"} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(root, name)
			g := testutil.LoadFile(t, filepath.Join(dir, "model.onnx"), nil)
			feeds := map[string]*ir.Tensor{}
			for i, in := range g.Inputs {
				feeds[in.Name] = readTensorPB(t, filepath.Join(dir, "test_data_set_0", "input_"+string(rune('0'+i))+".pb"))
			}
			got := testutil.Run(t, g, feeds, runtime.Options{})
			for i, out := range g.Outputs {
				want := readTensorPB(t, filepath.Join(dir, "test_data_set_0", "output_"+string(rune('0'+i))+".pb"))
				if got[out.Name].Float64At(0) != want.Float64At(0) {
					t.Errorf("output %s = %v, want %v", out.Name, got[out.Name], want)
				}
			}
		})
	}
}

// TestGradientOpNonScalarY: a Gradient of a tensor y is refused in one line
// (it would be the gradient of sum(y), which crsc does not guess).
func TestGradientOpNonScalarY(t *testing.T) {
	g := ir.NewGraph("g", 17)
	g.Opsets["ai.onnx.preview.training"] = 1
	x := g.AddInput("x", ir.Float32, ir.StaticShape(2))
	y := g.AddNode("Neg", "neg", []*ir.Value{x}, 1, nil).Outputs[0]
	y.Name = "y"
	g.Outputs = []*ir.Value{y}
	gn := g.AddNode("Gradient", "grad", []*ir.Value{x}, 1, ir.Attrs{"y": ir.StringAttr("y"), "xs": &ir.Attr{Kind: ir.AttrStrings, Strings: []string{"x"}}})
	gn.Domain = "ai.onnx.preview.training"
	g.Outputs = append(g.Outputs, gn.Outputs[0])
	err := passes.LowerGradientOps(g, nil)
	if err == nil || !strings.Contains(err.Error(), `y "y" is f32[2]; crsc differentiates a scalar y`) {
		t.Errorf("got %v", err)
	}
}
