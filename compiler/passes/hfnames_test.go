package passes_test

import (
	"slices"
	"strings"
	"testing"

	"crsc/compiler/ir"
	"crsc/compiler/passes"
	"crsc/internal/testutil"
)

// TestHFModuleNames: module paths from node scopes (torch ≥ 1.13), from
// biases (older exporters), and parameter names for the initializers
// exporters leave unnamed.
func TestHFModuleNames(t *testing.T) {
	tests := []struct {
		name    string
		model   string
		family  passes.Family
		linears int
		node    string // a linear layer's node
		module  string // its module path
		param   string // an unnamed weight
		hf      string // its HF name
	}{
		{"distilbert (old exporter: biases)", distilbertModel, passes.FamilyDistilBERT, 14,
			"MatMul_27", "distilbert.transformer.layer.0.attention.q_lin", "302", "distilbert.transformer.layer.0.attention.q_lin.weight"},
		{"tribuo bare BertModel", tribuoModel, passes.FamilyBERT, 7,
			"MatMul_31", "encoder.layer.0.attention.self.query", "182", "encoder.layer.0.attention.self.query.weight"},
		{"bert (scoped node names)", "../../testdata/onnx/bert_tiny_cls.op17.eval.onnx", passes.FamilyBERT, 14,
			"/bert/encoder/layer.0/attention/self/query/MatMul", "bert.encoder.layer.0.attention.self.query", "onnx::MatMul_286", "bert.encoder.layer.0.attention.self.query.weight"},
		{"t5", "../../testdata/onnx/t5_tiny.op17.eval.onnx", passes.FamilyT5, 0,
			"/encoder/block.0/layer.0/SelfAttention/q/MatMul", "encoder.block.0.layer.0.SelfAttention.q", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := loadExport(t, tt.model)
			h := passes.HFModuleNames(g)
			if h.Family != tt.family {
				t.Errorf("family %q, want %q", h.Family, tt.family)
			}
			if tt.linears > 0 && len(h.Linear) != tt.linears {
				t.Errorf("%d linear layers named, want %d: %v", len(h.Linear), tt.linears, h.Modules())
			}
			var n *ir.Node
			for _, m := range g.Nodes {
				if m.Name == tt.node {
					n = m
				}
			}
			if n == nil {
				t.Fatalf("no node %q", tt.node)
			}
			if got := h.ModulePath(n); got != tt.module {
				t.Errorf("module of %s = %q, want %q", tt.node, got, tt.module)
			}
			if tt.param != "" && h.Params[tt.param] != tt.hf {
				t.Errorf("HF name of %s = %q, want %q", tt.param, h.Params[tt.param], tt.hf)
			}
			for p, hf := range h.Params {
				if strings.Contains(hf, "::") || !strings.Contains(hf, ".") {
					t.Errorf("parameter %s got no HF name (%q)", p, hf)
				}
			}
		})
	}
}

// TestHFModuleNamesScope: the brief's example, built directly.
func TestHFModuleNamesScope(t *testing.T) {
	g := ir.NewGraph("m", 17)
	x := g.AddInput("x", ir.Float32, ir.StaticShape(2, 4))
	w := g.AddInit("onnx::MatMul_302", ir.NewTensor(ir.Float32, 4, 4))
	mm := g.AddNode("MatMul", "/distilbert/transformer/layer.0/attention/q_lin/MatMul", []*ir.Value{x, w}, 1, nil)
	g.Outputs = mm.Outputs
	h := passes.HFModuleNames(g)
	if got := h.ModulePath(mm); got != "distilbert.transformer.layer.0.attention.q_lin" {
		t.Errorf("module %q", got)
	}
	if got := h.Params[w.Name]; got != "distilbert.transformer.layer.0.attention.q_lin.weight" {
		t.Errorf("param %q", got)
	}
}

// TestLoRAModuleTargets: by default LoRA adapts each family's Q/K/V, found
// through module paths where node names say nothing (DistilBERT's
// MatMul_27 reading 302); --lora-targets matches module paths too; with
// ModuleNames the adapters are named after the module.
func TestLoRAModuleTargets(t *testing.T) {
	tests := []struct {
		name    string
		model   string
		spec    passes.LoRASpec
		modules []string // adapted modules' last components, sorted
		first   string   // the first adapter's A
	}{
		{"distilbert default", distilbertModel, passes.LoRASpec{Rank: 4},
			[]string{"k_lin", "k_lin", "q_lin", "q_lin", "v_lin", "v_lin"}, "302.lora_A"},
		{"distilbert module names", distilbertModel, passes.LoRASpec{Rank: 4, ModuleNames: true},
			[]string{"k_lin", "k_lin", "q_lin", "q_lin", "v_lin", "v_lin"}, "distilbert.transformer.layer.0.attention.q_lin.lora_A"},
		{"distilbert targets by module", distilbertModel, passes.LoRASpec{Rank: 2, Targets: `ffn\.lin1$`},
			[]string{"lin1", "lin1"}, "319.lora_A"},
		{"bert default unchanged", "../../testdata/onnx/bert_tiny_cls.op13.eval.onnx", passes.LoRASpec{Rank: 4},
			[]string{"key", "key", "query", "query", "value", "value"}, "onnx::MatMul_336.lora_A"},
		{"bert module names", "../../testdata/onnx/bert_tiny_cls.op13.eval.onnx", passes.LoRASpec{Rank: 4, ModuleNames: true},
			[]string{"key", "key", "query", "query", "value", "value"}, "bert.encoder.layer.0.attention.self.query.lora_A"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := loadExport(t, tt.model)
			testutil.LoadShapes(t, g, map[string]ir.Shape{"input_ids": ir.StaticShape(2, 8)})
			ads, err := passes.AddLoRAAdapters(g, tt.spec)
			if err != nil {
				t.Fatal(err)
			}
			if err := g.Verify(); err != nil {
				t.Fatal(err)
			}
			var mods []string
			for _, a := range ads {
				mods = append(mods, a.Module[strings.LastIndex(a.Module, ".")+1:])
				if g.Value(a.Base) == nil || g.Value(a.A) == nil || g.Value(a.B) == nil {
					t.Errorf("adapter %+v names values the graph lacks", a)
				}
			}
			slices.Sort(mods)
			if !slices.Equal(mods, tt.modules) {
				t.Errorf("adapted %v, want %v", mods, tt.modules)
			}
			if ads[0].A != tt.first {
				t.Errorf("first adapter %q, want %q", ads[0].A, tt.first)
			}
		})
	}
}

// TestParamsByHFName: --train and --freeze match a parameter by its
// Hugging Face name too, for the weights an exporter renamed
// onnx::MatMul_N.
func TestParamsByHFName(t *testing.T) {
	g := loadExport(t, "../../testdata/onnx/hf_distilbert_seqcls/model.onnx")
	hf := passes.HFModuleNames(g)
	for _, tc := range []struct {
		sel  passes.TrainSelection
		want int
	}{
		{passes.TrainSelection{Train: `layer\.0\.attention\.q_lin\.weight$`}, 1},
		{passes.TrainSelection{Train: `layer\.0\.attention\.q_lin\.`}, 2},
		{passes.TrainSelection{Freeze: `^distilbert\.`}, 4}, // pre_classifier, classifier: weight and bias
	} {
		params, err := passes.Params(g, tc.sel)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, p := range params {
			names = append(names, p.Name+"="+hf.Params[p.Name])
		}
		if len(params) != tc.want {
			t.Errorf("%+v: %d parameters %v, want %d", tc.sel, len(params), names, tc.want)
		}
	}
}
