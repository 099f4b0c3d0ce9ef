package onnx

import (
	"bytes"
	"io/fs"
	"math/rand"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"crsc/compiler/ir"
	pb "crsc/compiler/onnx/onnxpb"
	"crsc/internal/f16"
	"crsc/internal/testenv"
)

// sharedModels are the third-party exports in ../shared/models. CI must have
// them (the test fails there without them); elsewhere the test skips.
func sharedModels(t *testing.T) []string {
	t.Helper()
	paths, _ := filepath.Glob("../../../shared/models/*.onnx")
	if len(paths) == 0 {
		testenv.Missing(t, "../shared/models", fs.ErrNotExist)
	}
	return paths
}

func ownModels(t *testing.T) []string {
	paths, _ := filepath.Glob("../../testdata/onnx/*.onnx")
	if len(paths) == 0 {
		t.Fatal("no models in testdata/onnx; run testdata/onnx/gen.py")
	}
	return paths
}

// TestRoundTrip checks import → export → import gives the same printed graph
// and bit-identical initializers, for every model we have.
func TestRoundTrip(t *testing.T) {
	eachModel(t, func(t *testing.T, g1 *ir.Graph) {
		if err := g1.Verify(); err != nil {
			t.Fatal(err)
		}
		g2 := reencode(t, g1)
		g2.Name = g1.Name
		if a, b := g1.String(), g2.String(); a != b {
			t.Fatalf("graphs differ after round trip:\n%s", firstDiff(a, b))
		}
		for i, v := range g1.Inits {
			w := g2.Inits[i]
			if !bytes.Equal(TensorToProto("", v.Init).RawData, TensorToProto("", w.Init).RawData) {
				t.Fatalf("initializer %s differs after round trip", v.Name)
			}
		}
	})
}

// eachModel runs f on every model we have, imported, as a subtest named
// by its file.
func eachModel(t *testing.T, f func(t *testing.T, g *ir.Graph)) {
	for _, path := range append(sharedModels(t), ownModels(t)...) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			g, err := Load(path)
			if err != nil {
				t.Fatal(err)
			}
			f(t, g)
		})
	}
}

// reencode exports g to ONNX bytes and imports them back.
func reencode(t *testing.T, g *ir.Graph) *ir.Graph {
	t.Helper()
	data, err := Encode(g)
	if err != nil {
		t.Fatal(err)
	}
	g2, err := Decode(data, "")
	if err != nil {
		t.Fatal(err)
	}
	return g2
}

func firstDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := range al {
		if i >= len(bl) || al[i] != bl[i] {
			other := "<missing>"
			if i < len(bl) {
				other = bl[i]
			}
			return "line " + al[i] + "\n vs  " + other
		}
	}
	return "second graph is longer"
}

// TestUnsortedNodes shuffles a model's nodes; import must sort them back into
// a valid order.
func TestUnsortedNodes(t *testing.T) {
	path := ownModels(t)[0]
	data, _ := os.ReadFile(path)
	m, err := decodeProto(data)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewSource(1))
	r.Shuffle(len(m.Graph.Node), func(i, j int) { m.Graph.Node[i], m.Graph.Node[j] = m.Graph.Node[j], m.Graph.Node[i] })
	g, err := FromProto(m, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Verify(); err != nil {
		t.Fatal(err)
	}
}

func TestBadFiles(t *testing.T) {
	good, err := os.ReadFile(ownModels(t)[0])
	if err != nil {
		t.Fatal(err)
	}
	random := make([]byte, 4096)
	rand.New(rand.NewSource(7)).Read(random)
	m, _ := decodeProto(good)
	for _, n := range m.Graph.Node {
		if len(n.Input) > 0 {
			n.Input[0] = "no_such_value"
			break
		}
	}
	dangling, _ := encodeProto(m)
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "empty file"},
		{"truncated", good[:len(good)/2], "not an ONNX model"},
		{"random", random, "not an ONNX model"},
		{"text", []byte("hello, this is not a model\n"), "not an ONNX model"},
		{"dangling input", dangling, `reads "no_such_value", which nothing produces`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "m.onnx")
			os.WriteFile(path, tc.data, 0o644)
			_, err := Load(path)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "m.onnx") {
				t.Fatalf("got %v, want an error naming the file and saying %q", err, tc.want)
			}
		})
	}
	if _, err := Load("/no/such/model.onnx"); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Fatalf("missing file: %v", err)
	}
}

