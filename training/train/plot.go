package train

import (
	"fmt"
	"image/color"
	"io"
	"math"
	"path/filepath"
	"slices"
	"sort"

	"crsc/compiler/memplan"
	"crsc/internal/atomicfile"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// metricRanges are the values each task metric can take: the plot's
// y axis never leaves them.
var metricRanges = map[string][2]float64{
	"accuracy": {0, 1}, "f1": {0, 1}, "matthews": {-1, 1}, "pearson": {-1, 1}, "spearman": {-1, 1},
}

// paddedRange is an axis for values in [lo, hi]: 8 % of the span on each
// side (at least minPad, so that one point or a flat line gets a readable
// axis), clamped to [floor, ceil] (a metric's range; ±Inf for none).
func paddedRange(lo, hi, minPad, floor, ceil float64) (float64, float64) {
	pad := math.Max(0.08*(hi-lo), minPad)
	return math.Max(lo-pad, floor), math.Min(hi+pad, ceil)
}

func yRange(xy plotter.XYs) (lo, hi float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, p := range xy {
		if !math.IsNaN(p.Y) && !math.IsInf(p.Y, 0) {
			lo, hi = math.Min(lo, p.Y), math.Max(hi, p.Y)
		}
	}
	return lo, hi
}

// writePlot draws curves.png from metrics.jsonl: the training loss over
// steps on top, the evaluation metric below, on one step axis.
func writePlot(dir, metric string) error {
	recs, err := readMetrics(dir)
	if err != nil {
		return err
	}
	var loss, evals plotter.XYs
	lastStep := 1.0
	for _, r := range recs {
		if r.Loss != nil {
			loss = append(loss, plotter.XY{X: float64(r.Step), Y: *r.Loss})
		}
		if v, ok := r.Eval[metric]; ok && !math.IsNaN(v) {
			evals = append(evals, plotter.XY{X: float64(r.Step), Y: v})
		}
		lastStep = math.Max(lastStep, float64(r.Step))
	}
	top := plot.New()
	top.Title.Text = "training loss"
	top.Y.Label.Text = "loss"
	bottom := plot.New()
	bottom.Title.Text = "evaluation: " + metric
	bottom.Y.Label.Text = metric
	for _, p := range []*plot.Plot{top, bottom} {
		p.X.Label.Text = "optimizer step"
		// Past the last step a little: its point is not on the frame.
		p.X.Min, p.X.Max = 0, lastStep*1.03
		p.Add(plotter.NewGrid())
	}
	if len(loss) > 0 {
		if err := addLine(top, loss, color.RGBA{B: 200, A: 255}); err != nil {
			return err
		}
		lo, hi := yRange(loss)
		// A loss is ≥ 0; the pad is a share of the loss itself when flat.
		top.Y.Min, top.Y.Max = paddedRange(lo, hi, 0.05*math.Max(math.Abs(hi), 1e-3), 0, math.Inf(1))
	}
	r, ok := metricRanges[metric]
	if !ok {
		r = [2]float64{math.Inf(-1), math.Inf(1)}
	}
	if len(evals) > 0 {
		if err := addLine(bottom, evals, color.RGBA{R: 200, G: 80, A: 255}); err != nil {
			return err
		}
		lo, hi := yRange(evals)
		bottom.Y.Min, bottom.Y.Max = paddedRange(lo, hi, 0.05, r[0], r[1])
	} else {
		bottom.Title.Text += " (no evaluation: no dev file)"
		if ok {
			bottom.Y.Min, bottom.Y.Max = r[0], r[1]
		}
	}
	return saveStacked(top, bottom, 7*vg.Inch, filepath.Join(dir, PlotFile))
}

func addLine(p *plot.Plot, xy plotter.XYs, c color.Color) error {
	line, points, err := plotter.NewLinePoints(xy)
	if err != nil {
		return err
	}
	line.Color, points.Color = c, c
	p.Add(line, points)
	return nil
}

func savePNG(path string, img *vgimg.Canvas) error {
	return atomicfile.Write(path, func(w io.Writer) error {
		_, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(w)
		return err
	})
}

// opBytes is what backward keeps of one op's outputs.
type opBytes struct {
	Op    string
	Bytes int64
}

// keptByOp groups what the plan's backward keeps (its Saved list) by the
// producing op, largest first; past the top few, the rest is "other".
func keptByOp(p *memplan.MemPlan, top int) []opBytes {
	if p == nil {
		return nil
	}
	sum := map[string]int64{}
	for _, s := range p.Saved {
		sum[s.Op] += s.Bytes
	}
	var out []opBytes
	for op, b := range sum {
		out = append(out, opBytes{op, b})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Bytes != out[j].Bytes {
			return out[i].Bytes > out[j].Bytes
		}
		return out[i].Op < out[j].Op
	})
	if len(out) > top {
		var rest int64
		for _, o := range out[top-1:] {
			rest += o.Bytes
		}
		out = append(out[:top-1], opBytes{"other", rest})
	}
	return out
}

