package study

import (
	"encoding/json"
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// Output files of WriteFiles.
const (
	MarkdownFile = "variance.md"
	JSONFile     = "variance.json"
	PlotFile     = "variance.png"
)

// WriteFiles writes DIR/variance.md (tables and setup), DIR/variance.json
// (every number) and DIR/variance.png (the bar chart).
func (r *Result) WriteFiles(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, MarkdownFile), []byte(r.Markdown()), 0o644); err != nil {
		return err
	}
	js, err := json.MarshalIndent(r, "", " ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, JSONFile), append(js, '\n'), 0o644); err != nil {
		return err
	}
	return r.Plot(filepath.Join(dir, PlotFile))
}

// row finds the summary row of (group, keep, source).
func (r *Result) row(group string, keep float64, source string) (Row, bool) {
	for _, row := range r.Summary {
		if row.Group == group && row.Keep == keep && row.Source == source {
			return row, true
		}
	}
	return Row{}, false
}

// Tables returns the Markdown tables of mean relative errors, one per keep
// ratio (rows: layer groups and all; columns: ĝ source × estimator), and
// the table of wta/crs ratios with where the paper's condition held.
func (r *Result) Tables() string {
	var b strings.Builder
	groups := append(append([]string{}, Groups...), "all")
	n := 0
	if len(r.Cases) > 0 {
		n = r.Cases[0].Rows
	}
	for _, keep := range r.Config.Keeps {
		fmt.Fprintf(&b, "Relative error at keep %g (k = %d of N = %d rows):\n\n| layers |", keep, budget(keep, n), n)
		for _, src := range Sources {
			for _, est := range Estimators {
				fmt.Fprintf(&b, " %s %s |", est, src)
			}
		}
		b.WriteString("\n|---|" + strings.Repeat("---:|", len(Sources)*len(Estimators)) + "\n")
		for _, g := range groups {
			fmt.Fprintf(&b, "| %s |", g)
			for _, src := range Sources {
				row, _ := r.row(g, keep, src)
				for _, est := range Estimators {
					cell := fmt.Sprintf(" %.3f |", row.Error[est])
					if g == "all" {
						cell = fmt.Sprintf(" **%.3f** |", row.Error[est])
					}
					b.WriteString(cell)
				}
			}
			b.WriteString("\n")
		}
		b.WriteString("\n")
	}
	b.WriteString("wta / crs error ratio (mean over cases), and in how many cases the paper's condition P_c > c/k held:\n\n| layers | keep |")
	for _, src := range Sources {
		fmt.Fprintf(&b, " %s |", src)
	}
	b.WriteString("\n|---|---:|" + strings.Repeat("---:|", len(Sources)) + "\n")
	for _, g := range groups {
		for _, keep := range r.Config.Keeps {
			fmt.Fprintf(&b, "| %s | %g |", g, keep)
			for _, src := range Sources {
				row, _ := r.row(g, keep, src)
				fmt.Fprintf(&b, " %.3f (%d/%d) |", row.WTAOverCRS, row.Condition, row.Cases)
			}
			b.WriteString("\n")
		}
	}
	return b.String()
}

