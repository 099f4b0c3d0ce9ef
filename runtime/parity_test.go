package runtime_test

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"crsc/compiler/ir"
	"crsc/compiler/onnx"
	"crsc/internal/npy"
	"crsc/internal/testutil"
	"crsc/runtime"
)

// parityTol is the allowed max abs difference relative to the scale of the
// reference output (its max abs value, at least 1).
const parityTol = 1e-4

// refSet is one set of named inputs and the expected outputs.
type refSet struct {
	name    string
	inputs  map[string]*ir.Tensor
	outputs map[string]*ir.Tensor
}

// loadRefSets reads testdata/onnx/ref/<model>/set*/input_*.npy and output_*.npy.
func loadRefSets(t *testing.T, model string) []refSet {
	t.Helper()
	dirs, _ := filepath.Glob(filepath.Join("..", "testdata", "onnx", "ref", model, "set*"))
	if len(dirs) < 2 {
		t.Fatalf("want at least 2 reference sets for %s, found %d", model, len(dirs))
	}
	var sets []refSet
	for _, dir := range dirs {
		s := refSet{name: filepath.Base(dir)}
		var err error
		if s.inputs, err = npy.ReadDir(dir, "input_"); err != nil {
			t.Fatal(err)
		}
		if s.outputs, err = npy.ReadDir(dir, "output_"); err != nil {
			t.Fatal(err)
		}
		sets = append(sets, s)
	}
	return sets
}

// load imports a model and runs the load pipeline, optionally binding the
// input shapes of one input set (which folds the shape subgraphs).
func load(t *testing.T, path string, bind map[string]*ir.Tensor) *ir.Graph {
	t.Helper()
	g, err := onnx.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	testutil.Load(t, g, bind)
	return g
}

// compare reports the worst difference between got and want relative to
// want's scale.
func compare(got, want *ir.Tensor) (float64, error) {
	if fmt.Sprint(got.Shape) != fmt.Sprint(want.Shape) {
		return 0, fmt.Errorf("shape %v, want %v", got.Shape, want.Shape)
	}
	scale := 1.0
	for i := 0; i < want.Len(); i++ {
		scale = math.Max(scale, math.Abs(want.Float64At(i)))
	}
	worst := 0.0
	for i := 0; i < want.Len(); i++ {
		d := math.Abs(got.Float64At(i) - want.Float64At(i))
		if math.IsNaN(d) {
			return math.Inf(1), nil
		}
		worst = math.Max(worst, d/scale)
	}
	return worst, nil
}

func checkOutputs(t *testing.T, got, want map[string]*ir.Tensor) {
	t.Helper()
	if len(want) == 0 {
		t.Fatal("no reference outputs")
	}
	for name, w := range want {
		g, ok := got[name]
		if !ok {
			t.Fatalf("output %s missing", name)
		}
		diff, err := compare(g, w)
		if err != nil {
			t.Fatalf("output %s: %v", name, err)
		}
		if diff > parityTol {
			t.Errorf("output %s: max relative diff %.3g > %g", name, diff, parityTol)
		}
	}
}

// TestParityWithTorch runs every generated model, with shapes left symbolic
// (shape subgraphs computed at run time) and with shapes bound (folded), and
// compares with the eval-mode outputs PyTorch computed. Training-mode exports
// run with Dropout forced off, so they must agree too.
func TestParityWithTorch(t *testing.T) {
	models, _ := filepath.Glob("../testdata/onnx/*.onnx")
	if len(models) == 0 {
		t.Fatal("no models in testdata/onnx")
	}
	for _, path := range models {
		model := strings.SplitN(filepath.Base(path), ".", 2)[0]
		sets := loadRefSets(t, model)
		for _, fold := range []bool{false, true} {
			for _, set := range sets {
				t.Run(fmt.Sprintf("%s/%s/fold=%v", filepath.Base(path), set.name, fold), func(t *testing.T) {
					var bind map[string]*ir.Tensor
					if fold {
						bind = set.inputs
					}
					g := load(t, path, bind)
					got, err := runtime.Run(g, set.inputs, runtime.Options{ForceEval: true})
					if err != nil {
						t.Fatal(err)
					}
					checkOutputs(t, got, set.outputs)
				})
			}
		}
	}
}

