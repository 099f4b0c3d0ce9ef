package passes_test

// Golden IR tests in the MLIR style: each file testdata/golden/PASS.txt holds
// small graphs written as input IR (the stable printer's format, ir.Print)
// and the graph printed after running the pass named by the file, or the
// error it returned:
//
//	// ----- case: NAME
//	// Free comments say why the case exists. Directives:
//	//   // shape: x=2x3          bind an input (bind-shapes; like --shape)
//	//   // unsupported: Erf      ops the backend rejects (check-supported)
//	//   // spec: {JSON}          the passes.TrainingSpec (training.txt)
//	graph "g" opsets ai.onnx=17
//	input  x f32[2]
//	init   w f32[2] = [1 2]
//	node   add: y:f32[2] = Add(x, w)
//	output y f32[2]
//	// CHECK-AFTER:
//	...the graph printed after the pass...
//
// or, where the pass fails, one line "// CHECK-ERROR: its error". A new
// case may leave its CHECK section out; -update writes it.
//
// In training.txt the printed graph is followed by one "layer" line per
// linear layer the WTA-CRS pass decided on (passes.LayerDecision).
//
// Initializers of at most 16 elements print (and are written) with their
// values, flat, after " = " (larger ones may leave them out: zeros). A float attribute with an integral value is
// written "1.0" (it prints "1"); any other number without '.', 'e', Inf or
// NaN is an integer attribute. The input must print back as written, so a
// misread input cannot pass unnoticed.
//
// go test ./passes -run Golden -update rewrites every CHECK section from
// the current output; review the diff before committing it.

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"crsc/compiler/ir"
	"crsc/compiler/passes"
)

var update = flag.Bool("update", false, "rewrite the CHECK sections of passes/testdata/golden from the current output")

const (
	caseMarker  = "// ----- case: "
	checkAfter  = "// CHECK-AFTER:"
	checkError  = "// CHECK-ERROR: "
	checkPrefix = "// CHECK-"
	// maxPrintedValues bounds the initializers printed with their values.
	maxPrintedValues = 16
)

// TestGolden runs every case of every golden file, one subtest per case.
func TestGolden(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "golden", "*.txt"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files: %v", err)
	}
	for _, path := range files {
		pass := strings.TrimSuffix(filepath.Base(path), ".txt")
		t.Run(pass, func(t *testing.T) { runGoldenFile(t, path, pass) })
	}
}

// TestGoldenCoversLoad holds every pass of the load and lowering
// pipelines to a golden file with at least one case, so a new pass comes
// with its goldens.
func TestGoldenCoversLoad(t *testing.T) {
	for _, p := range slices.Concat(passes.Load, passes.Lowering) {
		gf, err := readGoldenFile(filepath.Join("testdata", "golden", p.Name+".txt"))
		if err != nil {
			t.Errorf("pass %s has no golden file: %v", p.Name, err)
		} else if len(gf.cases) == 0 {
			t.Errorf("pass %s: its golden file has no cases", p.Name)
		}
	}
}

// runGoldenFile checks (or with -update rewrites) the cases of one file.
func runGoldenFile(t *testing.T, path, pass string) {
	gf, err := readGoldenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	changed := false
	for _, c := range gf.cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := runGoldenCase(c, pass)
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			if slices.Equal(got, c.check) {
				return
			}
			if *update {
				c.check, changed = got, true
				return
			}
			t.Errorf("%s, case %s: the result changed (- want, + got; -update rewrites the file):\n%s",
				path, c.name, lineDiff(c.check, got))
		})
	}
	if changed {
		if err := os.WriteFile(path, []byte(gf.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("rewrote %s", path)
	}
}

// goldenFile is one parsed testdata file: the header comment and the cases.
type goldenFile struct {
	header []string
	cases  []*goldenCase
}

// goldenCase is one case: the lines between its marker and its CHECK
// section (comments, directives and the input IR), and the CHECK section.
type goldenCase struct {
	name  string
	body  []string
	check []string
}

// readGoldenFile splits a file into its header and cases.
func readGoldenFile(path string) (*goldenFile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	gf := &goldenFile{}
	var c *goldenCase
	for i, line := range strings.Split(strings.TrimRight(string(data), "\n"), "\n") {
		switch {
		case strings.HasPrefix(line, caseMarker):
			c = &goldenCase{name: strings.TrimSpace(strings.TrimPrefix(line, caseMarker))}
			if c.name == "" {
				return nil, fmt.Errorf("%s:%d: a case needs a name", path, i+1)
			}
			gf.cases = append(gf.cases, c)
		case c == nil:
			gf.header = append(gf.header, line)
		case c.check != nil || strings.HasPrefix(line, checkPrefix):
			c.check = append(c.check, line)
		default:
			c.body = append(c.body, line)
		}
	}
	for _, c := range gf.cases {
		c.check = trimBlank(c.check)
		if len(c.check) == 0 {
			c.check = []string{checkAfter} // a new case: -update fills it in
		}
	}
	return gf, nil
}

// String is the file again, with blank lines between the cases.
func (gf *goldenFile) String() string {
	lines := append([]string{}, trimBlank(gf.header)...)
	for _, c := range gf.cases {
		lines = append(lines, "", caseMarker+c.name)
		lines = append(lines, c.body...)
		lines = append(lines, c.check...)
	}
	return strings.Join(lines, "\n") + "\n"
}

// trimBlank drops trailing empty lines.
func trimBlank(lines []string) []string {
	for len(lines) > 0 && strings.TrimSpace(lines[len(lines)-1]) == "" {
		lines = lines[:len(lines)-1]
	}
	return lines
}

// runGoldenCase parses the case, checks that its input prints as written,
// runs the pass and returns the CHECK section the result calls for. An
// error is a broken case, not a changed result.
func runGoldenCase(c *goldenCase, pass string) ([]string, error) {
	d, irLines, err := parseDirectives(c.body)
	if err != nil {
		return nil, err
	}
	g, err := parseGraph(irLines)
	if err != nil {
		return nil, fmt.Errorf("case %s: %v", c.name, err)
	}
	if printed := printGolden(g); !slices.Equal(printed, normalizeInput(irLines)) {
		return nil, fmt.Errorf("case %s: the input does not print as written (- written, + printed):\n%s",
			c.name, lineDiff(normalizeInput(irLines), printed))
	}
	extra, err := runPass(g, pass, d)
	if err != nil {
		return []string{checkError + oneLine(err.Error())}, nil
	}
	return append(append([]string{checkAfter}, printGolden(g)...), extra...), nil
}

// directives are a case's settings, read from its comment lines.
type directives struct {
	shapes      map[string]ir.Shape
	unsupported []string
	spec        passes.TrainingSpec
}

// parseDirectives reads the directive comments and returns the IR lines;
// other comments and blank lines are for the reader.
func parseDirectives(body []string) (directives, []string, error) {
	d := directives{shapes: map[string]ir.Shape{}}
	var irLines []string
	for _, line := range body {
		switch {
		case strings.HasPrefix(line, "// shape: "):
			name, dims, _ := strings.Cut(strings.TrimPrefix(line, "// shape: "), "=")
			s, err := ir.ParseDims(dims)
			if err != nil {
				return d, nil, err
			}
			d.shapes[strings.TrimSpace(name)] = s
		case strings.HasPrefix(line, "// unsupported: "):
			for _, op := range strings.Split(strings.TrimPrefix(line, "// unsupported: "), ",") {
				d.unsupported = append(d.unsupported, strings.TrimSpace(op))
			}
		case strings.HasPrefix(line, "// spec: "):
			if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "// spec: ")), &d.spec); err != nil {
				return d, nil, fmt.Errorf("spec: %v", err)
			}
		case strings.HasPrefix(line, "//"), strings.TrimSpace(line) == "":
		default:
			irLines = append(irLines, line)
		}
	}
	return d, irLines, nil
}

// runPass runs the load or lowering pass named pass, through passes.Run so the graph is
// verified before and after; "training" is passes.Compile with the case's
// spec, the whole training pipeline, and returns a line per WTA-CRS layer
// decision too, so a layer left exact shows why.
func runPass(g *ir.Graph, pass string, d directives) ([]string, error) {
	if pass == "training" {
		t, err := passes.Compile(g, d.spec)
		if err != nil {
			return nil, err
		}
		var lines []string
		for _, l := range t.Layers {
			lines = append(lines, fmt.Sprintf("layer  %s (%s): sampled=%v rows=%d kept=%d: %s", l.Node, l.Weight, l.Sampled, l.Rows, l.Kept, l.Why))
		}
		return lines, nil
	}
	named := func(p passes.Pass) bool { return p.Name == pass }
	pipeline := passes.Load
	i := slices.IndexFunc(pipeline, named)
	if i < 0 {
		pipeline = passes.Lowering
		i = slices.IndexFunc(pipeline, named)
	}
	if i < 0 {
		return nil, fmt.Errorf("no load or lowering pass named %q (the golden file's name)", pass)
	}
	cfg := &passes.Config{Shapes: d.shapes}
	if len(d.unsupported) > 0 {
		cfg.Supports = func(domain, op string) bool {
			if domain != "" {
				op = domain + "." + op
			}
			return !slices.Contains(d.unsupported, op)
		}
	}
	return nil, passes.Run(g, pipeline[i:i+1], cfg)
}

// oneLine keeps an error on its CHECK-ERROR line.
func oneLine(s string) string { return strings.ReplaceAll(s, "\n", " | ") }

// integralFloat matches "1.0" in "alpha=1.0" or "[1.0 2.5]", which prints "1".
var integralFloat = regexp.MustCompile(`([=\[ ]-?\d+)\.0\b`)

// normalizeInput spells the input lines as the printer would.
func normalizeInput(lines []string) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = integralFloat.ReplaceAllString(l, "$1")
	}
	return out
}

// printGolden is ir.Print with the values of small initializers appended.
func printGolden(g *ir.Graph) []string {
	lines := strings.Split(strings.TrimRight(g.String(), "\n"), "\n")
	next := 0
	for i, l := range lines {
		if !strings.HasPrefix(l, "init   ") || next >= len(g.Inits) {
			continue
		}
		if vals := formatValues(g.Inits[next].Init); vals != "" {
			lines[i] += " = " + vals
		}
		next++
	}
	return lines
}

// formatValues prints a small tensor's elements flat, "[1 2 3]"; "" for
// large, abstract or packed (bfloat16) tensors.
func formatValues(t *ir.Tensor) string {
	if t == nil || t.Abstract || t.Len() > maxPrintedValues || t.DType == ir.BFloat16 {
		return ""
	}
	parts := make([]string, t.Len())
	for i := range parts {
		switch t.DType.Storage() {
		case ir.Float32:
			parts[i] = strconv.FormatFloat(float64(t.F32[i]), 'g', -1, 32)
		case ir.Float64:
			parts[i] = strconv.FormatFloat(t.F64[i], 'g', -1, 64)
		case ir.Int64:
			parts[i] = strconv.FormatInt(t.I64[i], 10)
		case ir.Int32:
			parts[i] = strconv.FormatInt(int64(t.I32[i]), 10)
		case ir.Bool:
			parts[i] = strconv.FormatBool(t.Bool[i])
		}
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// irParser reads the printer's format back into a graph. Nodes may name
// values defined further down; inputs are wired once every line is read.
type irParser struct {
	g       *ir.Graph
	values  map[string]*ir.Value
	pending map[*ir.Node][]string // each node's input names
	outputs []string
}

// parseGraph parses the IR lines of a case.
func parseGraph(lines []string) (*ir.Graph, error) {
	p := &irParser{
		g:       &ir.Graph{Opsets: map[string]int64{}, Meta: map[string]string{}},
		values:  map[string]*ir.Value{},
		pending: map[*ir.Node][]string{},
	}
	for i, line := range lines {
		if err := p.line(line); err != nil {
			return nil, fmt.Errorf("IR line %d %q: %v", i+1, line, err)
		}
	}
	for _, n := range p.g.Nodes {
		for _, name := range p.pending[n] {
			v, err := p.lookup(name)
			if err != nil {
				return nil, fmt.Errorf("node %s: %v", n.Name, err)
			}
			n.Inputs = append(n.Inputs, v)
		}
	}
	for _, name := range p.outputs {
		v, err := p.lookup(name)
		if err != nil {
			return nil, fmt.Errorf("output: %v", err)
		}
		p.g.Outputs = append(p.g.Outputs, v)
	}
	return p.g, nil
}

// lookup resolves a value name; "_" is an omitted optional input.
func (p *irParser) lookup(name string) (*ir.Value, error) {
	if name == "_" {
		return nil, nil
	}
	v, ok := p.values[name]
	if !ok {
		return nil, fmt.Errorf("no value %q", name)
	}
	return v, nil
}

// line parses one line by its keyword.
func (p *irParser) line(line string) error {
	kw, rest, _ := strings.Cut(line, " ")
	rest = strings.TrimSpace(rest)
	switch kw {
	case "graph":
		return p.header(rest)
	case "input", "init":
		return p.value(kw, rest)
	case "node":
		return p.node(rest)
	case "output":
		name, _, _ := strings.Cut(rest, " ")
		p.outputs = append(p.outputs, name)
		return nil
	}
	return fmt.Errorf("unknown keyword %q", kw)
}

// header reads `"name" opsets ai.onnx=17 ai.crsc=1`.
func (p *irParser) header(rest string) error {
	q, err := strconv.QuotedPrefix(rest)
	if err != nil {
		return err
	}
	p.g.Name, _ = strconv.Unquote(q)
	fields := strings.Fields(rest[len(q):])
	if len(fields) == 0 || fields[0] != "opsets" {
		return fmt.Errorf("want opsets after the name")
	}
	for _, f := range fields[1:] {
		domain, version, _ := strings.Cut(f, "=")
		n, err := strconv.ParseInt(version, 10, 64)
		if err != nil {
			return err
		}
		if domain == "ai.onnx" {
			domain = ""
		}
		p.g.Opsets[domain] = n
	}
	return nil
}

// value reads `x f32[2,3]` (an input) or `w f32[2] = [1 2]` (an
// initializer; without values it is zeros).
func (p *irParser) value(kw, rest string) error {
	decl, vals, hasVals := strings.Cut(rest, " = ")
	name, typ, _ := strings.Cut(decl, " ")
	v := &ir.Value{Name: name}
	if err := parseType(v, typ); err != nil {
		return err
	}
	if kw == "input" {
		p.g.Inputs = append(p.g.Inputs, v)
	} else {
		t, err := initTensor(v, vals, hasVals)
		if err != nil {
			return err
		}
		v.Init = t
		p.g.Inits = append(p.g.Inits, v)
	}
	p.values[name] = v
	return nil
}

// initTensor builds an initializer's tensor from its static type and values.
func initTensor(v *ir.Value, vals string, hasVals bool) (*ir.Tensor, error) {
	shape := make([]int, len(v.Shape))
	for i, d := range v.Shape {
		if !d.IsFixed() {
			return nil, fmt.Errorf("initializer %s has a symbolic shape", v.Name)
		}
		shape[i] = int(d.Size)
	}
	t := ir.NewTensor(v.DType, shape...)
	if !hasVals {
		return t, nil
	}
	fields := strings.Fields(strings.Trim(vals, "[]"))
	if len(fields) != t.Len() {
		return nil, fmt.Errorf("initializer %s: %d values for %d elements", v.Name, len(fields), t.Len())
	}
	for i, f := range fields {
		if err := setElement(t, i, f); err != nil {
			return nil, fmt.Errorf("initializer %s: %v", v.Name, err)
		}
	}
	return t, nil
}

// setElement parses element i of t from its printed form.
func setElement(t *ir.Tensor, i int, f string) error {
	var err error
	switch t.DType.Storage() {
	case ir.Float32:
		var x float64
		x, err = strconv.ParseFloat(f, 32)
		t.F32[i] = float32(x)
	case ir.Float64:
		t.F64[i], err = strconv.ParseFloat(f, 64)
	case ir.Int64:
		t.I64[i], err = strconv.ParseInt(f, 10, 64)
	case ir.Int32:
		var x int64
		x, err = strconv.ParseInt(f, 10, 32)
		t.I32[i] = int32(x)
	case ir.Bool:
		t.Bool[i], err = strconv.ParseBool(f)
	default:
		err = fmt.Errorf("cannot write values of %v", t.DType)
	}
	return err
}

// node reads `name: out:f32[2], _ = domain.Op(a, _, b) {k=v, k2=v2}`.
func (p *irParser) node(rest string) error {
	name, rest, ok1 := strings.Cut(rest, ": ")
	outs, rest, ok2 := strings.Cut(rest, " = ")
	open, closing := strings.Index(rest, "("), strings.Index(rest, ")")
	if !ok1 || !ok2 || open < 0 || closing < open {
		return fmt.Errorf("want `name: outs = Op(ins) {attrs}`")
	}
	n := &ir.Node{Name: name, Op: rest[:open]}
	if i := strings.LastIndex(n.Op, "."); i >= 0 {
		n.Domain, n.Op = n.Op[:i], n.Op[i+1:]
	}
	for _, o := range strings.Split(outs, ", ") {
		if err := p.nodeOutput(n, o); err != nil {
			return err
		}
	}
	if ins := rest[open+1 : closing]; ins != "" {
		p.pending[n] = strings.Split(ins, ", ")
	}
	attrs, err := parseAttrs(strings.TrimSpace(rest[closing+1:]))
	if err != nil {
		return err
	}
	n.Attrs = attrs
	p.g.Nodes = append(p.g.Nodes, n)
	return nil
}

// nodeOutput reads one output, `name:type` or `_`.
func (p *irParser) nodeOutput(n *ir.Node, o string) error {
	if o == "_" {
		n.Outputs = append(n.Outputs, nil)
		return nil
	}
	i := strings.LastIndex(o, ":")
	if i < 0 {
		return fmt.Errorf("output %q has no type", o)
	}
	v := &ir.Value{Name: o[:i], Producer: n}
	if err := parseType(v, o[i+1:]); err != nil {
		return err
	}
	n.Outputs = append(n.Outputs, v)
	p.values[v.Name] = v
	return nil
}

// dtypes maps printed dtype names back.
var dtypes = func() map[string]ir.DType {
	m := map[string]ir.DType{}
	for d := ir.Invalid; d <= ir.BFloat16; d++ {
		m[d.String()] = d
	}
	return m
}()

// parseType reads "f32[batch,2*seq,3]", "f32[]" or "f32[…]" (rank unknown).
func parseType(v *ir.Value, typ string) error {
	open := strings.Index(typ, "[")
	if open < 0 || !strings.HasSuffix(typ, "]") {
		return fmt.Errorf("type %q: want dtype[dims]", typ)
	}
	dt, ok := dtypes[typ[:open]]
	if !ok {
		return fmt.Errorf("type %q: unknown dtype", typ)
	}
	v.DType = dt
	dims := typ[open+1 : len(typ)-1]
	if dims == "…" {
		return nil
	}
	shape := ir.Shape{}
	if dims != "" {
		for _, d := range strings.Split(dims, ",") {
			shape = append(shape, parseDim(d))
		}
	}
	v.SetType(dt, shape)
	return nil
}

// parseDim reads "?", "768", "batch" or "12*batch*seq" (Dim.String).
func parseDim(d string) ir.Dim {
	if d == "?" {
		return ir.UnknownDim
	}
	if n, err := strconv.ParseInt(d, 10, 64); err == nil {
		return ir.Fixed(n)
	}
	if size, sym, ok := strings.Cut(d, "*"); ok {
		if n, err := strconv.ParseInt(size, 10, 64); err == nil {
			return ir.Dim{Size: n, Sym: sym}
		}
	}
	return ir.Dim{Size: 1, Sym: d}
}

// parseAttrs reads "{k=v, k2=v2}" ("" is none).
func parseAttrs(s string) (ir.Attrs, error) {
	if s == "" {
		return nil, nil
	}
	if !strings.HasPrefix(s, "{") || !strings.HasSuffix(s, "}") {
		return nil, fmt.Errorf("attributes %q: want {k=v, …}", s)
	}
	attrs := ir.Attrs{}
	for _, kv := range splitOutsideQuotes(s[1:len(s)-1], ", ") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return nil, fmt.Errorf("attribute %q: want k=v", kv)
		}
		a, err := parseAttr(v)
		if err != nil {
			return nil, fmt.Errorf("attribute %s: %v", k, err)
		}
		attrs[k] = a
	}
	return attrs, nil
}

// splitOutsideQuotes splits s at sep where sep is not inside a quoted string.
func splitOutsideQuotes(s, sep string) []string {
	var parts []string
	start, quoted := 0, false
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '\\' && quoted:
			i++
		case s[i] == '"':
			quoted = !quoted
		case !quoted && strings.HasPrefix(s[i:], sep):
			parts = append(parts, s[start:i])
			start = i + len(sep)
		}
	}
	return append(parts, s[start:])
}

// parseAttr reads one value as Attr.String prints it: 3, 0.5, "s", [1 2],
// [0.5 1.0], ["a" "b"], or a tensor f32[2]{1 2}.
func parseAttr(v string) (*ir.Attr, error) {
	switch {
	case strings.HasPrefix(v, `"`):
		s, err := strconv.Unquote(v)
		return ir.StringAttr(s), err
	case strings.HasPrefix(v, "[") && strings.Contains(v, `"`):
		return parseStringsAttr(v[1 : len(v)-1])
	case strings.HasPrefix(v, "["):
		return parseNumbersAttr(strings.Fields(v[1 : len(v)-1]))
	case strings.Contains(v, "{"):
		return parseTensorAttr(v)
	case isFloatLiteral(v):
		x, err := strconv.ParseFloat(v, 32)
		return ir.FloatAttr(float32(x)), err
	}
	n, err := strconv.ParseInt(v, 10, 64)
	return ir.IntAttr(n), err
}

