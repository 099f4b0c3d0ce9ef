package train

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"crsc/internal/atomicfile"
	"crsc/training/data"
)

// Files crsc keeps in a run directory besides the run's outputs.
const (
	// LockFile names the process that holds the run directory (the lock
	// itself is an flock on the directory).
	LockFile = ".lock"
	// DemoMark marks a directory the built-in demo made: a re-run of the
	// demo may replace the demo's files in it, and only in such a one.
	DemoMark = ".crsc-demo"
)

// runFiles are the files a run writes into its directory.
var runFiles = []string{ConfigFile, MetricsFile, MetricsCSVFile, PlotFile, MemoryPlotFile, MemoryFile, CheckpointFile, BestFile, ModelFile}

// runLock holds a run directory for one writer.
type runLock struct{ dir *os.File }

// lockRunDir takes the run directory for this process, or fails at once
// naming the process that holds it. The lock is an flock on the directory,
// so the kernel drops it when the holder exits, however it exits; LockFile
// (written atomically) only says who holds it.
func lockRunDir(dir string) (*runLock, error) {
	d, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(d.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		d.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			holder := "another process"
			if b, err := os.ReadFile(filepath.Join(dir, LockFile)); err == nil && len(b) > 0 {
				holder = strings.TrimSpace(string(b))
			}
			return nil, fmt.Errorf("%s is in use by %s: wait for it to end or choose another --out", dir, holder)
		}
		return nil, fmt.Errorf("locking %s: %v", dir, err)
	}
	host, _ := os.Hostname()
	who := fmt.Sprintf("crsc train (pid %d on host %s, started %s)\n", os.Getpid(), host, time.Now().Format(time.RFC3339))
	if err := atomicfile.WriteBytes(filepath.Join(dir, LockFile), []byte(who)); err != nil {
		d.Close()
		return nil, err
	}
	return &runLock{dir: d}, nil
}

func (l *runLock) release() {
	if l != nil {
		l.dir.Close()
	}
}

// DemoDirUsable refuses a demo run into a directory that holds anything
// and is not marked as the demo's (before anything is written to it).
func DemoDirUsable(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	// The lock file alone is crsc's (this run's, once it holds the lock).
	if len(entries) == 0 || len(entries) == 1 && entries[0].Name() == LockFile {
		return nil
	}
	if !fileExists(filepath.Join(dir, DemoMark)) {
		return fmt.Errorf("%s is not a demo run directory (it has files and no %s): the demo writes only its own; move it or pass --out to another directory", dir, DemoMark)
	}
	return nil
}