// TestExternalData saves a model's weights as external data and reads them back.
func TestExternalData(t *testing.T) {
	g, err := Load(ownModels(t)[0])
	if err != nil {
		t.Fatal(err)
	}
	m, err := ToProto(g)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var blob []byte
	for _, tp := range m.Graph.Initializer {
		if len(tp.RawData) < 64 {
			continue
		}
		setExternal(tp, "weights.bin", int64(len(blob)), int64(len(tp.RawData)))
		blob = append(blob, tp.RawData...)
		tp.RawData = nil
	}
	os.WriteFile(filepath.Join(dir, "weights.bin"), blob, 0o644)
	data, _ := encodeProto(m)
	os.WriteFile(filepath.Join(dir, "m.onnx"), data, 0o644)
	g2, err := Load(filepath.Join(dir, "m.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range g.Inits {
		a, b := TensorToProto("", v.Init).RawData, TensorToProto("", g2.Inits[i].Init).RawData
		if !bytes.Equal(a, b) {
			t.Fatalf("%s differs when read from external data", v.Name)
		}
	}
	// A truncated data file is an error naming the tensor.
	os.WriteFile(filepath.Join(dir, "weights.bin"), blob[:len(blob)/2], 0o644)
	if _, err := Load(filepath.Join(dir, "m.onnx")); err == nil || !strings.Contains(err.Error(), "past its end") {
		t.Fatalf("truncated external data: %v", err)
	}
}

func TestHalfRoundTrip(t *testing.T) {
	for _, f := range []float32{0, 1, -2.5, 65504, 6.1035156e-05, 5.9604645e-08, 0.333251953125} {
		if got := f16.ToFloat32(f16.FromFloat32(f)); got != f {
			t.Errorf("%g -> %g", f, got)
		}
	}
}

func TestAxesNormalization(t *testing.T) {
	// Opset 13 Unsqueeze with a constant axes input becomes an attribute,
	// and export at opset 13 turns it back into an input.
	g := ir.NewGraph("t", 13)
	x := g.AddInput("x", ir.Float32, ir.StaticShape(2, 3))
	axes := g.AddInit("axes", ir.FromInt64([]int{1}, []int64{0}))
	n := g.AddNode("Unsqueeze", "u", []*ir.Value{x, axes}, 1, nil)
	g.Outputs = []*ir.Value{n.Outputs[0]}
	if err := g.InferShapes(); err != nil {
		t.Fatal(err)
	}
	g2 := reencode(t, g)
	u := g2.Nodes[0]
	if len(u.Inputs) != 1 || !slices.Equal(u.Attrs.Ints("axes"), []int64{0}) {
		t.Fatalf("axes not normalized: %s", ir.NodeString(u))
	}
	m, _ := ToProto(g2)
	if got := m.Graph.Node[0].Input; len(got) != 2 {
		t.Fatalf("opset 13 export wants axes as input, got inputs %v", got)
	}
}

// FuzzDecode feeds arbitrary bytes to the importer: it must return a graph
// that verifies, or an error — never panic.
func FuzzDecode(f *testing.F) {
	paths, _ := filepath.Glob("../../testdata/onnx/*.op13.eval.onnx")
	for _, p := range paths {
		data, _ := os.ReadFile(p)
		f.Add(data)
		f.Add(data[:len(data)/3])
	}
	f.Add([]byte{})
	f.Add([]byte("\x08\x07\x12\x04crsc"))
	f.Fuzz(func(t *testing.T, data []byte) {
		g, err := Decode(data, "")
		if err == nil {
			if verr := g.Verify(); verr != nil {
				t.Fatalf("import accepted a graph that fails Verify: %v", verr)
			}
		}
	})
}

// TestSaveStreamsTheSameModel: the streaming writer's file decodes to the
// very ModelProto proto.Marshal would have written, for every model we
// have (initializers, the axes inputs export adds, opsets, metadata).
func TestSaveStreamsTheSameModel(t *testing.T) {
	eachModel(t, func(t *testing.T, g *ir.Graph) {
		out := filepath.Join(t.TempDir(), "model.onnx")
		if err := Save(g, out); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		var got pb.ModelProto
		if err := proto.Unmarshal(b, &got); err != nil {
			t.Fatal(err)
		}
		want, err := ToProto(g)
		if err != nil {
			t.Fatal(err)
		}
		if !proto.Equal(&got, want) {
			t.Fatal("the streamed file decodes to another model than ToProto's")
		}
		if left, _ := filepath.Glob(filepath.Join(filepath.Dir(out), ".*")); len(left) > 0 {
			t.Fatalf("temporary files left: %v", left)
		}
	})
}

// A bfloat16 tensor (the type of the stashes a training graph keeps)
// survives TensorToProto and TensorFromProto bit for bit, odd length
// included.
func TestBFloat16TensorRoundTrip(t *testing.T) {
	x := ir.NewTensor(ir.BFloat16, 3)
	for i, h := range []uint16{0x3f80, 0xff80, 0x7fc1} {
		ir.SetBF16(x.I32, i, h)
	}
	tp := TensorToProto("x", x)
	if tp.GetDataType() != int32(pb.TensorProto_BFLOAT16) || len(tp.RawData) != 6 {
		t.Fatalf("data type %d, %d raw bytes", tp.GetDataType(), len(tp.RawData))
	}
	y, err := TensorFromProto(tp, "")
	if err != nil {
		t.Fatal(err)
	}
	if y.DType != ir.BFloat16 || !slices.Equal(y.I32, x.I32) {
		t.Fatalf("got %v %x, want %x", y.DType, y.I32, x.I32)
	}
}
