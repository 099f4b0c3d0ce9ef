package train

import (
	"fmt"
	"io"
	"math"

	"crsc/runtime/device"

	"crsc/compiler/passes"
	"crsc/training/data"
	"crsc/training/tokenize"
)

// Config is everything a run needs. Its JSON form is the run directory's
// config.json.
type Config struct {
	Model string `json:"model,omitempty"` // an .onnx file; empty: Arch
	Arch  string `json:"arch,omitempty"`  // a built-in architecture (see Archs) from random init

	Task      string `json:"task"`
	TrainFile string `json:"train_file,omitempty"`
	EvalFile  string `json:"eval_file,omitempty"`
	// MoreEvalFiles are further evaluation splits, reported beside
	// EvalFile's under their names (MNLI's dev_mismatched beside
	// dev_matched); the best checkpoint follows EvalFile's metric.
	MoreEvalFiles []data.Split `json:"more_eval_files,omitempty"`
	Vocab         string       `json:"vocab,omitempty"` // a WordPiece vocab.txt
	// TokenizerFile is a Hugging Face tokenizer.json (Unigram: T5's).
	TokenizerFile string `json:"tokenizer,omitempty"`

	MaxLen int `json:"max_len"`
	// StaticPadding pads every training batch to MaxLen. Otherwise a batch
	// is padded to its longest example, rounded up to a multiple of
	// PadMultiple, and runs on a training graph compiled for that length
	// (one per length, compiled on first use).
	StaticPadding bool `json:"static_padding,omitempty"`
	// TgtLen is a text-to-text model's target length (label pieces +
	// </s>); 0: the longest label word's.
	TgtLen      int     `json:"tgt_len,omitempty"`
	Batch       int     `json:"batch"`
	Accum       int     `json:"grad_accum"` // micro-batches per optimizer step
	Epochs      int     `json:"epochs"`
	MaxSteps    int     `json:"max_steps,omitempty"` // stop after this many optimizer steps (0: all epochs)
	LR          float64 `json:"lr"`
	Warmup      float64 `json:"warmup"` // fraction of the steps (< 1) or a step count
	ClipNorm    float64 `json:"clip_norm"`
	WeightDecay float64 `json:"weight_decay"`
	// Schedule is the learning rate after the warmup: linear (decay to
	// 0 at the last step), cosine (half a cosine down to 0) or constant.
	Schedule string `json:"schedule,omitempty"`
	// EvalEvery evaluates every that many optimizer steps (and at the
	// run's end) instead of at each epoch's end; 0: each epoch's end.
	EvalEvery int `json:"eval_every,omitempty"`
	// Patience stops the run after that many evaluations in a row that
	// did not improve the task's metric by more than MinDelta over the
	// best so far (0: never); the export is of the best checkpoint.
	Patience int     `json:"patience,omitempty"`
	MinDelta float64 `json:"min_delta,omitempty"`
	Seed     int64   `json:"seed"`
	Threads  int     `json:"threads,omitempty"`
	EMADecay float64 `json:"gnorm_ema_decay"`

	Out    string `json:"out"`
	Resume bool   `json:"resume"`
	// ResumeWithChanges lets --resume continue a run whose model, data
	// or arithmetic options differ from the checkpoint's record of them.
	ResumeWithChanges bool `json:"resume_with_changes,omitempty"`
	LogEvery          int  `json:"log_every"`
	SaveEvery         int  `json:"save_every"` // checkpoint every N steps (0: at each epoch end)
	// StopAfter ends this invocation after that many optimizer steps,
	// with a checkpoint, as if the run had been killed (resume tests).
	StopAfter int  `json:"-"`
	NoExport  bool `json:"no_export,omitempty"`

	Spec passes.TrainingSpec `json:"spec"`
	// MemoryBudget, when set, makes the run choose its own sampling,
	// recomputation and stashes (Spec's, replaced): the first strategy of
	// planning.Strategies whose planned total, with the process's
	// overhead, fits (--memory-budget).
	MemoryBudget int64 `json:"memory_budget,omitempty"`

	// How an export is read (Hugging Face layouts; see hfimport.go).
	Export ExportOptions `json:"export,omitempty"`
	// Custom describes the task when Task is "custom" (--labels,
	// --num-labels, --text-columns, --label-column, --regression).
	Custom *data.Custom `json:"custom,omitempty"`

	// Set by callers that have the data or tokenizer in memory (the
	// built-in demo); they take precedence over the file fields.
	TrainExamples []data.Example      `json:"-"`
	EvalExamples  []data.Example      `json:"-"`
	Tokenizer     *tokenize.WordPiece `json:"-"`
	Unigram       *tokenize.Unigram   `json:"-"` // T5's tokenizer, instead of TokenizerFile
	Progress      io.Writer           `json:"-"` // progress bar or log lines (nil: none)
	// Device runs the training and evaluation graphs (nil: the CPU). The
	// optimizer step stays on the CPU, so the weights travel each step.
	Device   *device.Device `json:"-"`
	Terminal bool           `json:"-"` // Progress is a terminal: draw a bar
	// Explicit says every numeric field was set by the caller (the CLI,
	// which validates its flags): Defaults leaves them alone, so that a 0
	// means 0 (--clip 0: no clipping, --log-every 0: no periodic lines).
	Explicit bool `json:"-"`
	// Demo marks the built-in demo's run: its directory carries DemoMark
	// and a re-run replaces the demo's own files, nothing else.
	Demo bool `json:"demo,omitempty"`

	// notes are what resolving the configuration found by itself (a
	// tokenizer beside the model), said at the run's start.
	notes []string
}

