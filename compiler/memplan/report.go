package memplan

import (
	"fmt"
	"io"
	"strings"
)

// Report writes the totals (parameters, inputs, planned arena peak, lower
// bound, saved for backward) and then the top largest tensors kept for the
// backward pass (all of them when top <= 0).
func (p *MemPlan) Report(w io.Writer, top int) {
	fmt.Fprintf(w, "memory plan of %q: %d nodes, %d buffers\n", p.Graph.Name, len(p.Graph.Nodes), len(p.Buffers))
	row := func(what string, b int64, note string) {
		fmt.Fprintf(w, "  %-22s %12s  %s\n", what, FormatBytes(b), note)
	}
	row("parameters", p.ParamsBytes, "float initializers with more than one element")
	row("constants", p.ConstBytes, "other initializers")
	row("inputs", p.InputsBytes, "graph inputs")
	row("arena (planned peak)", p.PlannedPeak, fmt.Sprintf("greedy by size, %d-byte aligned", p.Align))
	row("lower bound", p.LowerBound, fmt.Sprintf("most bytes alive at once; fragmentation %.3f", p.Fragmentation()))
	if p.ForwardEnd < 0 {
		fmt.Fprintln(w, "  no backward nodes: nothing is kept for backward")
		return
	}
	row("saved for backward", p.SavedActivationBytes, fmt.Sprintf("%d forward tensors read by the backward pass", len(p.Saved)))
	p.reportPeak(w, top)
	p.reportRecomputed(w, top)
	if len(p.Saved) == 0 {
		return
	}
	n := len(p.Saved)
	if top > 0 && top < n {
		n = top
	}
	fmt.Fprintf(w, "largest %d kept for backward:\n", n)
	fmt.Fprintf(w, "  %10s  %-5s %-18s %-22s %-40s %s\n", "bytes", "dtype", "shape", "op", "value", "read by")
	for _, s := range p.Saved[:n] {
		readers := s.Readers
		more := ""
		if len(readers) > 2 {
			more = fmt.Sprintf(" +%d more", len(readers)-2)
			readers = readers[:2]
		}
		fmt.Fprintf(w, "  %10s  %-5v %-18s %-22s %-40s %s%s\n", FormatBytes(s.Bytes), s.DType,
			fmt.Sprint(s.Shape), s.Op, clip(s.Value, 40), strings.Join(readers, ", "), more)
	}
}

// FormatBytes prints a byte count with a binary unit.
func FormatBytes(b int64) string {
	switch {
	case b >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(b)/(1<<30))
	case b >= 1<<20:
		return fmt.Sprintf("%.2f MiB", float64(b)/(1<<20))
	case b >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(b)/(1<<10))
	}
	return fmt.Sprintf("%d B", b)
}

// clip shortens s to n characters, keeping its end (value names end in
// what distinguishes them).
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n+1:]
}

// reportPeak lists what is alive at the busiest moment, grouped by phase,
// op and shape (the top largest groups; all when top <= 0).
func (p *MemPlan) reportPeak(w io.Writer, top int) {
	node, groups := p.AtPeak()
	if len(groups) == 0 {
		return
	}
	phase := "forward"
	if p.ForwardEnd >= 0 && node > p.ForwardEnd {
		phase = "backward"
	}
	if top > 0 && top < len(groups) {
		groups = groups[:top]
	}
	fmt.Fprintf(w, "alive at the peak (node %d of %d, %s: %s):\n", node, len(p.Graph.Nodes), phase, clip(p.Graph.Nodes[node].Name, 60))
	fmt.Fprintf(w, "  %10s  %5s  %-8s %-22s %s\n", "bytes", "count", "phase", "op", "shape")
	for _, g := range groups {
		fmt.Fprintf(w, "  %10s  %5d  %-8s %-22s %v\n", FormatBytes(g.Bytes), g.Count, g.Phase, g.Op, g.Shape)
	}
}
