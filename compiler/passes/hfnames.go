package passes

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"crsc/compiler/ir"
	"crsc/training/hfconfig"
)

// Family is a model family whose Hugging Face conventions crsc knows:
// module names, default LoRA targets, how a classification head pools. It
// is hfconfig's, so that a config.json's model_type and the names of an
// export speak of the same families.
type Family = hfconfig.Family

const (
	FamilyUnknown    Family = ""
	FamilyBERT              = hfconfig.BERT
	FamilyRoBERTa           = hfconfig.RoBERTa
	FamilyDistilBERT        = hfconfig.DistilBERT
	FamilyT5                = hfconfig.T5
	FamilyALBERT            = hfconfig.ALBERT
	FamilyELECTRA           = hfconfig.ELECTRA
	FamilyDeBERTa           = hfconfig.DeBERTa
)

// familyMarkers recognize a family from its Hugging Face module paths, most
// specific first (a RoBERTa has BERT's attention.self.query too). A bare
// encoder export (BertModel, DistilBertModel) has no model prefix, so the
// markers are the modules each family names its own way.
var familyMarkers = []struct {
	family Family
	marker *regexp.Regexp
}{
	{FamilyDistilBERT, regexp.MustCompile(`(^|\.)(distilbert\.|transformer\.layer\.\d+\.attention\.q_lin)`)},
	{FamilyRoBERTa, regexp.MustCompile(`(^|\.)roberta\.`)},
	{FamilyALBERT, regexp.MustCompile(`(^|\.)(albert\.|albert_layer_groups\.)`)},
	{FamilyELECTRA, regexp.MustCompile(`(^|\.)electra\.`)},
	{FamilyDeBERTa, regexp.MustCompile(`(^|\.)(deberta\.|attention\.self\.query_proj)`)},
	{FamilyT5, regexp.MustCompile(`(^|\.)(encoder|decoder)\.block\.\d+\.layer\.\d+\.(SelfAttention|EncDecAttention|DenseReluDense)`)},
	{FamilyBERT, regexp.MustCompile(`(^|\.)(bert\.|encoder\.layer\.\d+\.attention\.self\.query)`)},
}

// DefaultLoRAModules are, per family, the last components of the module
// paths LoRA adapts by default: the attention query/key/value projections,
// as PEFT's defaults for these families are.
var DefaultLoRAModules = map[Family][]string{
	FamilyBERT:       {"query", "key", "value"},
	FamilyRoBERTa:    {"query", "key", "value"},
	FamilyDistilBERT: {"q_lin", "k_lin", "v_lin"},
	FamilyT5:         {"q", "k", "v"},
	FamilyALBERT:     {"query", "key", "value"},
	FamilyELECTRA:    {"query", "key", "value"},
	FamilyDeBERTa:    {"query_proj", "key_proj", "value_proj"},
}

// HFNames is what a graph's names say about its Hugging Face modules.
type HFNames struct {
	Family Family
	// Linear maps each linear layer (a MatMul or Gemm whose weight operand
	// is a parameter) to its module path, e.g.
	// distilbert.transformer.layer.0.attention.q_lin.
	Linear map[*ir.Node]string
	// Params maps each parameter (float initializer of more than one
	// element, by ir name) to its Hugging Face parameter name.
	Params map[string]string
	// Weight maps each linear layer to its weight initializer (through a
	// Transpose when the export wrote one: Gemm transB keeps HF's [out, in]).
	Weight map[*ir.Node]*ir.Value
}

// ModulePath is the module of a linear layer ("" when not found).
func (h *HFNames) ModulePath(n *ir.Node) string { return h.Linear[n] }

// Modules lists the linear layers' module paths, sorted.
func (h *HFNames) Modules() []string {
	var out []string
	for _, m := range h.Linear {
		out = append(out, m)
	}
	sort.Strings(out)
	return out
}

