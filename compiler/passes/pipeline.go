package passes

import (
	"fmt"
	"strings"

	"crsc/compiler/ir"
)

// Config carries the user's choices that passes read.
type Config struct {
	// Shapes binds graph inputs to concrete or symbolic shapes (--shape).
	Shapes map[string]ir.Shape
	// Supports reports whether a backend can run domain.op; CheckSupported
	// uses it. Nil accepts everything.
	Supports func(domain, op string) bool
	// After, when set, is called with each pass's name and result (inspect
	// --after uses it to print intermediate graphs).
	After func(pass string, g *ir.Graph)
	// Training is the training pipeline's state (nil in the load
	// pipeline): the spec its passes read, the decisions they record.
	Training *TrainingState
}

// Pass is one step of a pipeline.
type Pass struct {
	Name string
	Run  func(g *ir.Graph, cfg *Config) error
}

// Load is the pipeline every imported model goes through before it runs:
// expand ONNX Gradient ops into backward graphs, reject what cannot run, bind user shapes, infer shapes, fold constant and
// shape subgraphs, fuse exact-GELU and LayerNorm/RMSNorm subgraphs into one
// op each, drop dead nodes,
// and infer again over the folded graph.
var Load = []Pass{
	{"lower-gradient-ops", LowerGradientOps},
	{"check-supported", CheckSupported},
	{"bind-shapes", BindShapes},
	{"infer-shapes", InferShapes},
	{"fold-constants", FoldConstants},
	{"fuse-gelu", FuseGelu},
	{"fuse-norms", FuseNorms},
	{"dce", DeadCode},
	{"infer-shapes", InferShapes},
}

// Run applies passes in order and verifies the graph after each.
func Run(g *ir.Graph, pipeline []Pass, cfg *Config) error {
	if cfg == nil {
		cfg = &Config{}
	}
	if err := g.Verify(); err != nil {
		return fmt.Errorf("invalid graph before passes: %v", err)
	}
	for _, p := range pipeline {
		if err := p.Run(g, cfg); err != nil {
			return err
		}
		if err := g.Verify(); err != nil {
			return fmt.Errorf("internal error: pass %s left an invalid graph: %v", p.Name, err)
		}
		if cfg.After != nil {
			cfg.After(p.Name, g)
		}
	}
	return nil
}

// PassNames lists the names of a pipeline (for --after help text).
func PassNames(pipeline []Pass) string {
	names := make([]string, len(pipeline))
	for i, p := range pipeline {
		names[i] = p.Name
	}
	return strings.Join(names, ", ")
}

// InferShapes runs the per-op shape rules.
func InferShapes(g *ir.Graph, _ *Config) error { return g.InferShapes() }

// DeadCode removes nodes that no graph output depends on.
func DeadCode(g *ir.Graph, _ *Config) error {
	g.RemoveDeadNodes()
	return nil
}
