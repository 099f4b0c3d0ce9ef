package train

import (
	"bytes"
	"fmt"
	"io"
	"path/filepath"

	"crsc/compiler/ir"
	"crsc/compiler/memplan"
	"crsc/compiler/passes"
	"crsc/internal/atomicfile"
)

// writeMemoryReport writes the compiler's decisions and the training
// graph's memory plan to memory.txt.
func (t *trainer) writeMemoryReport() error {
	var b bytes.Buffer
	WriteDecisions(&b, t.compiled)
	fmt.Fprintln(&b)
	plan := t.sess.Plan(t.train)
	plan.Report(&b, 20)
	t.kept = keptByOp(plan, 8)
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
	fmt.Fprintf(w, "wta-crs: %d of %d linear layers sampled\n", CountSampled(t), len(t.Layers))
	if line := t.AttentionSummary(); line != "" {
		fmt.Fprintf(w, "attention: %s\n", line)
	}
	for _, d := range t.Layers {
		mark, why := DescribeLayer(d)
		fmt.Fprintf(w, "  %-7s %-56s %s\n", mark, d.Node, why)
	}
}

// keepsAllRows says a layer the compiler sampled keeps every row (k = N:
// fewer rows than --min-rows, or --keep 1 with an explicit estimator). Its
// gradient and what it keeps are the exact ones, so it is reported as
// exact: "sampled, keeps 8 of 8 rows" would claim a saving there is not.
func keepsAllRows(d passes.LayerDecision) bool { return d.Sampled && d.Rows > 0 && d.Kept >= d.Rows }

// Sampled says a layer's weight gradient is really estimated from a
// subset of its rows.
func Sampled(d passes.LayerDecision) bool { return d.Sampled && !keepsAllRows(d) }

// CountSampled is the number of linear layers that are really sampled.
func CountSampled(t *passes.Training) int {
	n := 0
	for _, d := range t.Layers {
		if Sampled(d) {
			n++
		}
	}
	return n
}

// DescribeLayer is a layer's line in the reports: "sampled" or "exact",
// and why (with the rows kept when they are known).
func DescribeLayer(d passes.LayerDecision) (mark, why string) {
	switch {
	case keepsAllRows(d):
		return "exact", fmt.Sprintf("all %d rows kept (k = N: no more rows than --min-rows or --keep leave), so its gradient is exact", d.Rows)
	case d.Sampled && d.Rows > 0:
		return "sampled", fmt.Sprintf("%s [keeps %d of %d rows]", d.Why, d.Kept, d.Rows)
	case d.Sampled:
		return "sampled", d.Why
	}
	return "exact", d.Why
}

// estimatorNames are the estimators as the paper and the reports call them.
var estimatorNames = map[string]string{"wta": "WTA-CRS", "crs": "CRS", "topk": "top-k (biased)"}

// SamplingSummary is the run's first line: what is sampled, e.g.
// "WTA-CRS keep 0.3: 27 of 72 linear layers sampled, 45 exact — see memory.txt".
func SamplingSummary(t *passes.Training, s passes.SamplingSpec) string {
	name, ok := estimatorNames[s.Estimator]
	if !ok || t == nil {
		return "exact training: no weight gradient is sampled (--keep K < 1 samples them with WTA-CRS)"
	}
	n := CountSampled(t)
	line := fmt.Sprintf("%s keep %g: %d of %d linear layers sampled, %d exact", name, s.Keep, n, len(t.Layers), len(t.Layers)-n)
	if s.Attention {
		sampled := 0
		for _, a := range t.Attention {
			if a.Sampled {
				sampled++
			}
		}
		line += fmt.Sprintf(", %d of %d attention operands sampled", sampled, len(t.Attention))
	}
	return line + " — see " + MemoryFile
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
