package onnx

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"crsc/compiler/ir"
	pb "crsc/compiler/onnx/onnxpb"
	"crsc/internal/atomicfile"
	"crsc/internal/rawdata"
)

// CrscDomain is the operator domain of crsc's own ops (sampling, fused
// gradients) in exported models.
const CrscDomain = "ai.crsc"

// irVersion is the ModelProto IR version written: 8 is what opsets 13–17 use
// and what ONNX Runtime 1.30 and onnx 1.12's checker accept.
const irVersion = 8

// Save writes g as an .onnx file, atomically (a kill or a full disk
// leaves the previous file), streaming each initializer's data from its
// tensor: a model as large as the memory left still saves.
func Save(g *ir.Graph, path string) error {
	m, data, err := toProto(g, false)
	if err != nil {
		return err
	}
	if err := atomicfile.Write(path, func(w io.Writer) error { return writeModel(w, m, data) }); err != nil {
		return fmt.Errorf("saving %s: %v", path, err)
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
	m, _, err := toProto(g, true)
	return m, err
}

// toProto is ToProto; without withData the graph's initializers carry no
// raw data and data[i] is the tensor of initializer i (nil for those that
// do carry theirs), for writeModel to stream.
func toProto(g *ir.Graph, withData bool) (*pb.ModelProto, []*ir.Tensor, error) {
	gp, data := graphSignature(g, withData)
	ex := newExporter(g, gp)
	for _, n := range g.Nodes {
		np, err := ex.node(n)
		if err != nil {
			return nil, nil, err
		}
		gp.Node = append(gp.Node, np)
	}
	m := &pb.ModelProto{
		IrVersion:       proto.Int64(irVersion),
		ProducerName:    proto.String("crsc"),
		ProducerVersion: proto.String("0.1"),
		Graph:           gp,
		OpsetImport:     opsetImports(g, ex.domains),
	}
	if doc, ok := g.Meta["doc"]; ok {
		m.DocString = proto.String(doc)
	}
	for len(data) < len(gp.Initializer) && !withData {
		data = append(data, nil) // the axes initializers added by node carry their data
	}
	return m, data, nil
}

// graphSignature starts the GraphProto with the inputs, outputs and
// initializers. Without withData each initializer is a header only and its
// tensor is returned in data, in the same order, for writeModel to stream.
func graphSignature(g *ir.Graph, withData bool) (*pb.GraphProto, []*ir.Tensor) {
	var data []*ir.Tensor
	gp := &pb.GraphProto{Name: proto.String(g.Name)}
	for _, v := range g.Inputs {
		gp.Input = append(gp.Input, valueInfo(v))
	}
	for _, v := range g.Outputs {
		gp.Output = append(gp.Output, valueInfo(v))
	}
	for _, v := range g.Inits {
		if withData {
			gp.Initializer = append(gp.Initializer, TensorToProto(v.Name, v.Init))
			continue
		}
		gp.Initializer = append(gp.Initializer, tensorHeader(v.Name, v.Init))
		data = append(data, v.Init)
	}
	return gp, data
}

// exporter converts nodes one at a time. It knows every value name in use,
// so initializers it adds get fresh names, and it collects the op domains
// the nodes use, so each gets an opset import.
type exporter struct {
	opset   int64
	gp      *pb.GraphProto
	names   map[string]bool
	domains map[string]bool
}

func newExporter(g *ir.Graph, gp *pb.GraphProto) *exporter {
	names := map[string]bool{}
	for _, v := range g.Values() {
		names[v.Name] = true
	}
	return &exporter{opset: g.Opsets[""], gp: gp, names: names, domains: map[string]bool{}}
}

// fresh returns base, or base_1, base_2, … if base is taken, and reserves it.
func (ex *exporter) fresh(base string) string {
	name := base
	for i := 1; ex.names[name]; i++ {
		name = fmt.Sprintf("%s_%d", base, i)
	}
	ex.names[name] = true
	return name
}

// node converts n, spelling its axes the way the model's opset expects.
func (ex *exporter) node(n *ir.Node) (*pb.NodeProto, error) {
	np := &pb.NodeProto{Name: proto.String(n.Name), OpType: proto.String(n.Op)}
	if n.Domain != "" {
		np.Domain = proto.String(n.Domain)
		ex.domains[n.Domain] = true
	}
	for _, in := range n.Inputs {
		np.Input = append(np.Input, valueName(in))
	}
	for _, out := range n.Outputs {
		np.Output = append(np.Output, valueName(out))
	}
	attrs := ex.axesAsInput(n, np)
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
	return np, nil
}

// axesAsInput handles ops whose axes moved from an attribute to the second
// input in later opsets (the IR always holds them as an attribute, see
// normalize): where this opset wants an input, the axes become a new
// initializer read as input 1. It returns the attributes left to write.
func (ex *exporter) axesAsInput(n *ir.Node, np *pb.NodeProto) ir.Attrs {
	attrs := n.Attrs
	since, ok := axesAsInputSince[n.Op]
	if !ok || n.Domain != "" || ex.opset < since || !attrs.Has(axesAttrName(n.Op)) {
		return attrs
	}
	name := ex.fresh(n.Name + "_" + axesAttrName(n.Op))
	axes := attrs.Ints(axesAttrName(n.Op))
	ex.gp.Initializer = append(ex.gp.Initializer, TensorToProto(name, ir.FromInt64([]int{len(axes)}, axes)))
	for len(np.Input) < 1 {
		np.Input = append(np.Input, "")
	}
	np.Input = append(np.Input[:1], append([]string{name}, np.Input[1:]...)...)
	return without(attrs, axesAttrName(n.Op))
}

// opsetImports lists the default opset first, then every other domain the
// graph declares or its nodes use, sorted so the output is deterministic; a
// domain used but not declared (crsc's own ops) is version 1.
func opsetImports(g *ir.Graph, used map[string]bool) []*pb.OperatorSetIdProto {
	domainList := []string{""}
	for d := range g.Opsets {
		if d != "" {
			domainList = append(domainList, d)
		}
	}
	for d := range used {
		if _, ok := g.Opsets[d]; !ok {
			domainList = append(domainList, d)
		}
	}
	sort.Strings(domainList[1:])
	var imports []*pb.OperatorSetIdProto
	for _, d := range domainList {
		version, ok := g.Opsets[d]
		if !ok {
			version = 1
		}
		imports = append(imports, &pb.OperatorSetIdProto{Domain: proto.String(d), Version: proto.Int64(version)})
	}
	return imports
}

// Protobuf field numbers writeModel splices in (onnx.proto).
const (
	modelGraphField       = 7
	graphInitializerField = 5
	tensorRawDataField    = 9
)

// writeModel writes m as proto.Marshal would, except that initializer i's
// raw data comes from data[i], converted in chunks, instead of from a
// full-size copy: the graph field is written last, with its initializers
// last inside it (protobuf readers accept fields in any order). Lengths
// are known up front, so nothing is buffered whole.
func writeModel(w io.Writer, m *pb.ModelProto, data []*ir.Tensor) error {
	opts := proto.MarshalOptions{Deterministic: true}
	gp := m.Graph
	inits := gp.Initializer
	m.Graph, gp.Initializer = nil, nil
	head, err := opts.Marshal(m)
	if err != nil {
		return err
	}
	graph, err := opts.Marshal(gp)
	m.Graph, gp.Initializer = gp, inits
	if err != nil {
		return err
	}
	entries := make([][]byte, len(inits))
	entrySize := make([]int, len(inits))
	graphSize := len(graph)
	for i, tp := range inits {
		if entries[i], err = opts.Marshal(tp); err != nil {
			return err
		}
		entrySize[i] = len(entries[i])
		if t := data[i]; t != nil {
			n := rawLen(t)
			entrySize[i] += protowire.SizeTag(tensorRawDataField) + protowire.SizeBytes(n)
		}
		graphSize += protowire.SizeTag(graphInitializerField) + protowire.SizeBytes(entrySize[i])
	}
	buf := append(head, protowire.AppendTag(nil, modelGraphField, protowire.BytesType)...)
	buf = protowire.AppendVarint(buf, uint64(graphSize))
	buf = append(buf, graph...)
	if _, err := w.Write(buf); err != nil {
		return err
	}
	chunk := make([]byte, 0, 1<<16)
	for i, e := range entries {
		b := protowire.AppendTag(chunk[:0], graphInitializerField, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(entrySize[i]))
		if _, err := w.Write(append(b, e...)); err != nil {
			return err
		}
		t := data[i]
		if t == nil {
			continue
		}
		b = protowire.AppendTag(chunk[:0], tensorRawDataField, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(rawLen(t)))
		if _, err := w.Write(b); err != nil {
			return err
		}
		n, step := t.Len(), cap(chunk)/8
		for lo := 0; lo < n; lo += step {
			if _, err := w.Write(rawdata.Append(chunk[:0], t, lo, min(lo+step, n))); err != nil {
				return err
			}
		}
	}
	return nil
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
