package onnx

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"google.golang.org/protobuf/proto"

	"crsc/compiler/ir"
	pb "crsc/compiler/onnx/onnxpb"
)

// Load reads an .onnx file (and any external data beside it) into the IR.
// Every error names the file.
func Load(path string) (*ir.Graph, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	g, err := Decode(data, filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	if g.Name == "" {
		g.Name = filepath.Base(path)
	}
	return g, nil
}

// Decode parses serialized ModelProto bytes. dir resolves external data.
func Decode(data []byte, dir string) (*ir.Graph, error) {
	if len(data) == 0 {
		return nil, errors.New("empty file, not an ONNX model")
	}
	var m pb.ModelProto
	if err := proto.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("not an ONNX model (protobuf decode failed: %v)", err)
	}
	if m.Graph == nil || m.GetIrVersion() <= 0 || len(m.OpsetImport) == 0 {
		return nil, errors.New("not an ONNX model (no graph, IR version or opset)")
	}
	return FromProto(&m, dir)
}

// FromProto converts a decoded ModelProto. The steps follow the order in
// which names become known: the opsets and metadata, the initializers and
// inputs, every node output (nodes may come in any order), then the node
// inputs and graph outputs that refer to them by name.
func FromProto(m *pb.ModelProto, dir string) (*ir.Graph, error) {
	gp := m.Graph
	g, err := graphHeader(m)
	if err != nil {
		return nil, err
	}
	im := &importer{g: g, dir: dir, values: map[string]*ir.Value{}}
	if err := im.initializers(gp.Initializer); err != nil {
		return nil, err
	}
	if err := im.inputs(gp.Input); err != nil {
		return nil, err
	}
	if err := im.nodes(gp.Node); err != nil {
		return nil, err
	}
	if err := im.wireInputs(gp.Node); err != nil {
		return nil, err
	}
	if err := im.outputs(gp.Output); err != nil {
		return nil, err
	}
	if err := g.TopoSort(); err != nil {
		return nil, err
	}
	if err := normalize(g); err != nil {
		return nil, err
	}
	return g, nil
}

// graphHeader starts the graph with its name, opsets and metadata. Without
// an ai.onnx opset no op type can be interpreted, so that is an error here.
func graphHeader(m *pb.ModelProto) (*ir.Graph, error) {
	g := &ir.Graph{Name: m.Graph.GetName(), Opsets: map[string]int64{}, Meta: map[string]string{}}
	for _, os := range m.OpsetImport {
		g.Opsets[canonicalDomain(os.GetDomain())] = os.GetVersion()
	}
	if _, ok := g.Opsets[""]; !ok {
		return nil, errors.New("model imports no ai.onnx opset")
	}
	if m.GetProducerName() != "" {
		g.Meta["producer"] = m.GetProducerName() + " " + m.GetProducerVersion()
	}
	if m.GetDocString() != "" {
		g.Meta["doc"] = m.GetDocString()
	}
	return g, nil
}

// importer holds the graph being built and every value defined so far by
// name: ONNX wires nodes by name, so each name must be defined exactly once.
type importer struct {
	g      *ir.Graph
	dir    string // resolves external data
	values map[string]*ir.Value
}

// define records v under its name; what says which kind of value it is for
// the error message.
func (im *importer) define(v *ir.Value, what string) error {
	if v.Name == "" {
		return fmt.Errorf("%s with an empty name", what)
	}
	if _, dup := im.values[v.Name]; dup {
		return fmt.Errorf("%s %q is defined twice", what, v.Name)
	}
	im.values[v.Name] = v
	return nil
}

// initializers reads the weights; their shapes are static by construction.
func (im *importer) initializers(tps []*pb.TensorProto) error {
	for _, tp := range tps {
		t, err := TensorFromProto(tp, im.dir)
		if err != nil {
			return fmt.Errorf("initializer: %v", err)
		}
		v := &ir.Value{Name: tp.GetName(), Init: t}
		v.SetType(t.DType, ir.StaticShape(t.Shape...))
		if err := im.define(v, "initializer"); err != nil {
			return err
		}
		im.g.Inits = append(im.g.Inits, v)
	}
	return nil
}

// inputs reads the graph inputs with their declared types.
func (im *importer) inputs(vis []*pb.ValueInfoProto) error {
	for _, vi := range vis {
		if v, ok := im.values[vi.GetName()]; ok && v.Init != nil {
			continue // old exporters list initializers as inputs too
		}
		v := &ir.Value{Name: vi.GetName()}
		if err := setTypeFromProto(v, vi); err != nil {
			return err
		}
		if err := im.define(v, "input"); err != nil {
			return err
		}
		im.g.Inputs = append(im.g.Inputs, v)
	}
	return nil
}

