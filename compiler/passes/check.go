package passes

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"crsc/compiler/ir"
)

// CheckSupported fails when any node's op has no kernel, listing every
// unsupported op at once with the nodes that use it, so a user learns the
// whole gap from one run.
func CheckSupported(g *ir.Graph, cfg *Config) error {
	if cfg.Supports == nil {
		return nil
	}
	missing := map[string][]string{}
	for _, n := range g.Nodes {
		if !cfg.Supports(n.Domain, n.Op) {
			missing[n.Key()] = append(missing[n.Key()], n.Name)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return fmt.Errorf("unsupported ops: %s", listByOp(missing))
}

// listByOp formats op → node names as "Op (nodes a, b); Other (nodes c)",
// sorted by op, at most five node names per op.
func listByOp(nodesByOp map[string][]string) string {
	var ops []string
	for op := range nodesByOp {
		ops = append(ops, op)
	}
	sort.Strings(ops)
	parts := make([]string, len(ops))
	for i, op := range ops {
		nodes := nodesByOp[op]
		if len(nodes) > 5 {
			nodes = append(nodes[:5:5], fmt.Sprintf("and %d more", len(nodesByOp[op])-5))
		}
		parts[i] = fmt.Sprintf("%s (nodes %s)", op, strings.Join(nodes, ", "))
	}
	return strings.Join(parts, "; ")

}

// BindShapes applies --shape bindings to graph inputs. A bound shape must
// agree with the declared rank and fixed dims. A symbol bound through one
// input (batch in input_ids=8x128) is bound in every other input that
// declares it, so --shape on one input is enough for a BERT export.
func BindShapes(g *ir.Graph, cfg *Config) error {
	symbols := map[string]ir.Dim{}
	for _, name := range slices.Sorted(maps.Keys(cfg.Shapes)) {
		s := cfg.Shapes[name]
		var v *ir.Value
		for _, in := range g.Inputs {
			if in.Name == name {
				v = in
			}
		}
		if v == nil {
			var names []string
			for _, in := range g.Inputs {
				names = append(names, in.Name)
			}
			return fmt.Errorf("--shape %s: the model has no input %q (inputs: %s)", name, name, strings.Join(names, ", "))
		}
		if v.HasShape {
			if len(v.Shape) != len(s) {
				return fmt.Errorf("--shape %s=%s: the model declares %s", name, s, v.Shape)
			}
			for i, d := range v.Shape {
				if d.IsFixed() && s[i] != d {
					return fmt.Errorf("--shape %s=%s: axis %d is fixed at %v in the model", name, s, i, d)
				}
				if d.Sym != "" && d.Size == 1 {
					if prev, ok := symbols[d.Sym]; ok && prev != s[i] {
						return fmt.Errorf("--shape %s=%s: %s is already bound to %v", name, s, d.Sym, prev)
					}
					symbols[d.Sym] = s[i]
				}
			}
		}
		v.SetType(v.DType, s.Clone())
	}
	for _, v := range g.Inputs {
		if _, ok := cfg.Shapes[v.Name]; ok || !v.HasShape {
			continue
		}
		for i, d := range v.Shape {
			if b, ok := symbols[d.Sym]; ok && d.Size == 1 {
				v.Shape[i] = b
			}
		}
	}
	return nil
}
