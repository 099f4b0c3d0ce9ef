package study

import (
	"fmt"
	"io"
	"math"
	goruntime "runtime"
	"sort"
	"sync"
	"time"

	"crsc/compiler/models"
)

// Config sizes the variance study.
type Config struct {
	Data  string            // GLUE SST-2 train.tsv
	Model models.BertConfig // the BERT classifier trained
	Seed  int64             // weights, subset, shuffles
	// Examples is the fixed training subset (a multiple of Batch); Seq
	// the padded length.
	Examples, Batch, Seq int
	// Steps of exact AdamW training; the last Snapshot of them are
	// studied (Steps > Examples/Batch, so the snapshot batches were all
	// seen in the previous epoch and the cache source has their norms).
	Steps, Snapshot int
	LR              float64 // peak learning rate, after linear warmup
	Warmup          int     // warmup steps
	EMABeta         float64 // decay of the ema source
	Keeps           []float64
	// Repeats draws per (layer, step, keep, source) for wta and crs;
	// TopKRepeats for topk, which is deterministic.
	Repeats, TopKRepeats int
	// Progress, when set, receives one line per training step.
	Progress io.Writer `json:"-"`
}

// DefaultConfig is the study's setting: a 2-layer BERT (hidden 128) trained
// on 1,024 SST-2 sentences for 2 epochs, studied at the last 4 steps.
func DefaultConfig() Config {
	return Config{
		Data:  "../shared/data/sst2/train.tsv",
		Model: models.BertConfig{Vocab: 2000, MaxPositions: 64, TypeVocab: 2, Hidden: 128, Layers: 2, Heads: 2, FFN: 512, Labels: 2},
		Seed:  1, Examples: 1024, Batch: 32, Seq: 32,
		Steps: 64, Snapshot: 4, LR: 1e-3, Warmup: 20, EMABeta: 0.9,
		Keeps: []float64{0.1, 0.3}, Repeats: 200, TopKRepeats: 8,
	}
}

func (c Config) validate() error {
	perEpoch := c.Examples / c.Batch
	switch {
	case c.Batch <= 0 || c.Examples%c.Batch != 0:
		return fmt.Errorf("examples %d must be a positive multiple of batch %d", c.Examples, c.Batch)
	case c.Seq < 2 || c.Seq > c.Model.MaxPositions:
		return fmt.Errorf("seq %d must be in [2, %d]", c.Seq, c.Model.MaxPositions)
	case c.Snapshot < 1 || c.Snapshot > c.Steps:
		return fmt.Errorf("snapshot %d must be in [1, steps %d]", c.Snapshot, c.Steps)
	case c.Steps-c.Snapshot < perEpoch:
		return fmt.Errorf("steps %d: the %d snapshot steps must come after the first epoch (%d steps) so that the cache source has every example's norms; use at least %d steps",
			c.Steps, c.Snapshot, perEpoch, perEpoch+c.Snapshot)
	case c.Repeats < 2 || c.TopKRepeats < 2:
		return fmt.Errorf("repeats %d and topk repeats %d must be at least 2", c.Repeats, c.TopKRepeats)
	case len(c.Keeps) == 0:
		return fmt.Errorf("no keep ratios")
	}
	for _, k := range c.Keeps {
		if !(k > 0 && k < 1) {
			return fmt.Errorf("keep %g must be in (0, 1)", k)
		}
	}
	return nil
}

// Result is everything the study measured.
type Result struct {
	Config Config `json:"config"`
	// ExampleRows are the subset's data rows in the file (0-based, header
	// excluded).
	ExampleRows []int     `json:"example_rows"`
	Loss        []float64 `json:"loss"` // training loss per step
	// SnapshotSteps are the (1-based) steps whose batches were studied.
	SnapshotSteps []int `json:"snapshot_steps"`
	// CacheValues is the size of the cache source for this subset:
	// examples × positions × layers norms (4 bytes each in fp32).
	CacheValues int64 `json:"cache_values"`
	// PadFraction is the share of padding rows in the snapshot batches.
	PadFraction  float64  `json:"pad_fraction"`
	Layers       []string `json:"layers"`
	Cases        []Case   `json:"cases"`
	Summary      []Row    `json:"summary"`
	TrainSeconds float64  `json:"train_seconds"`
	StudySeconds float64  `json:"study_seconds"`
}

// Row is one line of the summary: the mean over snapshot steps and the
// layers of a group (or "all") of each estimator's RMS relative error.
type Row struct {
	Group  string             `json:"group"`
	Keep   float64            `json:"keep"`
	Source string             `json:"source"`
	Error  map[string]float64 `json:"error"` // estimator → mean RMS relative error
	// Expected is the mean of the closed-form expected errors.
	Expected map[string]float64 `json:"expected"`
	// WTAOverCRS is the mean over cases of wta's error divided by crs's.
	WTAOverCRS float64 `json:"wta_over_crs"`
	// Condition counts the cases where P_c > c/k held, of Cases.
	Condition int `json:"condition"`
	Cases     int `json:"cases"`
}