func isFloatLiteral(s string) bool {
	return strings.ContainsAny(s, ".eE") || strings.Contains(s, "Inf") || strings.Contains(s, "NaN")
}

// parseStringsAttr reads `"a" "b"`.
func parseStringsAttr(s string) (*ir.Attr, error) {
	a := &ir.Attr{Kind: ir.AttrStrings}
	for s = strings.TrimSpace(s); s != ""; s = strings.TrimSpace(s) {
		q, err := strconv.QuotedPrefix(s)
		if err != nil {
			return nil, err
		}
		str, _ := strconv.Unquote(q)
		a.Strings = append(a.Strings, str)
		s = s[len(q):]
	}
	return a, nil
}

// parseNumbersAttr reads ints, or floats when any element is written as one.
func parseNumbersAttr(fields []string) (*ir.Attr, error) {
	if !slices.ContainsFunc(fields, isFloatLiteral) {
		a := ir.IntsAttr()
		for _, f := range fields {
			n, err := strconv.ParseInt(f, 10, 64)
			if err != nil {
				return nil, err
			}
			a.Ints = append(a.Ints, n)
		}
		return a, nil
	}
	a := &ir.Attr{Kind: ir.AttrFloats}
	for _, f := range fields {
		x, err := strconv.ParseFloat(f, 32)
		if err != nil {
			return nil, err
		}
		a.Floats = append(a.Floats, float32(x))
	}
	return a, nil
}

// parseTensorAttr reads Tensor.String's "f32[2 3]{1 2 3 4 5 6}".
func parseTensorAttr(v string) (*ir.Attr, error) {
	typ, vals, _ := strings.Cut(v, "{")
	open := strings.Index(typ, "[")
	if open < 0 || !strings.HasSuffix(typ, "]") || !strings.HasSuffix(vals, "}") {
		return nil, fmt.Errorf("tensor %q: want dtype[dims]{values}", v)
	}
	dt, ok := dtypes[typ[:open]]
	if !ok {
		return nil, fmt.Errorf("tensor %q: unknown dtype", v)
	}
	var shape []int
	for _, f := range strings.Fields(typ[open+1 : len(typ)-1]) {
		n, err := strconv.Atoi(f)
		if err != nil {
			return nil, err
		}
		shape = append(shape, n)
	}
	t := ir.NewTensor(dt, shape...)
	fields := strings.Fields(strings.TrimSuffix(vals, "}"))
	if len(fields) != t.Len() {
		return nil, fmt.Errorf("tensor %q: %d values for %d elements", v, len(fields), t.Len())
	}
	for i, f := range fields {
		if err := setElement(t, i, f); err != nil {
			return nil, err
		}
	}
	return ir.TensorAttr(t), nil
}

// lineDiff is a line diff of want and got (longest common subsequence):
// "  " same, "- " only in want, "+ " only in got.
func lineDiff(want, got []string) string {
	n, m := len(want), len(got)
	lcs := make([][]int, n+1)
	for i := range lcs {
		lcs[i] = make([]int, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if want[i] == got[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var b strings.Builder
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && want[i] == got[j]:
			fmt.Fprintf(&b, "  %s\n", want[i])
			i, j = i+1, j+1
		case j >= m || (i < n && lcs[i+1][j] >= lcs[i][j+1]):
			fmt.Fprintf(&b, "- %s\n", want[i])
			i++
		default:
			fmt.Fprintf(&b, "+ %s\n", got[j])
			j++
		}
	}
	return b.String()
}