// HFModuleNames recovers Hugging Face module paths from an export's names.
// Each linear layer gets, in order of preference:
//   - the scope of its node name (torch ≥ 1.13 writes
//     /distilbert/transformer/layer.0/attention/q_lin/MatMul);
//   - the module of its bias, when the bias is a named initializer
//     (older exporters name nodes MatMul_27 but keep X.bias, and the MatMul
//     feeds Add(X.bias, ·));
//   - its weight's own name without .weight.
//
// A parameter keeps its name when the exporter kept the HF one; one it left
// unnamed (onnx::MatMul_302, 302) becomes its linear layer's module + .weight.
func HFModuleNames(g *ir.Graph) *HFNames {
	h := &HFNames{Linear: map[*ir.Node]string{}, Params: map[string]string{}, Weight: map[*ir.Node]*ir.Value{}}
	consumers := g.Consumers()
	for _, n := range g.Nodes {
		w := linearWeight(n)
		if w == nil {
			continue
		}
		h.Weight[n] = w
		if m := linearModule(n, w, consumers); m != "" {
			h.Linear[n] = m
		}
	}
	for _, v := range g.Inits {
		if isWeight(v) && hfParamName(v.Name) {
			h.Params[v.Name] = v.Name
		}
	}
	// Unnamed weights take their layer's module; a weight read by several
	// layers (tied) keeps the first layer's in node order.
	for _, n := range g.Nodes {
		w, m := h.Weight[n], h.Linear[n]
		if w == nil || m == "" {
			continue
		}
		if _, named := h.Params[w.Name]; !named {
			h.Params[w.Name] = m + ".weight"
		}
	}
	h.Family = detectFamily(h)
	return h
}

// linearWeight is the weight operand of a linear layer: MatMul(x, W) or
// Gemm(x, W, b) with W a parameter, possibly through a Transpose.
func linearWeight(n *ir.Node) *ir.Value {
	if n.Domain != "" || (n.Op != "MatMul" && n.Op != "Gemm") {
		return nil
	}
	w := n.In(1)
	if w == nil {
		return nil
	}
	if p := w.Producer; p != nil && p.Op == "Transpose" {
		w = p.In(0)
	}
	if w == nil || !isWeight(w) || len(w.Init.Shape) != 2 {
		return nil
	}
	return w
}

func linearModule(n *ir.Node, w *ir.Value, consumers map[*ir.Value][]*ir.Node) string {
	if m := scopeModule(n.Name); m != "" {
		return m
	}
	bias := n.In(2) // Gemm's C
	if bias == nil && len(n.Outputs) == 1 {
		if rd := consumers[n.Outputs[0]]; len(rd) == 1 && rd[0].Op == "Add" {
			for _, in := range rd[0].Inputs {
				if in != nil && in != n.Outputs[0] && in.Init != nil {
					bias = in
				}
			}
		}
	}
	if bias != nil {
		if m, ok := strings.CutSuffix(bias.Name, ".bias"); ok && hfParamName(bias.Name) {
			return m
		}
	}
	if m, ok := strings.CutSuffix(w.Name, ".weight"); ok && hfParamName(w.Name) {
		return m
	}
	return ""
}

// scopeModule turns a scoped node name (/bert/encoder/layer.0/attention/
// self/query/MatMul) into a module path (bert.encoder.layer.0.attention.
// self.query); a name without a scope gives "".
func scopeModule(node string) string {
	if !strings.HasPrefix(node, "/") {
		return ""
	}
	parts := strings.Split(strings.TrimPrefix(node, "/"), "/")
	if len(parts) < 2 {
		return ""
	}
	return strings.Join(parts[:len(parts)-1], ".")
}

// hfParamName reports whether an initializer name is a module path an
// exporter kept (encoder.layer.0.output.dense.bias) rather than one it made
// up (onnx::MatMul_302, 302, /Constant_output_0).
func hfParamName(name string) bool {
	return strings.Contains(name, ".") && !strings.Contains(name, "::") && !strings.HasPrefix(name, "/") && unicodeLetterFirst(name)
}

func unicodeLetterFirst(s string) bool {
	c := s[0]
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func detectFamily(h *HFNames) Family {
	var names []string
	for _, m := range h.Linear {
		names = append(names, m)
	}
	for _, p := range h.Params {
		names = append(names, p)
	}
	for _, fm := range familyMarkers {
		for _, n := range names {
			if fm.marker.MatchString(n) {
				return fm.family
			}
		}
	}
	return FamilyUnknown
}

// DefaultLoRATargetsFor is the module-path regexp of a family's default
// LoRA targets ("" for a family crsc does not know).
func DefaultLoRATargetsFor(f Family) string {
	mods := DefaultLoRAModules[f]
	if len(mods) == 0 {
		return ""
	}
	return fmt.Sprintf(`\.(%s)$`, strings.Join(mods, "|"))
}
