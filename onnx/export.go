package onnx

import (
	"fmt"
	"os"
	"sort"
	"strings"

	"google.golang.org/protobuf/proto"

	"crsc/ir"
	pb "crsc/onnx/onnxpb"
)

// CrscDomain is the operator domain of crsc's own ops (sampling, fused
// gradients) in exported models.
const CrscDomain = "ai.crsc"

// irVersion is the ModelProto IR version written: 8 is what opsets 13–17 use
// and what ONNX Runtime 1.30 and onnx 1.12's checker accept.
const irVersion = 8

// Save writes g as an .onnx file.
func Save(g *ir.Graph, path string) error {
	data, err := Encode(g)
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("writing %s: %v", path, err)
	}
	return nil
}

// Encode serializes g as ModelProto bytes.
func Encode(g *ir.Graph) ([]byte, error) {
	m, err := ToProto(g)
	if err != nil {
		return nil, err
	}
	return proto.MarshalOptions{Deterministic: true}.Marshal(m)
}

// ToProto converts g to a ModelProto, spelling each op the way g's opset
// expects (the reverse of normalize).
func ToProto(g *ir.Graph) (*pb.ModelProto, error) {
	opset := g.Opsets[""]
	gp := &pb.GraphProto{Name: proto.String(g.Name)}
	for _, v := range g.Inputs {
		gp.Input = append(gp.Input, valueInfo(v))
	}
	for _, v := range g.Outputs {
		gp.Output = append(gp.Output, valueInfo(v))
	}
	for _, v := range g.Inits {
		gp.Initializer = append(gp.Initializer, TensorToProto(v.Name, v.Init))
	}
	names := map[string]bool{}
	for _, v := range g.Values() {
		names[v.Name] = true
	}
	fresh := func(base string) string {
		name := base
		for i := 1; names[name]; i++ {
			name = fmt.Sprintf("%s_%d", base, i)
		}
		names[name] = true
		return name
	}
	domains := map[string]bool{}
	for _, n := range g.Nodes {
		np := &pb.NodeProto{Name: proto.String(n.Name), OpType: proto.String(n.Op)}
		if n.Domain != "" {
			np.Domain = proto.String(n.Domain)
			domains[n.Domain] = true
		}
		for _, in := range n.Inputs {
			np.Input = append(np.Input, valueName(in))
		}
		for _, out := range n.Outputs {
			np.Output = append(np.Output, valueName(out))
		}
		attrs := n.Attrs
		if since, ok := axesAsInputSince[n.Op]; ok && n.Domain == "" && opset >= since && attrs.Has(axesAttrName(n.Op)) {
			// This opset wants the axes as an input: write them as an initializer.
			name := fresh(n.Name + "_" + axesAttrName(n.Op))
			axes := attrs.Ints(axesAttrName(n.Op))
			gp.Initializer = append(gp.Initializer, TensorToProto(name, ir.FromInt64([]int{len(axes)}, axes)))
			for len(np.Input) < 1 {
				np.Input = append(np.Input, "")
			}
			np.Input = append(np.Input[:1], append([]string{name}, np.Input[1:]...)...)
			attrs = without(attrs, axesAttrName(n.Op))
		}
		for _, name := range attrs.Names() {
			if strings.HasPrefix(name, "_") {
				continue // crsc-internal annotations (e.g. _opset) are implied by the opset
			}
			ap, err := attrToProto(name, attrs[name])
			if err != nil {
				return nil, fmt.Errorf("node %q (%s): %v", n.Name, n.Op, err)
			}
			np.Attribute = append(np.Attribute, ap)
		}
		gp.Node = append(gp.Node, np)
	}
	m := &pb.ModelProto{
		IrVersion:       proto.Int64(irVersion),
		ProducerName:    proto.String("crsc"),
		ProducerVersion: proto.String("0.1"),
		Graph:           gp,
	}
	if doc, ok := g.Meta["doc"]; ok {
		m.DocString = proto.String(doc)
	}
	domainList := []string{""}
	for d := range g.Opsets {
		if d != "" {
			domainList = append(domainList, d)
		}
	}
	for d := range domains {
		if _, ok := g.Opsets[d]; !ok {
			domainList = append(domainList, d)
		}
	}
	sort.Strings(domainList[1:])
	for _, d := range domainList {
		version, ok := g.Opsets[d]
		if !ok {
			version = 1
		}
		m.OpsetImport = append(m.OpsetImport, &pb.OperatorSetIdProto{Domain: proto.String(d), Version: proto.Int64(version)})
	}
	return m, nil
}

func valueName(v *ir.Value) string {
	if v == nil {
		return ""
	}
	return v.Name
}

func without(a ir.Attrs, name string) ir.Attrs {
	b := ir.Attrs{}
	for k, v := range a {
		if k != name {
			b[k] = v
		}
	}
	return b
}

func valueInfo(v *ir.Value) *pb.ValueInfoProto {
	tt := &pb.TypeProto_Tensor{ElemType: proto.Int32(int32(dtypeToProto(v.DType)))}
	if v.HasShape {
		tt.Shape = &pb.TensorShapeProto{}
		for _, d := range v.Shape {
			dim := &pb.TensorShapeProto_Dimension{}
			switch {
			case d.IsFixed():
				dim.Value = &pb.TensorShapeProto_Dimension_DimValue{DimValue: d.Size}
			case !d.IsUnknown():
				dim.Value = &pb.TensorShapeProto_Dimension_DimParam{DimParam: d.String()}
			}
			tt.Shape.Dim = append(tt.Shape.Dim, dim)
		}
	}
	return &pb.ValueInfoProto{
		Name: proto.String(v.Name),
		Type: &pb.TypeProto{Value: &pb.TypeProto_TensorType{TensorType: tt}},
	}
}

func attrToProto(name string, a *ir.Attr) (*pb.AttributeProto, error) {
	ap := &pb.AttributeProto{Name: proto.String(name)}
	typ := func(t pb.AttributeProto_AttributeType) { ap.Type = t.Enum() }
	switch a.Kind {
	case ir.AttrInt:
		typ(pb.AttributeProto_INT)
		ap.I = proto.Int64(a.Int)
	case ir.AttrFloat:
		typ(pb.AttributeProto_FLOAT)
		ap.F = proto.Float32(a.Float)
	case ir.AttrString:
		typ(pb.AttributeProto_STRING)
		ap.S = []byte(a.Str)
	case ir.AttrInts:
		typ(pb.AttributeProto_INTS)
		ap.Ints = a.Ints
	case ir.AttrFloats:
		typ(pb.AttributeProto_FLOATS)
		ap.Floats = a.Floats
	case ir.AttrStrings:
		typ(pb.AttributeProto_STRINGS)
		for _, s := range a.Strings {
			ap.Strings = append(ap.Strings, []byte(s))
		}
	case ir.AttrTensor:
		typ(pb.AttributeProto_TENSOR)
		ap.T = TensorToProto("", a.Tensor)
	default:
		return nil, fmt.Errorf("attribute %q has no value", name)
	}
	return ap, nil
}