// sharedDir returns ../shared, failing on CI when it is missing and
// skipping elsewhere.
func sharedDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join("..", "..", "shared")
	if _, err := os.Stat(filepath.Join(dir, "models")); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("../shared/models is missing on CI: %v", err)
		}
		t.Skip("../shared/models not present; skipping third-party exports")
	}
	return dir
}

// TestTribuoPooler reproduces the pooler values published with the Tribuo
// BERT export (../shared/README.md).
func TestTribuoPooler(t *testing.T) {
	path := filepath.Join(sharedDir(t), "models", "hf_bert_tiny_tribuo.onnx")
	ids := []int64{3, 114, 134, 18, 1528, 269, 297, 55, 66, 385, 1599, 6, 1}
	n := len(ids)
	ones, zeros := make([]int64, n), make([]int64, n)
	for i := range ones {
		ones[i] = 1
	}
	feeds := map[string]*ir.Tensor{
		"input_ids":      ir.FromInt64([]int{1, n}, ids),
		"attention_mask": ir.FromInt64([]int{1, n}, ones),
		"token_type_ids": ir.FromInt64([]int{1, n}, zeros),
	}
	for _, fold := range []bool{false, true} {
		var bind map[string]*ir.Tensor
		if fold {
			bind = feeds
		}
		g := load(t, path, bind)
		got, err := runtime.Run(g, feeds, runtime.Options{})
		if err != nil {
			t.Fatal(err)
		}
		pooler := got[g.Outputs[1].Name]
		want := []float32{-0.09987276, -0.08381575, -0.17915812, 0.15954030, 0.12995538}
		for i, w := range want {
			if d := math.Abs(float64(pooler.F32[i] - w)); d > 1e-6 {
				t.Errorf("fold=%v pooler[%d] = %.8f, want %.8f", fold, i, pooler.F32[i], w)
			}
		}
	}
}

// TestBadRunInputs: wrong dtype, shape, missing and unknown inputs are
// errors that name the input.
func TestBadRunInputs(t *testing.T) {
	g := load(t, "../testdata/onnx/bert_tiny_cls.op13.eval.onnx", nil)
	ids := ir.FromInt64([]int{2, 5}, make([]int64, 10))
	good := map[string]*ir.Tensor{"input_ids": ids, "attention_mask": ids, "token_type_ids": ids}
	with := func(name string, t *ir.Tensor) map[string]*ir.Tensor {
		m := map[string]*ir.Tensor{}
		for k, v := range good {
			m[k] = v
		}
		if t == nil {
			delete(m, name)
		} else {
			m[name] = t
		}
		return m
	}
	for _, tc := range []struct {
		name   string
		inputs map[string]*ir.Tensor
		want   string
	}{
		{"dtype", with("input_ids", ir.FromFloat32([]int{2, 5}, make([]float32, 10))), `input "input_ids": got f32`},
		{"rank", with("input_ids", ir.FromInt64([]int{10}, make([]int64, 10))), `input "input_ids": got shape [10]`},
		{"symbols", with("attention_mask", ir.FromInt64([]int{3, 5}, make([]int64, 15))), "batch"},
		{"missing", with("token_type_ids", nil), `input "token_type_ids"`},
		{"unknown", with("pixels", ids), `no input named "pixels"`},
		{"index", with("input_ids", ir.FromInt64([]int{2, 5}, []int64{0, 1, 2, 3, 100000, 0, 0, 0, 0, 0})), "Gather"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := runtime.Run(g, tc.inputs, runtime.Options{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}