// resetDemoDir prepares a demo run directory (locked, checked by
// DemoDirUsable): it removes the files a previous demo run made, nothing
// else, and marks the directory.
func resetDemoDir(dir string) error {
	if err := DemoDirUsable(dir); err != nil {
		return err
	}
	for _, name := range runFiles {
		if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	if err := removeEventFiles(dir); err != nil {
		return err
	}
	if _, err := atomicfile.RemoveStale(dir); err != nil {
		return err
	}
	return atomicfile.WriteBytes(filepath.Join(dir, DemoMark), []byte("made by `crsc train` (the demo): a re-run replaces the demo's files here\n"))
}

// recordEntry is one thing --resume compares: a file's content or an
// option that changes the arithmetic.
type recordEntry struct {
	Name  string // as the user knows it: "--lr", "the model file"
	Value string
	// Schedule marks --epochs and --max-steps: they matter only through
	// the number of steps (the learning-rate schedule and the end).
	Schedule bool
}

// recordKey prefixes the entries in the checkpoint's metadata.
const recordKey = "run:"

// totalStepsName is the record of the run's length in steps.
const totalStepsName = "total steps"

// runRecord lists what the run's arithmetic depends on, in a fixed order.
// Files are identified by size and SHA-256 of their whole content (a
// 440 MB model hashes in about a second); in-memory data by the hash of
// its examples.
func (t *trainer) runRecord() ([]recordEntry, error) {
	c := t.cfg
	r, err := t.recordFiles()
	if err != nil {
		return nil, err
	}
	add := func(name string, v any) { r = append(r, recordEntry{Name: name, Value: fmt.Sprint(v)}) }
	s := c.Spec
	for _, o := range []struct {
		name string
		v    any
	}{
		{"--task", c.Task}, {"--max-len", c.MaxLen}, {"--tgt-len", c.TgtLen}, {"--static-padding", c.StaticPadding},
		{"--batch", c.Batch}, {"--grad-accum", c.Accum}, {"--lr", c.LR}, {"--warmup", c.Warmup}, {"--schedule", c.Schedule},
		{"--clip", c.ClipNorm}, {"--weight-decay", c.WeightDecay}, {"--seed", c.Seed}, {"gnorm EMA decay", c.EMADecay},
		{"--estimator", s.Sampling.Estimator}, {"--keep", s.Sampling.Keep}, {"--min-rows", s.Sampling.MinRows},
		{"--gnorm", s.Sampling.GNorm}, {"--layers", s.Sampling.Layers}, {"--attention", s.Sampling.Attention},
		{"--lora", s.LoRA.Rank}, {"--lora-alpha", s.LoRA.Alpha}, {"--lora-targets", s.LoRA.Targets}, {"--bitfit", s.LoRA.BitFit},
		{"--train", s.Train.Train}, {"--freeze", s.Train.Freeze},
	} {
		add(o.name, o.v)
	}
	// Recorded only when set, so that checkpoints from before these
	// options resume as they did.
	for _, o := range []struct {
		name string
		v    any
		set  bool
	}{
		{"--head", c.Export.Head, c.Export.Head != "" && c.Export.Head != "auto"},
		{"--output", c.Export.Output, c.Export.Output != ""},
		{"--input", c.Export.Inputs, len(c.Export.Inputs) > 0},
		{"--task custom", c.Custom, c.Custom != nil},
		{"--stash", s.Stash, s.Stash.DType != ""},
	} {
		if o.set {
			if b, err := json.Marshal(o.v); err == nil {
				add(o.name, string(b))
			}
		}
	}
	// The flags first: a different length is reported as the flag that
	// changed it, when one did.
	r = append(r, recordEntry{Name: "--epochs", Value: fmt.Sprint(c.Epochs), Schedule: true},
		recordEntry{Name: "--max-steps", Value: fmt.Sprint(c.MaxSteps), Schedule: true})
	add(totalStepsName, t.totalSteps)
	return r, nil
}

// recordFiles identifies the model, data and tokenizer files (or --arch
// and the in-memory examples).
func (t *trainer) recordFiles() ([]recordEntry, error) {
	c := t.cfg
	var r []recordEntry
	add := func(name string, v any) { r = append(r, recordEntry{Name: name, Value: fmt.Sprint(v)}) }
	file := func(name, path string) error {
		if path == "" {
			return nil
		}
		h, err := hashFile(path)
		if err != nil {
			return fmt.Errorf("%s: %v", name, err)
		}
		add(name, h)
		return nil
	}
	if c.Model == "" {
		add("--arch", c.Arch)
	}
	for i, f := range t.m.files {
		name := "the model file"
		if i > 0 {
			name = "the decoder file"
		}
		if err := file(name, f); err != nil {
			return nil, err
		}
	}
	for _, d := range []struct {
		name string
		ex   []data.Example
		path string
	}{{"the training data", c.TrainExamples, c.TrainFile}, {"the evaluation data", c.EvalExamples, c.EvalFile}} {
		if d.ex != nil {
			add(d.name, hashExamples(d.ex))
		} else if err := file(d.name, d.path); err != nil {
			return nil, err
		}
	}
	for _, s := range c.MoreEvalFiles {
		if err := file("the evaluation data "+s.Name, s.Path); err != nil {
			return nil, err
		}
	}
	if c.Tokenizer == nil && c.Unigram == nil {
		if err := file("--vocab", c.Vocab); err != nil {
			return nil, err
		}
		if err := file("--tokenizer", c.TokenizerFile); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// recordDefaults are the values of options newer than some checkpoints:
// a checkpoint that does not record one was written with this value.
var recordDefaults = map[string]string{"--schedule": ScheduleLinear}

// compareRecord checks the checkpoint's record (its metadata) against
// this run's and names the first difference with both values.
func compareRecord(meta map[string]string, now []recordEntry) error {
	saved := map[string]string{}
	for k, v := range meta {
		if name, ok := strings.CutPrefix(k, recordKey); ok {
			saved[name] = v
		}
	}
	if len(saved) == 0 {
		return fmt.Errorf("the checkpoint does not record the run's model, data and options (an older crsc wrote it): pass --resume-with-changes to continue it as configured now")
	}
	sameLength := saved[totalStepsName] == entryValue(now, totalStepsName)
	for _, e := range now {
		if e.Schedule && sameLength {
			continue // a different --epochs that ends at the same step changes nothing
		}
		was, ok := saved[e.Name]
		if !ok {
			was = "(not recorded)"
			if def, ok := recordDefaults[e.Name]; ok {
				was = def // a checkpoint from before the option existed
			}
		}
		if was != e.Value {
			return fmt.Errorf("%s was %s when the run started, now %s: pass --resume-with-changes to continue with the new value", e.Name, was, e.Value)
		}
	}
	return nil
}

func entryValue(r []recordEntry, name string) string {
	for _, e := range r {
		if e.Name == name {
			return e.Value
		}
	}
	return ""
}

func hashFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%d bytes, sha256 %s", n, hex.EncodeToString(h.Sum(nil))), nil
}

func hashExamples(ex any) string {
	b, _ := json.Marshal(ex)
	h := sha256.Sum256(b)
	return fmt.Sprintf("in memory, sha256 %s", hex.EncodeToString(h[:]))
}
