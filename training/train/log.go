package train

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"crsc/tools/bench"
)

// logger appends to metrics.jsonl and shows progress: a bar redrawn in
// place on a terminal, a plain line every LogEvery steps otherwise.
//
// metrics.jsonl is an append log that a resumed run continues as if it
// had never stopped: a checkpoint records the log's length and the loss
// window in progress (logState), and --resume cuts the log back to that
// length (the lines after it are of steps that are run again) and
// carries on with the same window. Windows end at absolute step numbers
// (multiples of LogEvery, and the last step).
type logger struct {
	cfg      *Config
	f        *os.File
	size     int64 // bytes in the file: what a checkpoint records
	err      error // the first failed write
	total    int
	first    int // step this invocation started at
	start    time.Time
	lastLoss float32
	sinceLog int
	lossAcc  float64
	timeAcc  time.Duration // step time since the last log line
	drewBar  bool
}

// logState is the part of the logger a checkpoint keeps.
type logState struct {
	Size     int64   // metrics.jsonl's length
	SinceLog int     // steps in the loss window in progress
	LossAcc  float64 // their summed loss
}

// openLogger opens metrics.jsonl: a fresh run starts it empty; a resumed
// one cuts it back to the length the checkpoint recorded (st).
func openLogger(c *Config, total, first int, st logState) (*logger, error) {
	path := filepath.Join(c.Out, MetricsFile)
	flags := os.O_CREATE | os.O_WRONLY
	if !c.Resume {
		flags |= os.O_TRUNC
		st = logState{}
	}
	f, err := os.OpenFile(path, flags, 0o644)
	if err != nil {
		return nil, err
	}
	if c.Resume {
		fi, err := f.Stat()
		if err == nil && st.Size < 0 {
			st.Size = fi.Size() // a checkpoint that did not record it: append
		}
		if err == nil && fi.Size() < st.Size {
			if c.ResumeWithChanges {
				st.Size = fi.Size() // the user's shorter log, continued
			} else {
				err = fmt.Errorf("--resume: %s has %d bytes, fewer than the %d it had at the checkpoint: it was changed since (--resume-with-changes continues it as it is)", path, fi.Size(), st.Size)
			}
		}
		if err == nil {
			err = f.Truncate(st.Size)
		}
		if err == nil {
			_, err = f.Seek(st.Size, 0)
		}
		if err != nil {
			f.Close()
			return nil, err
		}
	}
	return &logger{cfg: c, f: f, size: st.Size, total: total, first: first, start: time.Now(), sinceLog: st.SinceLog, lossAcc: st.LossAcc}, nil
}

// state is what a checkpoint taken now records; it fails if a line could
// not be written (a checkpoint must not claim a log it does not have).
func (l *logger) state() (logState, error) {
	if l.err != nil {
		return logState{}, fmt.Errorf("%s: %v", MetricsFile, l.err)
	}
	return logState{Size: l.size, SinceLog: l.sinceLog, LossAcc: l.lossAcc}, nil
}

func (l *logger) write(rec map[string]any) {
	if l.err != nil {
		return
	}
	b, err := json.Marshal(rec)
	if err == nil {
		var n int
		n, err = l.f.Write(append(b, '\n'))
		l.size += int64(n)
	}
	l.err = err
}

// step logs optimizer step (1-based) of epoch (1-based, as the console
// and every run file number them).
func (l *logger) step(step, epoch int, loss, lr float32, gnorm, tps float64, took time.Duration) {
	l.lossAcc += float64(loss)
	l.timeAcc += took
	l.sinceLog++
	// --log-every 0: no periodic lines, only the last step's.
	if (l.cfg.LogEvery == 0 || step%l.cfg.LogEvery != 0) && step != l.total {
		if l.cfg.Terminal {
			l.bar(step, loss, tps)
		}
		return
	}
	mean := l.lossAcc / float64(l.sinceLog)
	// The time of the steps this invocation ran (a resumed window's
	// earlier steps are not timed here).
	stepMS := l.timeAcc.Seconds() * 1000 / float64(max(l.sinceLog-l.untimed(step), 1))
	l.lossAcc, l.timeAcc, l.sinceLog = 0, 0, 0
	rss := bench.PeakRSS()
	l.write(map[string]any{"step": step, "epoch": epoch, "loss": mean, "lr": lr, "grad_norm": gnorm, "tokens_per_s": tps, "step_ms": stepMS,
		"peak_rss_bytes": rss, "time": unixTime()})
	if l.cfg.Progress == nil {
		return
	}
	if l.cfg.Terminal {
		l.bar(step, loss, tps)
		return
	}
	fmt.Fprintf(l.cfg.Progress, "step %d/%d  epoch %d  loss %.4f  lr %.2e  %.0f tok/s  ETA %s  rss %s\n",
		step, l.total, epoch, mean, lr, tps, l.eta(step), mib(rss))
}

func (l *logger) eta(step int) string {
	done := step - l.first
	if done <= 0 {
		return "?"
	}
	left := time.Duration(float64(time.Since(l.start)) / float64(done) * float64(l.total-step))
	return left.Round(time.Second).String()
}

func (l *logger) bar(step int, loss float32, tps float64) {
	if l.cfg.Progress == nil {
		return
	}
	const width = 30
	filled := width * step / max(l.total, 1)
	fmt.Fprintf(l.cfg.Progress, "\r[%s%s] %d/%d loss %.4f %.0f tok/s ETA %s rss %s  ",
		strings.Repeat("=", filled), strings.Repeat(" ", width-filled), step, l.total, loss, tps, l.eta(step), mib(bench.PeakRSS()))
	l.drewBar = true
}

func (l *logger) eval(step, epoch int, m map[string]float64) {
	l.write(map[string]any{"step": step, "epoch": epoch, "eval": m, "time": unixTime()})
	if l.cfg.Progress == nil {
		return
	}
	if l.drewBar {
		fmt.Fprintln(l.cfg.Progress)
		l.drewBar = false
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s %.4f", k, m[k]))
	}
	fmt.Fprintf(l.cfg.Progress, "eval  step %d  epoch %d  %s\n", step, epoch, strings.Join(parts, "  "))
}

func (l *logger) done() {
	if l.drewBar && l.cfg.Progress != nil {
		fmt.Fprintln(l.cfg.Progress)
		l.drewBar = false
	}
}

func (l *logger) close() { l.f.Close() }

// unixTime is the wall time of a metrics line (the event file's wall_time),
// in seconds, to the millisecond.
func unixTime() float64 { return float64(time.Now().UnixMilli()) / 1000 }

func mib(b int64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }

// untimed is how many steps of the window ending at step ran before this
// invocation started (a resumed window): their time is not in timeAcc.
func (l *logger) untimed(step int) int { return max(0, l.first-(step-l.sinceLog)) }

// TimingFields are the metrics.jsonl fields that differ between any two
// runs of the same training (wall time, throughput, memory high-water).
var TimingFields = []string{"step_ms", "tokens_per_s", "peak_rss_bytes", "time"}

// ComparableMetrics reads a run directory's metrics.jsonl without the
// TimingFields, one JSON line per record: two runs that computed the same
// thing give equal slices (resume tests compare them).
func ComparableMetrics(dir string) ([]string, error) {
	b, err := os.ReadFile(filepath.Join(dir, MetricsFile))
	if err != nil {
		return nil, err
	}
	var lines []string
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			return nil, fmt.Errorf("%s: %q: %v", MetricsFile, line, err)
		}
		for _, f := range TimingFields {
			delete(rec, f)
		}
		out, _ := json.Marshal(rec)
		lines = append(lines, string(out))
	}
	return lines, nil
}