// The learning-rate schedules after the warmup (Config.Schedule).
const (
	ScheduleLinear   = "linear"
	ScheduleCosine   = "cosine"
	ScheduleConstant = "constant"
)

// Defaults fills the zero fields with the usual fine-tuning values.
func (c *Config) Defaults() {
	if !c.Explicit {
		c.fillZeros()
	}
	if c.EMADecay == 0 {
		c.EMADecay = 0.9
	}
	if c.Schedule == "" {
		c.Schedule = ScheduleLinear
	}
	if c.Spec.Sampling.GNorm == "" {
		c.Spec.Sampling.GNorm = "none"
	}
	c.Spec.LoRA.Seed = c.Seed
}

// fillZeros is Defaults for callers that leave fields at zero (tests, the
// library): a zero there means "the usual value".
func (c *Config) fillZeros() {
	set := func(p *int, v int) {
		if *p == 0 {
			*p = v
		}
	}
	set(&c.MaxLen, 128)
	set(&c.Batch, 32)
	set(&c.Accum, 1)
	set(&c.Epochs, 3)
	set(&c.LogEvery, 10)
	if c.LR == 0 {
		c.LR = 2e-5
	}
	if c.ClipNorm == 0 {
		c.ClipNorm = 1
	}
}

// validate refuses what the CLI's flag checks refuse too, for library
// callers; each error names the setting as its flag.
func (c *Config) validate() error {
	finite := func(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
	switch {
	case c.Model == "" && c.Arch == "":
		return fmt.Errorf("no model: give MODEL.onnx or --arch NAME")
	case c.Model != "" && c.Arch != "":
		return fmt.Errorf("both a model (%s) and --arch %s: give one", c.Model, c.Arch)
	case !finite(c.LR) || !finite(c.Warmup) || !finite(c.ClipNorm) || !finite(c.WeightDecay) || !finite(c.EMADecay):
		return fmt.Errorf("--lr %v, --warmup %v, --clip %v, --weight-decay %v: want finite numbers", c.LR, c.Warmup, c.ClipNorm, c.WeightDecay)
	case c.ClipNorm < 0:
		return fmt.Errorf("--clip %v: want a finite number ≥ 0 (0: off)", c.ClipNorm)
	case c.WeightDecay < 0:
		return fmt.Errorf("--weight-decay %v: want a finite number ≥ 0", c.WeightDecay)
	case c.MaxSteps < 0 || c.SaveEvery < 0 || c.LogEvery < 0 || c.Threads < 0:
		return fmt.Errorf("--max-steps %d, --save-every %d, --log-every %d, --threads %d: want integers ≥ 0", c.MaxSteps, c.SaveEvery, c.LogEvery, c.Threads)
	case c.MaxLen < 4:
		return fmt.Errorf("--max-len %d: want at least 4", c.MaxLen)
	case c.Batch < 1 || c.Accum < 1 || c.Epochs < 1:
		return fmt.Errorf("--batch, --grad-accum and --epochs must be positive")
	case c.LR <= 0:
		return fmt.Errorf("--lr %g: want a positive learning rate", c.LR)
	case c.TgtLen < 0:
		return fmt.Errorf("--tgt-len %d: want ≥ 0", c.TgtLen)
	case c.Warmup < 0:
		return fmt.Errorf("--warmup %g: want ≥ 0", c.Warmup)
	case c.Schedule != ScheduleLinear && c.Schedule != ScheduleCosine && c.Schedule != ScheduleConstant:
		return fmt.Errorf("--schedule %q: want linear, cosine or constant", c.Schedule)
	case c.EvalEvery < 0 || c.Patience < 0:
		return fmt.Errorf("--eval-every %d, --patience %d: want integers ≥ 0", c.EvalEvery, c.Patience)
	case !finite(c.MinDelta) || c.MinDelta < 0:
		return fmt.Errorf("--min-delta %v: want a finite number ≥ 0", c.MinDelta)
	case c.Out == "":
		return fmt.Errorf("no run directory (--out)")
	}
	return nil
}
