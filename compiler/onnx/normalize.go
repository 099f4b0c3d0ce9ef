package onnx

import (
	"fmt"

	"crsc/compiler/ir"
)

// axesAsInputSince gives, per op, the opset from which `axes` (or Split's
// `split`) is an input instead of an attribute.
var axesAsInputSince = map[string]int64{
	"Squeeze": 13, "Unsqueeze": 13, "ReduceSum": 13, "Split": 13,
	"ReduceMean": 18, "ReduceMax": 18, "ReduceMin": 18, "ReduceProd": 18,
	"ReduceL1": 18, "ReduceL2": 18, "ReduceLogSum": 18, "ReduceLogSumExp": 18,
	"ReduceSumSquare": 18,
}

// axesAttrName is the attribute an op's axes input becomes.
func axesAttrName(op string) string {
	if op == "Split" {
		return "split"
	}
	return "axes"
}

// normalize rewrites opset-dependent spellings into crsc's canonical form:
//   - Constant nodes become initializers;
//   - a constant axes/split input becomes the attribute (what passes and the
//     autodiff rules read); a computed one stays an input;
//   - Clip's min/max attributes (opset < 11) become inputs;
//   - Softmax-family nodes from opset < 13 whose axis is not the last get
//     `_opset` so kernels apply the old flatten-to-2D semantics.
func normalize(g *ir.Graph) error {
	opset := g.Opsets[""]
	var kept []*ir.Node
	for _, n := range g.Nodes {
		if n.Domain != "" {
			kept = append(kept, n)
			continue
		}
		switch n.Op {
		case "Constant":
			t, err := constantValue(n)
			if err != nil {
				return err
			}
			out := n.Outputs[0]
			out.Producer, out.Init = nil, t
			out.SetType(t.DType, ir.StaticShape(t.Shape...))
			g.Inits = append(g.Inits, out)
			continue
		case "Clip":
			if opset < 11 {
				for i, name := range []string{"min", "max"} {
					if n.Attrs.Has(name) {
						for len(n.Inputs) < i+2 {
							n.Inputs = append(n.Inputs, nil)
						}
						n.Inputs[i+1] = g.AddInit(n.Name+"_"+name, ir.ScalarF32(n.Attrs.Float(name, 0)))
						delete(n.Attrs, name)
					}
				}
			}
		case "Softmax", "LogSoftmax", "Hardmax":
			if opset < 13 && n.Attrs.Int("axis", 1) != -1 {
				if n.Attrs == nil {
					n.Attrs = ir.Attrs{}
				}
				n.Attrs["_opset"] = ir.IntAttr(opset)
			}
		}
		if since, ok := axesAsInputSince[n.Op]; ok && opset >= since {
			if in := n.In(1); in != nil && in.IsConst() {
				if n.Attrs == nil {
					n.Attrs = ir.Attrs{}
				}
				n.Attrs[axesAttrName(n.Op)] = ir.IntsAttr(append([]int64{}, in.Init.Int64s()...)...)
				n.Inputs = n.Inputs[:1]
			}
		}
		kept = append(kept, n)
	}
	g.Nodes = kept
	g.RemoveDeadNodes()
	return nil
}

// constantValue reads whichever value attribute a Constant node carries.
func constantValue(n *ir.Node) (*ir.Tensor, error) {
	a := n.Attrs
	switch {
	case a.Tensor("value") != nil:
		return a.Tensor("value"), nil
	case a.Has("value_float"):
		return ir.ScalarF32(a.Float("value_float", 0)), nil
	case a.Has("value_floats"):
		f := a["value_floats"].Floats
		return ir.FromFloat32([]int{len(f)}, append([]float32{}, f...)), nil
	case a.Has("value_int"):
		return ir.FromInt64(nil, []int64{a.Int("value_int", 0)}), nil
	case a.Has("value_ints"):
		v := a.Ints("value_ints")
		return ir.FromInt64([]int{len(v)}, append([]int64{}, v...)), nil
	}
	return nil, fmt.Errorf("Constant node %q has no supported value attribute", n.Name)
}
