package train

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"time"

	"crsc/internal/atomicfile"
	"crsc/internal/tbevents"
)

// MetricsCSVFile is metrics.jsonl as a table, one row per line.
const MetricsCSVFile = "metrics.csv"

// eventsPrefix starts the TensorBoard event file's name
// (events.out.tfevents.<unix>.<host>).
const eventsPrefix = "events.out.tfevents."

// metricsRecord is one line of metrics.jsonl: a logged step or an
// evaluation.
type metricsRecord struct {
	Step         int                `json:"step"`
	Epoch        int                `json:"epoch"`
	Loss         *float64           `json:"loss"`
	LR           *float64           `json:"lr"`
	GradNorm     *float64           `json:"grad_norm"`
	TokensPerSec *float64           `json:"tokens_per_s"`
	StepMS       *float64           `json:"step_ms"`
	PeakRSS      *float64           `json:"peak_rss_bytes"`
	Time         float64            `json:"time"`
	Eval         map[string]float64 `json:"eval"`
}

// readMetrics parses metrics.jsonl; a line that does not parse (a user's
// edit) is skipped, as the plot skips it.
func readMetrics(dir string) ([]metricsRecord, error) {
	f, err := os.Open(filepath.Join(dir, MetricsFile))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var recs []metricsRecord
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r metricsRecord
		if json.Unmarshal(sc.Bytes(), &r) == nil {
			recs = append(recs, r)
		}
	}
	return recs, sc.Err()
}

// writeDerivedLogs rewrites metrics.csv and the TensorBoard event file
// from metrics.jsonl, each atomically. They are derived rather than
// appended to so that they can never disagree with the log: --resume cuts
// metrics.jsonl back to the checkpoint's length, and the next checkpoint
// (or the run's end) rewrites both from what is left.
func writeDerivedLogs(dir string) error {
	recs, err := readMetrics(dir)
	if err != nil {
		return err
	}
	if err := atomicfile.Write(filepath.Join(dir, MetricsCSVFile), func(w io.Writer) error { return writeCSV(w, recs) }); err != nil {
		return err
	}
	name, err := eventsFileName(dir)
	if err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(dir, name), func(w io.Writer) error { return writeEvents(w, recs) })
}

// eventsFileName is the run's event file: the one already there (a
// resumed run keeps its name), else a new name for this moment.
func eventsFileName(dir string) (string, error) {
	if path, err := EventFile(dir); err == nil {
		return filepath.Base(path), nil
	}
	host, _ := os.Hostname()
	if host == "" {
		host = "localhost"
	}
	return tbevents.FileName(time.Now(), host), nil
}

// removeEventFiles removes the event files of an earlier run in dir (a
// fresh run starts its own).
func removeEventFiles(dir string) error {
	matches, err := filepath.Glob(filepath.Join(dir, eventsPrefix+"*"))
	if err != nil {
		return err
	}
	for _, m := range matches {
		if err := os.Remove(m); err != nil && !os.IsNotExist(err) {
			return err
		}
	}
	return nil
}

// csvColumns are metrics.csv's columns before the evaluation metrics
// (eval_<metric>, in name order).
var csvColumns = []string{"step", "epoch", "loss", "lr", "grad_norm", "tokens_per_s", "step_ms", "peak_rss_bytes", "time"}

func writeCSV(w io.Writer, recs []metricsRecord) error {
	keys := map[string]bool{}
	for _, r := range recs {
		for k := range r.Eval {
			keys[k] = true
		}
	}
	evalKeys := slices.Sorted(maps.Keys(keys))
	cw := csv.NewWriter(w)
	header := append([]string(nil), csvColumns...)
	for _, k := range evalKeys {
		header = append(header, "eval_"+k)
	}
	cw.Write(header)
	num := func(p *float64) string {
		if p == nil {
			return ""
		}
		if v := *p; v == math.Trunc(v) && math.Abs(v) < 1e15 {
			return strconv.FormatFloat(v, 'f', -1, 64) // byte counts: 33751040, not 3.375104e+07
		}
		return strconv.FormatFloat(*p, 'g', -1, 64)
	}
	for _, r := range recs {
		row := []string{strconv.Itoa(r.Step), strconv.Itoa(r.Epoch), num(r.Loss), num(r.LR), num(r.GradNorm),
			num(r.TokensPerSec), num(r.StepMS), num(r.PeakRSS), strconv.FormatFloat(r.Time, 'f', 3, 64)}
		for _, k := range evalKeys {
			if v, ok := r.Eval[k]; ok {
				row = append(row, strconv.FormatFloat(v, 'g', -1, 64))
			} else {
				row = append(row, "")
			}
		}
		cw.Write(row)
	}
	cw.Flush()
	return cw.Error()
}

// Event-file tags: training scalars under train/, the evaluation's
// metrics under eval/.
const (
	TagLoss      = "train/loss"
	TagLR        = "train/lr"
	TagGradNorm  = "train/grad_norm"
	TagTokens    = "train/tokens_per_s"
	TagPeakRSS   = "memory/peak_rss_mib"
	evalTagStart = "eval/"
)

func writeEvents(w io.Writer, recs []metricsRecord) error {
	start := 0.0
	if len(recs) > 0 {
		start = recs[0].Time
	}
	var b bytes.Buffer
	ew := tbevents.NewWriter(&b, start)
	for _, r := range recs {
		s := map[string]float32{}
		put := func(tag string, p *float64, scale float64) {
			if p != nil {
				s[tag] = float32(*p * scale)
			}
		}
		put(TagLoss, r.Loss, 1)
		put(TagLR, r.LR, 1)
		put(TagGradNorm, r.GradNorm, 1)
		put(TagTokens, r.TokensPerSec, 1)
		put(TagPeakRSS, r.PeakRSS, 1.0/(1<<20))
		for _, k := range slices.Sorted(maps.Keys(r.Eval)) {
			s[evalTagStart+k] = float32(r.Eval[k])
		}
		if len(s) == 0 {
			continue
		}
		if err := ew.Scalars(r.Time, int64(r.Step), s); err != nil {
			return err
		}
	}
	_, err := w.Write(b.Bytes())
	return err
}

// EventFile returns the path of the run directory's TensorBoard event
// file. (atomicfile's temporary files start with a dot: no match.)
func EventFile(dir string) (string, error) {
	matches, err := filepath.Glob(filepath.Join(dir, eventsPrefix+"*"))
	if err != nil {
		return "", err
	}
	if len(matches) == 0 {
		return "", fmt.Errorf("%s: no %s* file", dir, eventsPrefix)
	}
	sort.Strings(matches)
	return matches[0], nil
}