// Run trains the model, captures the snapshot batches and measures every
// estimator on every layer.
func Run(c Config) (*Result, error) {
	if err := c.validate(); err != nil {
		return nil, err
	}
	all, err := readSST2(c.Data, c.Model.Vocab, c.Seq)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	tr, err := train(c, all)
	if err != nil {
		return nil, err
	}
	r := &Result{Config: c, Loss: tr.loss, CacheValues: tr.cacheNorms, TrainSeconds: time.Since(start).Seconds()}
	for _, ex := range tr.examples {
		r.ExampleRows = append(r.ExampleRows, ex.Row)
	}
	for _, l := range tr.model.layers {
		r.Layers = append(r.Layers, l.Name)
	}
	for _, cp := range tr.captures {
		r.SnapshotSteps = append(r.SnapshotSteps, cp.Step)
		r.PadFraction += cp.PadFraction / float64(len(tr.captures))
	}

	start = time.Now()
	if c.Progress != nil {
		fmt.Fprintf(c.Progress, "measuring %d layers × %d steps × %d keeps × %d sources (%d draws each for wta and crs)...\n",
			len(tr.model.layers), len(tr.captures), len(c.Keeps), len(Sources), c.Repeats)
	}
	if r.Cases, err = measure(c, tr); err != nil {
		return nil, err
	}
	r.StudySeconds = time.Since(start).Seconds()
	r.Summary = summarize(r.Cases, c.Keeps)
	return r, nil
}

// measure runs studyLayer for every (snapshot step, layer) on all cores.
func measure(c Config, tr *training) ([]Case, error) {
	type job struct{ cp, l int }
	var jobs []job
	for cp := range tr.captures {
		for l := range tr.model.layers {
			jobs = append(jobs, job{cp, l})
		}
	}
	results := make([][]Case, len(jobs))
	errs := make([]error, len(jobs))
	next := make(chan int)
	var wg sync.WaitGroup
	for range goruntime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				j := jobs[i]
				cp := tr.captures[j.cp]
				results[i], errs[i] = studyLayer(tr.model.layers[j.l], cp.Layers[j.l], cp.Step, c)
			}
		}()
	}
	for i := range jobs {
		next <- i
	}
	close(next)
	wg.Wait()
	var cases []Case
	for i := range jobs {
		if errs[i] != nil {
			return nil, errs[i]
		}
		cases = append(cases, results[i]...)
	}
	return cases, nil
}

// summarize averages the cases per (group, keep, source), groups in
// Groups order followed by "all".
func summarize(cases []Case, keeps []float64) []Row {
	var rows []Row
	for _, group := range append(append([]string{}, Groups...), "all") {
		for _, keep := range keeps {
			for _, src := range Sources {
				row := Row{Group: group, Keep: keep, Source: src, Error: map[string]float64{}, Expected: map[string]float64{}}
				for _, cs := range cases {
					if cs.Keep != keep || cs.Source != src || (group != "all" && cs.Group != group) {
						continue
					}
					row.Cases++
					for _, est := range Estimators {
						row.Error[est] += cs.Errors[est].RMS
						row.Expected[est] += cs.Errors[est].Expected
					}
					row.WTAOverCRS += ratio(cs.Errors["wta"].RMS, cs.Errors["crs"].RMS)
					if cs.Condition {
						row.Condition++
					}
				}
				if row.Cases == 0 {
					continue
				}
				for _, est := range Estimators {
					row.Error[est] /= float64(row.Cases)
					row.Expected[est] /= float64(row.Cases)
				}
				row.WTAOverCRS /= float64(row.Cases)
				rows = append(rows, row)
			}
		}
	}
	return rows
}

// ratio is a/b, 1 when both are 0.
func ratio(a, b float64) float64 {
	if b == 0 {
		if a == 0 {
			return 1
		}
		return math.Inf(1)
	}
	return a / b
}

// Violations lists the cases where the paper's condition held and wta's
// RMS error exceeded crs's by more than tol (relative), worst first.
func (r *Result) Violations(tol float64) []Case {
	var out []Case
	for _, cs := range r.Cases {
		if cs.Condition && cs.Errors["wta"].RMS > (1+tol)*cs.Errors["crs"].RMS {
			out = append(out, cs)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		return ratio(out[i].Errors["wta"].RMS, out[i].Errors["crs"].RMS) > ratio(out[j].Errors["wta"].RMS, out[j].Errors["crs"].RMS)
	})
	return out
}
