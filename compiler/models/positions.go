package models

import (
	"strings"

	"crsc/compiler/ir"
)

// PositionTable finds a learned absolute position embedding (BERT's
// position_embeddings): a 2-D float initializer named like one, and its
// row count, the longest sequence the model can read. T5's relative
// attention has none ("", 0): any length works there.
func PositionTable(g *ir.Graph) (name string, rows int) {
	for _, v := range g.Inits {
		if v.Init != nil && len(v.Init.Shape) == 2 && v.DType.IsFloat() && strings.Contains(strings.ToLower(v.Name), "position_embeddings") {
			return v.Name, v.Init.Shape[0]
		}
	}
	return "", 0
}