const mibF = 1 << 20

// writeMemoryPlot draws memory.png: the run's planned memory against what
// it measured (top), and what backward keeps of the training graph's
// activations, by op (bottom; from the memory plan). Bars are horizontal,
// so that op names stay readable, and each carries its value: at small
// sizes the peak RSS (the Go runtime, the binary) dwarfs the plan.
func writeMemoryPlot(dir string, res *Result, kept []opBytes) error {
	b, m := res.Budget, res.Memory
	top := plot.New()
	top.Title.Text = "memory: planned vs measured"
	names := []string{"parameters", "AdamW state", "arena", "data + batch", "total"}
	planned := []int64{b.Params, b.Optimizer + b.Accumulators, b.Arena, b.Data + b.Inputs, b.Total}
	// Measured: the arena's high-water mark and the process's peak RSS
	// (on a GPU, the device's peak), beside the plan's arena and total.
	peak, peakName := res.PeakRSS, "measured (arena high-water; total: peak RSS)"
	if m.DevicePeak > 0 {
		peak, peakName = m.DevicePeak, "measured (arena high-water; total: device peak)"
	}
	measured := []int64{0, 0, m.ArenaHighWater, 0, peak}
	w := vg.Points(11)
	pb, err := hbars(top, planned, w, w/2, color.RGBA{R: 90, G: 120, B: 200, A: 255})
	if err != nil {
		return err
	}
	mb, err := hbars(top, measured, w, -w/2, color.RGBA{R: 230, G: 140, B: 40, A: 255})
	if err != nil {
		return err
	}
	top.Legend.Add("planned", pb)
	top.Legend.Add(peakName, mb)
	// Bottom right: the small bars (parameters) leave room there.
	top.Legend.Top = false
	top.NominalY(names...)
	top.X.Label.Text = "MiB"
	top.X.Min = 0
	top.X.Max = 1.3 * float64(max(slices.Max(planned), slices.Max(measured), 1)) / mibF // room for the labels

	bottom := plot.New()
	var total int64
	var kv []int64
	var ops []string
	for _, o := range slices.Backward(kept) { // largest at the top
		total += o.Bytes
		kv = append(kv, o.Bytes)
		ops = append(ops, o.Op)
	}
	bottom.Title.Text = fmt.Sprintf("kept for backward, by op: %s in all (the training graph's memory plan)", memplan.FormatBytes(total))
	bottom.X.Label.Text = "MiB"
	if len(kv) > 0 {
		if _, err := hbars(bottom, kv, vg.Points(14), 0, color.RGBA{R: 80, G: 160, B: 90, A: 255}); err != nil {
			return err
		}
		bottom.NominalY(ops...)
		bottom.X.Min, bottom.X.Max = 0, 1.3*float64(slices.Max(kv))/mibF
	}
	return saveStacked(top, bottom, 8*vg.Inch, filepath.Join(dir, MemoryPlotFile))
}

// hbars adds horizontal bars of byte counts (drawn in MiB) to p, each
// labelled with its size; zero bars get no label.
func hbars(p *plot.Plot, bytes []int64, width, offset vg.Length, c color.Color) (*plotter.BarChart, error) {
	vals := make(plotter.Values, len(bytes))
	var labels plotter.XYLabels
	for i, n := range bytes {
		vals[i] = float64(n) / mibF
		if n > 0 {
			labels.XYs = append(labels.XYs, plotter.XY{X: vals[i], Y: float64(i)})
			labels.Labels = append(labels.Labels, memplan.FormatBytes(n))
		}
	}
	bars, err := plotter.NewBarChart(vals, width)
	if err != nil {
		return nil, err
	}
	bars.Horizontal, bars.Color, bars.Offset = true, c, offset
	p.Add(plotter.NewGrid(), bars)
	if len(labels.XYs) > 0 {
		l, err := plotter.NewLabels(labels)
		if err != nil {
			return nil, err
		}
		l.Offset = vg.Point{X: vg.Points(3), Y: offset - vg.Points(4)}
		p.Add(l)
	}
	return bars, nil
}

// saveStacked writes plot top above plot bottom, 8 inches wide and height
// high, as the PNG file path.
func saveStacked(top, bottom *plot.Plot, height vg.Length, path string) error {
	img := vgimg.New(8*vg.Inch, height)
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: 2, Cols: 1, PadY: vg.Centimeter, PadTop: vg.Millimeter * 3, PadBottom: vg.Millimeter * 3, PadLeft: vg.Millimeter * 3, PadRight: vg.Millimeter * 5}
	canvases := plot.Align([][]*plot.Plot{{top}, {bottom}}, tiles, dc)
	top.Draw(canvases[0][0])
	bottom.Draw(canvases[1][0])
	return savePNG(path, img)
}
