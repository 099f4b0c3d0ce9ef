package train

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"crsc/bench"
)

// logger appends to metrics.jsonl and shows progress: a bar redrawn in
// place on a terminal, a plain line every LogEvery steps otherwise.
type logger struct {
	cfg      *Config
	f        *os.File
	total    int
	first    int // step this invocation started at
	start    time.Time
	lastLoss float32
	sinceLog int
	lossAcc  float64
	timeAcc  time.Duration // step time since the last log line
	drewBar  bool
}

func openLogger(c *Config, total, first int) (*logger, error) {
	flags := os.O_CREATE | os.O_WRONLY | os.O_APPEND
	if !c.Resume {
		flags |= os.O_TRUNC
	}
	f, err := os.OpenFile(filepath.Join(c.Out, MetricsFile), flags, 0o644)
	if err != nil {
		return nil, err
	}
	return &logger{cfg: c, f: f, total: total, first: first, start: time.Now()}, nil
}

func (l *logger) write(rec map[string]any) {
	b, _ := json.Marshal(rec)
	l.f.Write(append(b, '\n'))
}

func (l *logger) step(step, epoch int, loss, lr float32, gnorm, tps float64, took time.Duration) {
	l.lossAcc += float64(loss)
	l.timeAcc += took
	l.sinceLog++
	if step%l.cfg.LogEvery != 0 && step != l.total {
		if l.cfg.Terminal {
			l.bar(step, loss, tps)
		}
		return
	}
	mean := l.lossAcc / float64(l.sinceLog)
	stepMS := l.timeAcc.Seconds() * 1000 / float64(l.sinceLog)
	l.lossAcc, l.timeAcc, l.sinceLog = 0, 0, 0
	l.write(map[string]any{"step": step, "epoch": epoch, "loss": mean, "lr": lr, "grad_norm": gnorm, "tokens_per_s": tps, "step_ms": stepMS})
	if l.cfg.Progress == nil {
		return
	}
	if l.cfg.Terminal {
		l.bar(step, loss, tps)
		return
	}
	fmt.Fprintf(l.cfg.Progress, "step %d/%d  epoch %d  loss %.4f  lr %.2e  %.0f tok/s  ETA %s  rss %s\n",
		step, l.total, epoch+1, mean, lr, tps, l.eta(step), mib(bench.PeakRSS()))
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
	l.write(map[string]any{"step": step, "epoch": epoch, "eval": m})
	if l.cfg.Progress == nil {
		return
	}
	if l.drewBar {
		fmt.Fprintln(l.cfg.Progress)
		l.drewBar = false
	}
	var parts []string
	for _, k := range sortedKeys(m) {
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

func mib(b int64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }
