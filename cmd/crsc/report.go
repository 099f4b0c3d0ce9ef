package main

import (
	"fmt"
	"io"

	"crsc/compiler/passes"
	"crsc/training/train"
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
	fmt.Fprintf(w, "wta-crs:   %d of %d linear layers sampled\n", train.CountSampled(t), len(t.Layers))
	for _, d := range t.Layers {
		mark, why := train.DescribeLayer(d)
		fmt.Fprintf(w, "  %-7s %-60s %s\n", mark, d.Node, why)
	}
}
