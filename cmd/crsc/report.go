package main

import (
	"fmt"
	"io"

	"crsc/passes"
)

// printLayerDecisions shows, per linear layer, whether its weight gradient
// is sampled and why.
func printLayerDecisions(w io.Writer, t *passes.Training) {
	if t == nil {
		return
	}
	if len(t.Adapters) > 0 {
		fmt.Fprintf(w, "lora:      %d adapter tensors\n", len(t.Adapters))
	}
	if t.MemoryRewrites > 0 {
		fmt.Fprintf(w, "memory:    %d rewrites (regenerated Dropout masks, 1-bit ReLU masks, norms from their output)\n", t.MemoryRewrites)
	}
	if line := t.AttentionSummary(); line != "" {
		fmt.Fprintf(w, "attention: %s\n", line)
	}
	if len(t.Layers) == 0 {
		return
	}
	sampled := 0
	for _, d := range t.Layers {
		if d.Sampled {
			sampled++
		}
	}
	fmt.Fprintf(w, "wta-crs:   %d of %d linear layers sampled\n", sampled, len(t.Layers))
	for _, d := range t.Layers {
		mark := "exact  "
		rows := ""
		if d.Sampled {
			mark = "sampled"
			if d.Rows > 0 {
				rows = fmt.Sprintf(" [keeps %d of %d rows]", d.Kept, d.Rows)
			}
		}
		fmt.Fprintf(w, "  %s %-60s %s%s\n", mark, d.Node, d.Why, rows)
	}
}
