package runtime_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"crsc/compiler/ir"
	"crsc/runtime"
	"crsc/runtime/cpu"
)

// TestEveryKernelHasShapeRule: an op the runtime can execute must also have
// a shape rule, or memory planning and inspect would see holes.
func TestEveryKernelHasShapeRule(t *testing.T) {
	rules := map[string]bool{}
	for _, op := range ir.KnownOps() {
		rules[op] = true
	}
	for _, op := range cpu.Ops() {
		key := strings.Replace(op, ":", ".", 1)
		if op == "Constant" {
			continue // the importer turns Constant nodes into initializers
		}
		if !rules[key] {
			t.Errorf("op %s has a kernel but no shape rule", op)
		}
	}
}

// TestInferredShapesMatchRuntime runs every generated model with shapes
// bound and checks that each value's statically inferred shape and dtype are
// the ones the kernels actually produce.
func TestInferredShapesMatchRuntime(t *testing.T) {
	models, _ := filepath.Glob("../testdata/onnx/*.onnx")
	for _, path := range models {
		model := strings.SplitN(filepath.Base(path), ".", 2)[0]
		set := loadRefSets(t, model)[1]
		t.Run(filepath.Base(path), func(t *testing.T) {
			g := load(t, path, set.inputs)
			var keep []string
			for _, n := range g.Nodes {
				for _, o := range n.Outputs {
					if o != nil {
						keep = append(keep, o.Name)
					}
				}
			}
			got, err := runtime.Run(g, set.inputs, runtime.Options{Keep: keep, ForceEval: true})
			if err != nil {
				t.Fatal(err)
			}
			checked := 0
			for _, n := range g.Nodes {
				for _, o := range n.Outputs {
					if o == nil {
						continue
					}
					dims, static := o.Shape.Ints()
					if !o.HasShape || !static {
						t.Errorf("%s (%s): shape not inferred with bound inputs: %s", o.Name, n.Op, ir.TypeString(o))
						continue
					}
					tensor := got[o.Name]
					if fmt.Sprint(dims) != fmt.Sprint(tensor.Shape) || o.DType != tensor.DType {
						t.Errorf("%s (%s): inferred %s, runtime %v%v", o.Name, n.Op, ir.TypeString(o), tensor.DType, tensor.Shape)
					}
					checked++
				}
			}
			if checked == 0 {
				t.Fatal("no values checked")
			}
		})
	}
}

// TestSymbolicShapesWithoutBinding: with no --shape at all, shape inference
// through the exports' shape subgraphs gives every value a complete
// (symbolic) shape, so memory planning and autodiff never meet an unknown.
func TestSymbolicShapesWithoutBinding(t *testing.T) {
	models, _ := filepath.Glob("../testdata/onnx/*.onnx")
	shared, _ := filepath.Glob("../../shared/models/*.onnx")
	for _, path := range append(models, shared...) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			g := load(t, path, nil)
			for _, v := range g.Values() {
				if !v.HasShape {
					t.Fatalf("%s has no shape", v.Name)
				}
				for _, d := range v.Shape {
					if d.IsUnknown() {
						t.Fatalf("%s has an unknown dim: %s", v.Name, ir.TypeString(v))
					}
				}
			}
		})
	}
}
