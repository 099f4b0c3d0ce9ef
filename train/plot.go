package train

import (
	"bufio"
	"encoding/json"
	"io"
	"os"
	"path/filepath"

	"crsc/internal/atomicfile"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// writePlot draws curves.png from metrics.jsonl: the training loss over
// steps on top, the evaluation metric below.
func writePlot(dir, metric string) error {
	f, err := os.Open(filepath.Join(dir, MetricsFile))
	if err != nil {
		return err
	}
	defer f.Close()
	var loss, evals plotter.XYs
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var rec struct {
			Step int                `json:"step"`
			Loss *float64           `json:"loss"`
			Eval map[string]float64 `json:"eval"`
		}
		if json.Unmarshal(sc.Bytes(), &rec) != nil {
			continue
		}
		if rec.Loss != nil {
			loss = append(loss, plotter.XY{X: float64(rec.Step), Y: *rec.Loss})
		}
		if v, ok := rec.Eval[metric]; ok {
			evals = append(evals, plotter.XY{X: float64(rec.Step), Y: v})
		}
	}
	top := plot.New()
	top.Title.Text = "training loss"
	top.X.Label.Text = "step"
	bottom := plot.New()
	bottom.Title.Text = "eval " + metric
	bottom.X.Label.Text = "step"
	for _, p := range []struct {
		plt *plot.Plot
		xy  plotter.XYs
	}{{top, loss}, {bottom, evals}} {
		if len(p.xy) == 0 {
			continue
		}
		line, points, err := plotter.NewLinePoints(p.xy)
		if err != nil {
			return err
		}
		p.plt.Add(line, points, plotter.NewGrid())
	}
	img := vgimg.New(8*vg.Inch, 7*vg.Inch)
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: 2, Cols: 1, PadY: vg.Centimeter}
	canvases := plot.Align([][]*plot.Plot{{top}, {bottom}}, tiles, dc)
	top.Draw(canvases[0][0])
	bottom.Draw(canvases[1][0])
	return atomicfile.Write(filepath.Join(dir, PlotFile), func(w io.Writer) error {
		_, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(w)
		return err
	})
}