// Markdown is the whole report: setup, tables, bias check and caveats.
func (r *Result) Markdown() string {
	c := r.Config
	var b strings.Builder
	b.WriteString("# Variance study: WTA-CRS vs CRS vs top-k on real activations and gradients\n\n")
	fmt.Fprintf(&b, "Setup. A BERT classifier (hidden %d, %d layers, %d heads, FFN %d, vocab %d, seed %d) is trained exactly "+
		"(AdamW, lr %g after %d warmup steps, weight decay 0.01) on a fixed subset of %d GLUE SST-2 training sentences "+
		"(lowercased, split on non-letters, words hashed with FNV-1a into the vocabulary, [CLS] first, padded to %d), "+
		"batch %d, shuffled with a fixed seed each epoch: %d steps = %d epochs. Mean training loss per epoch: %s; "+
		"loss at the last steps: %s.\n\n",
		c.Model.Hidden, c.Model.Layers, c.Model.Heads, c.Model.FFN, c.Model.Vocab, c.Seed, c.LR, c.Warmup,
		c.Examples, c.Seq, c.Batch, c.Steps, c.Steps/(c.Examples/c.Batch), r.epochLosses(), r.lastLosses())
	fmt.Fprintf(&b, "At steps %s (batches of the second epoch, the model still learning), X and G = dL/dY of every linear layer "+
		"of the encoder (%d layers, N = batch·seq = %d rows each) are taken from the exact training graph's weight-gradient "+
		"Gemm, before the optimizer step. For each layer, keep ratio and ĝ source, the runtime's SampleRows kernel draws "+
		"%d estimates dŴ = Xsᵀ·G[idx] of dW = Xᵀ·G (seeds 1..%d; topk %d, it is deterministic); the tables give the RMS "+
		"of ‖dŴ − dW‖_F / ‖dW‖_F over the draws, averaged over the snapshot steps and the layers of a group.\n\n",
		joinInts(r.SnapshotSteps), len(r.Layers), r.rows(), c.Repeats, c.Repeats, c.TopKRepeats)
	fmt.Fprintf(&b, "Sampling probabilities p_i ∝ ‖X_i‖·ĝ_i (WTACRS.md §3) with ĝ from: **none** (ĝ = 1); **ema** (per layer "+
		"and token position, an exponential moving average, β = %g, of the batch-mean ‖G‖ over all earlier steps); "+
		"**cache** (each row's ‖G_i‖ from its example's visit in the previous epoch: %d values = %.1f MB in fp32 "+
		"for this subset); **oracle** (the true ‖G_i‖ of the current step — not available in real training, an upper bound).\n\n",
		c.EMABeta, r.CacheValues, float64(4*r.CacheValues)/1e6)
	b.WriteString(r.Tables())
	b.WriteString("\n")
	b.WriteString(r.closedFormNote())
	b.WriteString(r.biasNote())
	b.WriteString(r.violationNote())
	b.WriteString(r.observations())
	return b.String()
}

// observations explains the pattern of the tables with numbers from
// the run.
func (r *Result) observations() string {
	last := r.Config.Keeps[len(r.Config.Keeps)-1]
	// Per source: cases, cases where the condition held, and cases at the
	// largest keep where wta's expected error is 0 (winners take every
	// row with G ≠ 0).
	cases, held, exact := map[string]int{}, map[string]int{}, map[string]int{}
	var few []string
	for _, cs := range r.Cases {
		cases[cs.Source]++
		if cs.Condition {
			held[cs.Source]++
		}
		if cs.Keep == last && cs.Errors["wta"].Expected < 1e-6 {
			exact[cs.Source]++
		}
		if cs.Step == r.SnapshotSteps[0] && cs.Keep == last && cs.Source == "none" && cs.GRows < cs.Rows/4 {
			few = append(few, fmt.Sprintf("%s (%d)", cs.Layer, cs.GRows))
		}
	}
	perKeep := func(src string) int { return cases[src] / len(r.Config.Keeps) }
	var b strings.Builder
	fmt.Fprintf(&b, "\nObservations. %.0f %% of the snapshot rows are padding, where G = 0 but X ≠ 0 (attention masks "+
		"padded keys, so no gradient flows back there)", 100*r.PadFraction)
	if len(few) > 0 {
		fmt.Fprintf(&b, "; in the last encoder layer only the [CLS] rows reach the pooler, so these layers have G ≠ 0 on few rows "+
			"(step %d): %s", r.SnapshotSteps[0], strings.Join(few, ", "))
	}
	fmt.Fprintf(&b, ". With ĝ = 1 (none) the probabilities follow ‖X‖ alone and the draws go mostly to rows with G = 0; "+
		"P_c > c/k held in %d of %d cases, and where it does not wta is plain crs. cache knows each example's padding "+
		"(its ‖G‖ was 0 there in the previous epoch) and ema the per-position profile, so they give WTA winners: the "+
		"condition held in %d (cache) and %d (ema) of %d cases. ", held["none"], cases["none"], held["cache"], held["ema"], cases["cache"])
	fmt.Fprintf(&b, "At keep %g the winners take every row with G ≠ 0, and wta is exact, in %d of %d cases with cache "+
		"(oracle: %d of %d). crs with cache is worse than with ema: norms from the previous epoch underestimate some rows "+
		"now, and a row drawn with a small p gets a large scale. topk often has the lowest error at one step, but it is "+
		"biased: averaging any number of draws does not bring it to dW.\n",
		last, exact["cache"], perKeep("cache"), exact["oracle"], perKeep("oracle"))
	return b.String()
}

// closedFormNote compares the Monte Carlo errors with their closed form
// over all layers.
func (r *Result) closedFormNote() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Monte Carlo (%d draws) vs closed form, all layers. The expected squared error has a closed form given p "+
		"(crs: (Σ_i ‖a_i‖²/p_i − ‖dW‖²)/k; wta: the same over the non-winners, scaled by 1 − P_c*, over k − c*; "+
		"topk: the squared bias), with a_i = X_iᵀG_i. Where ĝ underestimates some rows' ‖G_i‖, the squared error "+
		"is heavy-tailed and a few hundred draws tend to run below it.\n\n", r.Config.Repeats)
	b.WriteString("| keep | source | wta MC / closed | crs MC / closed | topk |\n|---:|---|---:|---:|---:|\n")
	for _, keep := range r.Config.Keeps {
		for _, src := range Sources {
			row, _ := r.row("all", keep, src)
			fmt.Fprintf(&b, "| %g | %s | %.3f / %.3f | %.3f / %.3f | %.3f |\n", keep, src,
				row.Error["wta"], row.Expected["wta"], row.Error["crs"], row.Expected["crs"], row.Error["topk"])
		}
	}
	b.WriteString("\n")
	return b.String()
}

// biasNote reports the error of the mean of all draws: it shrinks like
// 1/√R for the unbiased estimators and stays put for topk.
func (r *Result) biasNote() string {
	var b strings.Builder
	b.WriteString("Bias check (all layers): relative error of the mean of the draws, vs the RMS error of one draw.\n\n")
	b.WriteString("| keep | source | wta mean / one | crs mean / one | topk mean / one | topk deterministic |\n|---:|---|---:|---:|---:|---|\n")
	for _, keep := range r.Config.Keeps {
		for _, src := range Sources {
			var mean, one [3]float64
			det, n := 0, 0
			for _, cs := range r.Cases {
				if cs.Keep != keep || cs.Source != src {
					continue
				}
				n++
				for i, est := range Estimators {
					mean[i] += cs.Errors[est].OfMean
					one[i] += cs.Errors[est].RMS
				}
				if cs.Errors["topk"].Deterministic {
					det++
				}
			}
			fmt.Fprintf(&b, "| %g | %s |", keep, src)
			for i := range Estimators {
				fmt.Fprintf(&b, " %.3f / %.3f |", mean[i]/float64(n), one[i]/float64(n))
			}
			fmt.Fprintf(&b, " %d/%d |\n", det, n)
		}
	}
	fmt.Fprintf(&b, "\nwta and crs are unbiased: the mean of %d draws is about 1/√%d ≈ %.2f of one draw's error. topk returns "+
		"the same rows every time, so averaging does not help: its error is bias.\n\n",
		r.Config.Repeats, r.Config.Repeats, 1/math.Sqrt(float64(r.Config.Repeats)))
	return b.String()
}

// violationNote lists the cases where the condition held but wta's Monte
// Carlo error exceeds crs's by more than 2 %, with the closed form.
func (r *Result) violationNote() string {
	held := 0
	for _, cs := range r.Cases {
		if cs.Condition {
			held++
		}
	}
	vs := r.Violations(0.02)
	var b strings.Builder
	fmt.Fprintf(&b, "wta vs crs where the condition held (%d of %d cases): wta's error is at most crs's in every case "+
		"by the closed-form expectation", held, len(r.Cases))
	if bad := r.expectedViolations(); len(bad) > 0 {
		b.Reset()
		fmt.Fprintf(&b, "wta vs crs where the condition held (%d of %d cases): the closed-form expectation has wta above crs in %d cases", held, len(r.Cases), len(bad))
	}
	if len(vs) == 0 {
		b.WriteString(", and in the Monte Carlo measurement within 2 %.\n")
		return b.String()
	}
	noisy := 0
	for _, cs := range vs {
		w, c := cs.Errors["wta"], cs.Errors["crs"]
		if w.RMS*w.RMS-c.RMS*c.RMS <= 3*math.Hypot(w.MSEStdErr, c.MSEStdErr) {
			noisy++
		}
	}
	fmt.Fprintf(&b, "; the Monte Carlo measurement has wta more than 2 %% above crs in %d, of which %d lie within 3 "+
		"standard errors of the draws (heavy-tailed draws: a row with small p gets a large scale):\n\n", len(vs), noisy)
	b.WriteString("| layer | step | keep | source | c* | P_c* | wta RMS | crs RMS | wta expected | crs expected |\n|---|---:|---:|---|---:|---:|---:|---:|---:|---:|\n")
	for _, cs := range vs {
		w, c := cs.Errors["wta"], cs.Errors["crs"]
		fmt.Fprintf(&b, "| %s | %d | %g | %s | %d | %.3f | %.3f | %.3f | %.3f | %.3f |\n",
			cs.Layer, cs.Step, cs.Keep, cs.Source, cs.CStar, cs.PCStar, w.RMS, c.RMS, w.Expected, c.Expected)
	}
	return b.String()
}

// expectedViolations lists the cases where the condition held and the
// closed-form expected error of wta exceeds crs's.
func (r *Result) expectedViolations() []Case {
	var out []Case
	for _, cs := range r.Cases {
		if cs.Condition && cs.Errors["wta"].Expected > cs.Errors["crs"].Expected*(1+1e-9) {
			out = append(out, cs)
		}
	}
	return out
}

func (r *Result) rows() int {
	if len(r.Cases) == 0 {
		return 0
	}
	return r.Cases[0].Rows
}

func (r *Result) epochLosses() string {
	per := r.Config.Examples / r.Config.Batch
	var parts []string
	for e := 0; e*per < len(r.Loss); e++ {
		sum, n := 0.0, 0
		for _, l := range r.Loss[e*per : min((e+1)*per, len(r.Loss))] {
			sum += l
			n++
		}
		parts = append(parts, fmt.Sprintf("%.3f", sum/float64(n)))
	}
	return strings.Join(parts, " → ")
}

func (r *Result) lastLosses() string {
	var parts []string
	for _, s := range r.SnapshotSteps {
		parts = append(parts, fmt.Sprintf("%.3f", r.Loss[s-1]))
	}
	return strings.Join(parts, ", ")
}

func joinInts(xs []int) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = fmt.Sprint(x)
	}
	return strings.Join(parts, ", ")
}

// Plot writes the grouped bar chart: for each ĝ source, the relative error
// of wta, crs and topk at every keep ratio, averaged over all layers.
func (r *Result) Plot(path string) error {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("Weight-gradient estimates on BERT mid-training (mean over %d layers × %d steps)", len(r.Layers), len(r.SnapshotSteps))
	p.Y.Label.Text = "relative error ‖dŴ − dW‖ / ‖dW‖ (RMS)"
	p.X.Label.Text = "ĝ source (oracle = true ‖G‖, an upper bound)"
	hues := map[string]color.RGBA{
		"wta":  {R: 0x1f, G: 0x77, B: 0xb4, A: 0xff},
		"crs":  {R: 0xd6, G: 0x27, B: 0x28, A: 0xff},
		"topk": {R: 0x7f, G: 0x7f, B: 0x7f, A: 0xff},
	}
	width := vg.Points(16)
	top := 0.0
	nBars := len(r.Config.Keeps) * len(Estimators)
	i := 0
	for ki, keep := range r.Config.Keeps {
		for _, est := range Estimators {
			vals := make(plotter.Values, len(Sources))
			for s, src := range Sources {
				row, _ := r.row("all", keep, src)
				vals[s] = row.Error[est]
				top = max(top, vals[s])
			}
			bars, err := plotter.NewBarChart(vals, width)
			if err != nil {
				return err
			}
			bars.LineStyle.Width = 0
			bars.Color = shade(hues[est], ki)
			bars.Offset = vg.Length(float64(i)-float64(nBars-1)/2) * width
			p.Add(bars)
			p.Legend.Add(fmt.Sprintf("%s @ keep %g", est, keep), bars)
			i++
		}
	}
	p.NominalX(Sources...)
	p.X.Min, p.X.Max = -0.6, float64(len(Sources))-0.4
	p.Y.Min, p.Y.Max = 0, 1.1*top
	p.Legend.Top = true
	p.Add(plotter.NewGrid())
	return p.Save(9*vg.Inch, 5*vg.Inch, path)
}

// shade lightens c for the i-th keep ratio.
func shade(c color.RGBA, i int) color.RGBA {
	f := 1 - 0.45*float64(i)
	mix := func(v uint8) uint8 { return uint8(float64(v)*f + 255*(1-f)) }
	return color.RGBA{R: mix(c.R), G: mix(c.G), B: mix(c.B), A: 0xff}
}
