package train

import (
	"bytes"
	"fmt"
	"io"
	"path/filepath"
	"sort"

	"crsc/internal/atomicfile"
	"crsc/ir"
	"crsc/memplan"
	"crsc/passes"
)

// writeMemoryReport writes the compiler's decisions and the training
// graph's memory plan to memory.txt.
func (t *trainer) writeMemoryReport() error {
	var b bytes.Buffer
	WriteDecisions(&b, t.compiled)
	fmt.Fprintln(&b)
	t.sess.Plan(t.train).Report(&b, 20)
	t.memoryReport = b.String()
	return atomicfile.WriteBytes(filepath.Join(t.cfg.Out, MemoryFile), b.Bytes())
}

// PlanMemory plans a training graph's activation memory.
func PlanMemory(g *ir.Graph) (*memplan.MemPlan, error) {
	return memplan.Plan(g, memplan.Options{ForwardEnd: memplan.ForwardEnd(g)})
}

// WriteDecisions lists, per linear layer, whether its weight gradient is
// sampled and why.
func WriteDecisions(w io.Writer, t *passes.Training) {
	fmt.Fprintf(w, "trained tensors: %d", len(t.Trained))
	if len(t.Adapters) > 0 {
		fmt.Fprintf(w, " (LoRA: %d adapter tensors)", len(t.Adapters))
	}
	fmt.Fprintf(w, "\nmemory rewrites: %d\n", t.MemoryRewrites)
	sampled := 0
	for _, d := range t.Layers {
		if d.Sampled {
			sampled++
		}
	}
	fmt.Fprintf(w, "wta-crs: %d of %d linear layers sampled\n", sampled, len(t.Layers))
	if line := t.AttentionSummary(); line != "" {
		fmt.Fprintf(w, "attention: %s\n", line)
	}
	for _, d := range t.Layers {
		mark, rows := "exact  ", ""
		if d.Sampled {
			mark = "sampled"
			if d.Rows > 0 {
				rows = fmt.Sprintf(" [keeps %d of %d rows]", d.Kept, d.Rows)
			}
		}
		fmt.Fprintf(w, "  %s %-56s %s%s\n", mark, d.Node, d.Why, rows)
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// appendMeasured adds what the run measured to memory.txt, beside the
// plan: the arena's high-water mark and the process's peak RSS (on a GPU,
// the device's peak).
func (t *trainer) appendMeasured(res *Result) error {
	return atomicfile.WriteBytes(filepath.Join(t.cfg.Out, MemoryFile), []byte(t.memoryReport+res.MemoryLine()))
}

// MemoryLine is the planned-vs-measured summary of a run (memory.txt and
// the final console line).
func (r *Result) MemoryLine() string {
	b, m := r.Budget, r.Memory
	line := fmt.Sprintf("\nplanned: %s\nmeasured: arena high-water %s of %s planned, kernel scratch %s, unplanned outputs %s; peak RSS %s (%.2f× the plan total)\n",
		b, memplan.FormatBytes(m.ArenaHighWater), memplan.FormatBytes(m.ArenaBytes), memplan.FormatBytes(m.Workspace), memplan.FormatBytes(m.Unplanned),
		memplan.FormatBytes(r.PeakRSS), float64(r.PeakRSS)/float64(max(b.Total, 1)))
	if m.DevicePeak > 0 {
		line += fmt.Sprintf("device: peak %s; last step moved %s to the device and %s back\n",
			memplan.FormatBytes(m.DevicePeak), memplan.FormatBytes(m.LastStepUpload), memplan.FormatBytes(m.LastStepDownload))
	}
	return line
}