// nodes creates every node with its attributes and outputs but no inputs
// yet: nodes may come in any order, so inputs are wired once all outputs
// exist (wireInputs).
func (im *importer) nodes(nps []*pb.NodeProto) error {
	for i, np := range nps {
		n := &ir.Node{Name: np.GetName(), Op: np.GetOpType(), Domain: canonicalDomain(np.GetDomain())}
		if n.Name == "" {
			n.Name = fmt.Sprintf("%s_%d", n.Op, i)
		}
		if n.Op == "" {
			return fmt.Errorf("node %q has no op type", n.Name)
		}
		attrs, err := attrsFromProto(np.Attribute, im.dir)
		if err != nil {
			return fmt.Errorf("node %q (%s): %v", n.Name, n.Op, err)
		}
		n.Attrs = attrs
		for _, name := range np.Output {
			if name == "" {
				n.Outputs = append(n.Outputs, nil) // an omitted optional output
				continue
			}
			v := &ir.Value{Name: name, Producer: n}
			if err := im.define(v, "node output"); err != nil {
				return fmt.Errorf("node %q (%s): %v", n.Name, n.Op, err)
			}
			n.Outputs = append(n.Outputs, v)
		}
		im.g.Nodes = append(im.g.Nodes, n)
	}
	return nil
}

// wireInputs connects each node (created by nodes, in the same order) to
// the values it reads. Every dangling name is collected, so one error lists
// them all.
func (im *importer) wireInputs(nps []*pb.NodeProto) error {
	var missing []string
	for i, np := range nps {
		n := im.g.Nodes[i]
		for _, name := range np.Input {
			if name == "" {
				n.Inputs = append(n.Inputs, nil) // an omitted optional input
				continue
			}
			v, ok := im.values[name]
			if !ok {
				missing = append(missing, fmt.Sprintf("node %q (%s) reads %q, which nothing produces", n.Name, n.Op, name))
			}
			n.Inputs = append(n.Inputs, v)
		}
	}
	if len(missing) > 0 {
		return joinProblems(missing)
	}
	return nil
}

// outputs marks the graph outputs, taking their declared type only where
// the producer left none.
func (im *importer) outputs(vis []*pb.ValueInfoProto) error {
	for _, vi := range vis {
		v, ok := im.values[vi.GetName()]
		if !ok {
			return fmt.Errorf("graph output %q is never produced", vi.GetName())
		}
		if !v.HasShape {
			if err := setTypeFromProto(v, vi); err != nil {
				return err
			}
		}
		im.g.Outputs = append(im.g.Outputs, v)
	}
	return nil
}

func canonicalDomain(d string) string {
	if d == "ai.onnx" {
		return ""
	}
	return d
}

func setTypeFromProto(v *ir.Value, vi *pb.ValueInfoProto) error {
	tt := vi.GetType().GetTensorType()
	if tt == nil {
		return fmt.Errorf("value %q is not a tensor (sequences, maps and optionals are not supported)", vi.GetName())
	}
	dt, ok := dtypeFromProto(tt.GetElemType())
	if !ok {
		return fmt.Errorf("value %q: unsupported element type %s", vi.GetName(), dtypeName(tt.GetElemType()))
	}
	v.DType = dt
	if tt.Shape == nil {
		return nil // rank unknown
	}
	s := make(ir.Shape, len(tt.Shape.Dim))
	for i, d := range tt.Shape.Dim {
		switch {
		case d.GetDimParam() != "":
			s[i] = ir.Symbol(d.GetDimParam())
		case d.GetDimValue() > 0 || (d.GetDimValue() == 0 && d.Value != nil):
			s[i] = ir.Fixed(d.GetDimValue())
		default:
			s[i] = ir.UnknownDim
		}
	}
	v.SetType(dt, s)
	return nil
}

func attrsFromProto(aps []*pb.AttributeProto, dir string) (ir.Attrs, error) {
	if len(aps) == 0 {
		return nil, nil
	}
	attrs := ir.Attrs{}
	for _, ap := range aps {
		a := &ir.Attr{}
		switch ap.GetType() {
		case pb.AttributeProto_INT:
			a.Kind, a.Int = ir.AttrInt, ap.GetI()
		case pb.AttributeProto_FLOAT:
			a.Kind, a.Float = ir.AttrFloat, ap.GetF()
		case pb.AttributeProto_STRING:
			a.Kind, a.Str = ir.AttrString, string(ap.S)
		case pb.AttributeProto_INTS:
			a.Kind, a.Ints = ir.AttrInts, append([]int64{}, ap.Ints...)
		case pb.AttributeProto_FLOATS:
			a.Kind, a.Floats = ir.AttrFloats, append([]float32{}, ap.Floats...)
		case pb.AttributeProto_STRINGS:
			a.Kind = ir.AttrStrings
			for _, s := range ap.Strings {
				a.Strings = append(a.Strings, string(s))
			}
		case pb.AttributeProto_TENSOR:
			t, err := TensorFromProto(ap.T, dir)
			if err != nil {
				return nil, fmt.Errorf("attribute %q: %v", ap.GetName(), err)
			}
			a.Kind, a.Tensor = ir.AttrTensor, t
		default:
			// Subgraphs and sparse tensors only occur on control-flow and
			// sparse ops, which the supported-op check reports by name.
			continue
		}
		attrs[ap.GetName()] = a
	}
	return attrs, nil
}

// joinProblems turns a list of problems into one error whose first line says
// how many there are, so a user sees all of them at once.
func joinProblems(problems []string) error {
	if len(problems) == 1 {
		return errors.New(problems[0])
	}
	msg := fmt.Sprintf("%d problems: ", len(problems))
	for i, p := range problems {
		if i > 0 {
			msg += "; "
		}
		msg += p
	}
	return errors.New(msg)
}
