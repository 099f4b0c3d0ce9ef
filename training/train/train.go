package train

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	goruntime "runtime"
	"slices"
	"strconv"
	"time"

	"crsc/compiler/ir"
	"crsc/compiler/passes"
	"crsc/internal/atomicfile"
	"crsc/runtime"
	"crsc/runtime/engine"
	"crsc/tools/bench"
	"crsc/training/checkpoint"
	"crsc/training/data"
	"crsc/training/optim"
)

// Files in a run directory.
const (
	ConfigFile     = "config.json"
	MetricsFile    = "metrics.jsonl"
	PlotFile       = "curves.png"
	MemoryPlotFile = "memory.png"
	MemoryFile     = "memory.txt"
	CheckpointFile = "checkpoint.safetensors"
	BestFile       = "best.safetensors"
	ModelFile      = "model.onnx"
	formatValue    = "crsc-train-1"
)

// Result summarizes a run.
type Result struct {
	Steps        int                // optimizer steps taken in total
	Stopped      bool               // ended early by StopAfter
	StoppedEarly bool               // ended by --patience (early stopping)
	Evaluated    bool               // an evaluation ran (else Best means nothing)
	Eval         map[string]float64 // the last evaluation
	Best         float64            // the best value of the task's metric
	Metric       string
	Wall         time.Duration // this invocation
	TokensPerSec float64
	PeakRSS      int64
	CacheBytes   int64 // the ‖G‖ cache (--gnorm cache)
	// Budget is the run's planned memory; Memory what it measured.
	Budget   Budget
	Memory   engine.Stats
	Params   map[string]*ir.Tensor
	Compiled *passes.Training
	// Notes are what loading the model did by itself (a head added, a
	// config.json read, two files linked), as the run's first lines say.
	Notes []string
	// Exported are the files the export wrote into the run directory.
	Exported []string
}

// trainer holds one run's state.
type trainer struct {
	cfg      *Config
	task     *data.Task
	m        *model
	train    *ir.Graph // compiled training graph
	eval     *ir.Graph // forward (with adapters), no training rewrites
	compiled *passes.Training
	spec     passes.TrainingSpec   // as compiled (loss chosen, LoRA already added)
	adapters []passes.LoRAAdapter  // LoRA's adapted layers (every build adds the same)
	byLen    map[int]*ir.Graph     // dynamic padding: training graphs by length (not --max-len)
	params   map[string]*ir.Tensor // trained parameters (shared with all graphs)
	infos    []optim.ParamInfo
	opt      *optim.AdamW
	sess     *engine.Session // runs every graph: one arena, one backend
	// gradNames are the training graphs' gradient outputs, in the
	// optimizer's parameter order (every length's graph has the same).
	gradNames []string
	budget    Budget
	// memoryReport is memory.txt as written at the start of the run;
	// kept what its plan keeps for backward, by op (memory.png).
	memoryReport string
	kept         []opBytes
	gn           *gnorms
	trainSet     *encoded
	evalSet      *encoded
	moreEval     []namedSet // MoreEvalFiles, encoded
	log          *logger

	step, epoch, batchInEpoch int // position: next batch to run
	best                      float64
	haveBest                  bool
	totalSteps                int
	// evaluated says the evaluation at the current position (an epoch's
	// end, or the run's) is done; a run killed between its last step's
	// checkpoint and that evaluation does it on --resume.
	evaluated bool
	lastEval  map[string]float64 // the last evaluation's metrics (kept in the checkpoint)
	// badEvals counts the evaluations in a row without progress
	// (--patience); stoppedEarly says the run ended on it.
	badEvals     int
	stoppedEarly bool
	// record is what the checkpoint keeps of the model, data and options
	// (rundir.go): --resume refuses a run that differs from it.
	record []recordEntry
	lock   *runLock
}

// failAt, set by tests, is called at named points of the run; an error
// it returns ends the run there, as a kill would (without cleanup).
var failAt func(point string) error

func checkFail(point string) error {
	if failAt == nil {
		return nil
	}
	return failAt(point)
}

// Run trains as c says and returns the summary.
func Run(c Config) (*Result, error) {
	c.Defaults()
	if err := c.validate(); err != nil {
		return nil, err
	}
	if err := c.checkResumable(); err != nil {
		return nil, err
	}
	t, err := setup(&c)
	if err != nil {
		return nil, err
	}
	return t.run()
}

// checkResumable refuses --resume without a checkpoint, before the model
// is loaded or the directory made.
func (c *Config) checkResumable() error {
	ckpt := filepath.Join(c.Out, CheckpointFile)
	if _, err := os.Stat(ckpt); c.Resume && errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("--resume: no checkpoint at %s", ckpt)
	}
	return nil
}

// inputs are what a run knows of its data before the model: the task,
// whether the files are pre-tokenized, and a text-to-text model's label
// sequences.
type inputs struct {
	task    *data.Task
	pre     bool
	targets [][]int64
}

// resolveInputs finds the task, the data's form and the tokenizer.
func (c *Config) resolveInputs() (in inputs, err error) {
	if in.task, err = c.lookupTask(); err != nil {
		return in, err
	}
	if in.pre, err = c.preTokenized(); err != nil {
		return in, err
	}
	in.targets, err = loadTokenizer(c, in.task, in.pre)
	return in, err
}

func setup(c *Config) (*trainer, error) {
	in, err := c.resolveInputs()
	if err != nil {
		return nil, err
	}
	d := &dataset{train: examples{text: c.TrainExamples}, eval: examples{text: c.EvalExamples}}
	hasEval := c.EvalExamples != nil || c.EvalFile != ""
	// Pre-tokenized ids are checked against the model's vocabulary, so
	// they are read after the model; text is read first, to fail fast.
	if !in.pre {
		if err := d.read(c, in, 0); err != nil {
			return nil, err
		}
	}
	m, err := loadModel(c, in.task)
	if err != nil {
		return nil, err
	}
	if err := checkVocab(c, m); err != nil {
		return nil, err
	}
	if in.pre {
		if m.t5 {
			return nil, fmt.Errorf("%s is pre-tokenized: that trains classifiers; a text-to-text model reads text with its tokenizer.json", c.TrainFile)
		}
		if err := d.read(c, in, m.vocab); err != nil {
			return nil, err
		}
	}
	if c.Patience > 0 && !hasEval {
		return nil, fmt.Errorf("--patience %d needs evaluation data (--eval-data FILE, or a dev file in --data)", c.Patience)
	}
	t := &trainer{cfg: c, task: in.task, m: m}
	m.notes = append(c.notes, m.notes...)
	t.trainSet = t.encode(d.train, in.targets)
	if hasEval {
		t.evalSet = t.encode(d.eval, in.targets)
	}
	for i, ex := range d.more {
		t.moreEval = append(t.moreEval, namedSet{name: c.MoreEvalFiles[i].Name, set: t.encode(ex, in.targets)})
	}
	if err := t.compile(); err != nil {
		return nil, err
	}
	if err := t.bind(); err != nil {
		t.sess.Close()
		return nil, err
	}
	t.totalSteps = trainBatches(d.train.len(), c.Batch) / c.Accum * c.Epochs
	if c.MaxSteps > 0 && c.MaxSteps < t.totalSteps {
		t.totalSteps = c.MaxSteps
	}
	if t.record, err = t.runRecord(); err != nil {
		t.sess.Close()
		return nil, err
	}
	return t, nil
}

// dataset is a run's examples before encoding: training, evaluation and
// further evaluation splits.
type dataset struct {
	train, eval examples
	more        []examples
}

// read reads the data files the configuration names (examples given in
// memory stay), pre-tokenized ids bounded by the vocabulary.
func (d *dataset) read(c *Config, in inputs, vocab int) (err error) {
	if d.train.text == nil {
		if d.train, err = readExamples(c.TrainFile, in.task, in.pre, vocab); err != nil {
			return err
		}
	}
	if d.eval.text == nil && c.EvalFile != "" {
		if d.eval, err = readExamples(c.EvalFile, in.task, in.pre, vocab); err != nil {
			return err
		}
	}
	for _, s := range c.MoreEvalFiles {
		ex, err := readExamples(s.Path, in.task, in.pre, vocab)
		if err != nil {
			return err
		}
		d.more = append(d.more, ex)
	}
	if n := d.train.len(); n < c.Batch*c.Accum {
		return fmt.Errorf("%d training examples: fewer than one step's batch (%d×%d)", n, c.Batch, c.Accum)
	}
	return nil
}

// compile builds the training and eval graphs from the loaded forward
// graph, and the optimizer over the trained parameters.
func (t *trainer) compile() error {
	c := t.cfg
	if c.MemoryBudget > 0 {
		if err := t.fitMemoryBudget(); err != nil {
			return err
		}
	}
	spec := t.withLoss(c.Spec)
	t.spec = spec
	g, eval, compiled, err := t.build(t.m.forward)
	if err != nil {
		return err
	}
	if err := passes.CheckSampledSome(compiled, spec.Sampling); err != nil {
		return err
	}
	t.eval = eval
	t.train, t.compiled = g, compiled
	t.params = map[string]*ir.Tensor{}
	for _, pg := range compiled.Trained {
		p := pg.Param.Init
		t.params[pg.Param.Name] = p
		t.infos = append(t.infos, optim.ParamInfo{Name: pg.Param.Name, DType: p.DType, Shape: p.Shape, Decay: optim.DefaultDecay(pg.Param.Name, p.Shape)})
		t.gradNames = append(t.gradNames, pg.Grad.Name)
	}
	if len(t.infos) == 0 {
		return fmt.Errorf("no parameter is trained (check --train/--freeze)")
	}
	t.gn = newGNorms(spec.Sampling.GNorm, c.EMADecay, c.Batch, c.MaxLen, compiled.Layers)
	return nil
}

// withLoss is spec with the task's loss: a T5's own (LM cross-entropy
// over the label pieces, -100 ignored, as HF's T5ForConditionalGeneration
// computes it), MSE for a regression, else cross-entropy on the logits.
func (t *trainer) withLoss(spec passes.TrainingSpec) passes.TrainingSpec {
	switch {
	case t.m.t5:
		spec.Loss = passes.LossSpec{Kind: passes.LossOutput, Output: passes.LossName}
	case t.task.Regression:
		spec.Loss = passes.LossSpec{Kind: passes.LossMSE, Output: t.m.logits}
	default:
		spec.Loss = passes.LossSpec{Kind: passes.LossCrossEntropy, Output: t.m.logits}
	}
	return spec
}

// bind opens the session that runs the graphs, plans their memory, checks
// that the whole run fits (refusing it up front otherwise), and only then
// allocates the optimizer state.
func (t *trainer) bind() error {
	c := t.cfg
	var err error
	if t.sess, err = engine.New(c.Device, c.Threads); err != nil {
		return err
	}
	plan, err := t.sess.AddTraining(t.train, t.gradNames)
	if err != nil {
		return err
	}
	evalPlan, err := t.sess.AddEval(t.eval)
	if err != nil {
		return err
	}
	t.budget = t.planBudget(max(plan.PlannedPeak, evalPlan.PlannedPeak), plan, t.compiled.Trained)
	if err := t.admit(t.budget); err != nil {
		return err
	}
	engine.LimitHeap(t.budget.Total)
	ocfg := optim.DefaultAdamWConfig()
	ocfg.WeightDecay = float32(c.WeightDecay)
	if t.opt, err = optim.NewAdamW(t.params, t.infos, ocfg); err != nil {
		return err
	}
	t.opt.Options = runtime.Options{Threads: c.Threads}
	return t.sess.SetOptimizer(t.opt, t.params)
}

// build compiles the training graph (and the eval graph: the forward
// with adapters) from a loaded forward graph.
func (t *trainer) build(forward *ir.Graph) (train, eval *ir.Graph, compiled *passes.Training, err error) {
	return t.buildWith(forward, t.spec)
}

// buildWith is build with another training spec (admission's probes).
func (t *trainer) buildWith(forward *ir.Graph, spec passes.TrainingSpec) (train, eval *ir.Graph, compiled *passes.Training, err error) {
	g := forward.Clone()
	if spec.LoRA.Rank > 0 {
		// Adapters belong to the model: the eval graph gets them too.
		// They are named after their Hugging Face module where the
		// export's names give it (PEFT's names).
		spec.LoRA.ModuleNames = true
		if spec.LoRA.Family == "" && t.m.hf != nil {
			spec.LoRA.Family = t.m.hf.Family
		}
		if spec.Train.Train == "" && !t.m.t5 {
			// As PEFT's sequence classification: the head is trained
			// whole (modules_to_save), it has no pretrained values.
			spec.Train.Train = passes.LoRATrainPattern(spec.LoRA) + `|(^|\.)(pre_)?classifier\.`
			if h := t.m.head; h != nil && h.Added {
				spec.Train.Train += "|^" + regexp.QuoteMeta(h.Weight) + "$|^" + regexp.QuoteMeta(h.Bias) + "$"
			}
		}
		var err error
		if t.adapters, spec, err = passes.ApplyLoRA(g, spec); err != nil {
			return nil, nil, nil, err
		}
	}
	eval = g.Clone()
	compiled, err = passes.Compile(g, spec)
	return g, eval, compiled, err
}

// dynamicPadding says whether training batches are padded to their own
// longest example. The gnorm estimates are laid out per position of
// --max-len, so they need every batch at that length.
func (t *trainer) dynamicPadding() bool {
	gnorm := t.spec.Sampling.GNorm
	return !t.cfg.StaticPadding && (gnorm == "" || gnorm == "none")
}

// graphFor returns the training graph for batches of length L, compiling
// it on first use. It shares every trained tensor with the main graph
// (compiled for --max-len): the optimizer updates those in place, and LoRA
// drew fresh adapters for this copy that must not be used.
func (t *trainer) graphFor(L int) (*ir.Graph, error) {
	if L == t.cfg.MaxLen {
		return t.train, nil
	}
	if g, ok := t.byLen[L]; ok {
		return g, nil
	}
	fwd, err := t.m.load(t.m.inputShapes(t.cfg.Batch, L))
	if err != nil {
		return nil, fmt.Errorf("compiling for length %d: %v", L, err)
	}
	g, _, compiled, err := t.build(fwd)
	if err != nil {
		return nil, fmt.Errorf("compiling for length %d: %v", L, err)
	}
	for _, v := range g.Inits {
		if p, ok := t.params[v.Name]; ok && slices.Equal(p.Shape, v.Init.Shape) {
			v.Init = p
		}
	}
	for _, pg := range t.compiled.Trained {
		if g.Value(pg.Grad.Name) == nil || !slices.ContainsFunc(compiled.Trained, func(q passes.ParamGrad) bool { return q.Param.Name == pg.Param.Name && q.Param.Init == pg.Param.Init }) {
			return nil, fmt.Errorf("internal error: the graph for length %d does not train %s like the main one", L, pg.Param.Name)
		}
	}
	if _, err := t.sess.AddTraining(g, t.gradNames); err != nil {
		return nil, fmt.Errorf("compiling for length %d: %v", L, err)
	}
	if t.byLen == nil {
		t.byLen = map[int]*ir.Graph{}
	}
	t.byLen[L] = g
	return g, nil
}

// lr is the learning rate of optimizer step s (0-based): linear warmup to
// LR over the warmup steps, then the schedule: linear decay to 0 at the
// last step, half a cosine down to 0, or constant.
func (t *trainer) lr(s int) float32 {
	total := float64(t.totalSteps)
	warm := t.cfg.Warmup
	if warm < 1 {
		warm = math.Round(warm * total)
	}
	x := float64(s + 1)
	if x <= warm {
		return float32(t.cfg.LR * x / warm)
	}
	if total <= warm {
		return float32(t.cfg.LR)
	}
	// progress is 0 at the first step after the warmup and 1 one step
	// past the last: the last step's rate is small but not 0.
	progress := (x - warm - 1) / (total - warm)
	switch t.cfg.Schedule {
	case ScheduleConstant:
		return float32(t.cfg.LR)
	case ScheduleCosine:
		return float32(t.cfg.LR * 0.5 * (1 + math.Cos(math.Pi*math.Min(1, progress))))
	}
	// Linear, written as it always was: the same bits as earlier runs.
	return float32(t.cfg.LR * math.Max(0, (total-x+1)/(total-warm)))
}

// stepEpoch is the epoch (1-based) of the last step taken: an evaluation
// at an epoch's end is of that epoch, as its steps' lines are.
func (t *trainer) stepEpoch() int {
	return max(t.step-1, 0)/max(t.perEpoch(), 1) + 1
}

// evalDue says whether an evaluation is due now, after a step: every
// EvalEvery steps with --eval-every, at the run's end in any case.
func (t *trainer) evalDue() bool {
	return t.evalSet != nil && t.cfg.EvalEvery > 0 && t.step%t.cfg.EvalEvery == 0
}

func (t *trainer) run() (*Result, error) {
	c := t.cfg
	defer func() {
		if t.sess != nil {
			t.sess.Close()
		}
	}()
	ckpt, logState, err := t.openRunDir()
	if err != nil {
		return nil, err
	}
	defer t.lock.release()
	if err := t.announce(); err != nil {
		return nil, err
	}
	if t.log, err = openLogger(c, t.totalSteps, t.step, logState); err != nil {
		return nil, err
	}
	defer t.log.close()

	// A resumed run that ends without evaluating again reports the last
	// evaluation, as the uninterrupted run does.
	res := &Result{Metric: t.task.Metric, Compiled: t.compiled, Eval: t.lastEval}
	p := &progress{start: time.Now()}
	// Until the last step is taken and the evaluation after it is done:
	// a resumed run whose checkpoint is of the last step still evaluates.
	for t.step < t.totalSteps && !t.stoppedEarly || !t.evaluated {
		stopped, err := t.runEpoch(res, p, ckpt)
		if err != nil {
			return nil, err
		}
		if stopped {
			return t.finish(res, p.start, p.tokens)
		}
		if err := t.endEpoch(res, ckpt); err != nil {
			return nil, err
		}
	}
	res.StoppedEarly = t.stoppedEarly
	if err := t.endTraining(res); err != nil {
		return nil, err
	}
	if err := checkFail("before export"); err != nil {
		return nil, err
	}
	// On --resume of a finished run too: the export is made from
	// best.safetensors (else the last parameters), the same either way.
	if err := t.export(); err != nil {
		return nil, err
	}
	return t.finish(res, p.start, p.tokens)
}

// namedSet is an evaluation split beside the main one.
type namedSet struct {
	name string
	set  *encoded
}

// progress is what this invocation has done: its start, the tokens it
// trained on and its steps.
type progress struct {
	start     time.Time
	tokens    int
	stepsHere int
}

// openRunDir makes and locks the run directory, and restores the run from
// its checkpoint with --resume (a fresh run refuses a directory holding
// one). It returns the checkpoint's path and the log's state; on success
// t.lock is held.
func (t *trainer) openRunDir() (ckpt string, ls logState, err error) {
	c := t.cfg
	if c.Demo {
		// Checked before anything is written into the directory.
		if err := DemoDirUsable(c.Out); err != nil {
			return "", ls, err
		}
	}
	if err := c.checkResumable(); err != nil {
		return "", ls, err
	}
	ckpt = filepath.Join(c.Out, CheckpointFile)
	if err := os.MkdirAll(c.Out, 0o755); err != nil {
		return "", ls, err
	}
	if t.lock, err = lockRunDir(c.Out); err != nil {
		return "", ls, err
	}
	defer func() {
		if err != nil {
			t.lock.release()
		}
	}()
	if c.Demo && !c.Resume {
		if err := resetDemoDir(c.Out); err != nil {
			return "", ls, err
		}
	}
	switch _, statErr := os.Stat(ckpt); {
	case c.Resume:
		if ls, err = t.restore(ckpt); err != nil {
			return "", ls, err
		}
		// Temporary files of writes the previous invocation did not finish.
		if _, err := atomicfile.RemoveStale(c.Out); err != nil {
			return "", ls, fmt.Errorf("--resume: %v", err)
		}
	case statErr == nil:
		return "", ls, fmt.Errorf("%s already holds a run (checkpoint %s): pass --resume to continue it or choose another --out", c.Out, ckpt)
	default:
		// A fresh run's event file is its own, not one of a run that
		// never checkpointed.
		if err := removeEventFiles(c.Out); err != nil {
			return "", ls, err
		}
	}
	return ckpt, ls, nil
}

// announce writes config.json and memory.txt, and says first what the run
// made of the model and what is sampled.
func (t *trainer) announce() error {
	c := t.cfg
	if err := t.writeConfig(); err != nil {
		return err
	}
	if err := t.writeMemoryReport(); err != nil {
		return err
	}
	if c.Progress != nil {
		for _, n := range t.m.notes {
			fmt.Fprintln(c.Progress, "model: "+n)
		}
		fmt.Fprintln(c.Progress, SamplingSummary(t.compiled, t.spec.Sampling))
	}
	return nil
}

// runEpoch takes the steps left in the current epoch, evaluating and
// checkpointing when due. stopped says the invocation ended early
// (StopAfter) with a checkpoint, as a kill would.
func (t *trainer) runEpoch(res *Result, p *progress, ckpt string) (stopped bool, err error) {
	c := t.cfg
	var order []int
	for t.batchInEpoch < t.perEpoch() && t.step < t.totalSteps && !t.stoppedEarly {
		if order == nil {
			order = epochOrder(len(t.trainSet.examples), c.Seed, t.epoch)
		}
		stepStart := time.Now()
		loss, gnorm, n, err := t.trainStep(order)
		if err != nil {
			return false, err
		}
		took := time.Since(stepStart)
		p.tokens += n
		t.step++
		t.batchInEpoch++
		t.evaluated = false
		p.stepsHere++
		tps := float64(p.tokens) / time.Since(p.start).Seconds()
		t.log.step(t.step, t.stepEpoch(), loss, t.lr(t.step-1), gnorm, tps, took)
		if err := t.afterStep(res, ckpt); err != nil {
			return false, err
		}
		if c.StopAfter > 0 && p.stepsHere >= c.StopAfter && t.step < t.totalSteps && !t.stoppedEarly {
			res.Stopped = true
			if err := t.save(ckpt); err != nil {
				return false, err
			}
			return true, t.endTraining(res)
		}
	}
	return false, nil
}

// afterStep evaluates (--eval-every) and checkpoints (--save-every) when
// due.
func (t *trainer) afterStep(res *Result, ckpt string) error {
	saved := false
	if t.evalDue() {
		// Evaluated before the checkpoint, which records it done.
		if err := t.evaluate(res); err != nil {
			return err
		}
		t.evaluated = true
		if err := t.save(ckpt); err != nil {
			return err
		}
		saved = true
	}
	if n := t.cfg.SaveEvery; n > 0 && t.step%n == 0 && !saved {
		if err := t.save(ckpt); err != nil {
			return err
		}
	}
	return checkFail(fmt.Sprintf("after step %d", t.step))
}

// endEpoch is the end of an epoch (or of the run): evaluate, keep the
// best, checkpoint. With --eval-every, only the run's end evaluates here
// (if its last step did not).
func (t *trainer) endEpoch(res *Result, ckpt string) error {
	if t.batchInEpoch >= t.perEpoch() {
		t.epoch++
		t.batchInEpoch = 0
	}
	end := t.step >= t.totalSteps || t.stoppedEarly
	if !t.evaluated && (t.cfg.EvalEvery == 0 || end) {
		if err := t.evaluate(res); err != nil {
			return err
		}
		t.evaluated = true
	}
	return t.save(ckpt)
}

// endTraining records what the session measured, brings the parameters
// home and lets the optimizer state and the arena go: the export that
// follows loads the best parameters and must not stack on top of them.
func (t *trainer) endTraining(res *Result) error {
	res.Budget, res.Memory = t.budget, t.sess.Stats()
	if err := t.sess.Sync(); err != nil {
		return err
	}
	t.sess.Close()
	t.sess, t.opt = nil, nil
	goruntime.GC()
	return nil
}

func (t *trainer) finish(res *Result, start time.Time, tokens int) (*Result, error) {
	res.Steps = t.step
	res.Notes = t.m.notes
	if !t.cfg.NoExport {
		res.Exported = t.exportedFiles()
	}
	res.Best, res.Evaluated = t.best, t.haveBest
	res.Wall = time.Since(start)
	res.TokensPerSec = float64(tokens) / res.Wall.Seconds()
	res.PeakRSS = bench.PeakRSS()
	res.CacheBytes = t.gn.CacheBytes()
	res.Params = t.params
	if err := t.appendMeasured(res); err != nil {
		return nil, err
	}
	// A metrics line that could not be written is an error, not a
	// shorter log.
	if _, err := t.log.state(); err != nil {
		return nil, err
	}
	t.log.done()
	if err := writeDerivedLogs(t.cfg.Out); err != nil {
		return nil, err
	}
	if err := writePlot(t.cfg.Out, t.task.Metric); err != nil {
		return nil, fmt.Errorf("plot: %v", err)
	}
	if err := writeMemoryPlot(t.cfg.Out, res, t.kept); err != nil {
		return nil, fmt.Errorf("memory plot: %v", err)
	}
	return res, nil
}

// trainStep runs Accum micro-batches and one optimizer step. It returns
// the mean loss, the gradient norm before clipping and the tokens seen.
func (t *trainer) trainStep(order []int) (loss float32, norm float64, tokens int, err error) {
	c := t.cfg
	for micro := 0; micro < c.Accum; micro++ {
		first := (t.batchInEpoch*c.Accum + micro) * c.Batch
		rows := order[first : first+c.Batch]
		L := t.trainSet.maxLen
		if t.dynamicPadding() {
			L = t.trainSet.paddedLen(rows)
		}
		g, err := t.graphFor(L)
		if err != nil {
			return 0, 0, 0, err
		}
		b := t.trainSet.makeBatchAs(rows, t.task.Regression, -1, L)
		feeds := t.m.feeds(b)
		switch {
		case t.m.t5: // feeds has labels and decoder_input_ids already
		case t.task.Regression:
			feeds["targets"] = b.labels
		default:
			feeds["labels"] = b.labels
		}
		t.gn.feed(feeds, rows)
		// Seed and step key Dropout masks and WTA-CRS sampling: a resumed
		// run draws the same numbers. The gradients stay in the session.
		out, err := t.sess.Train(g, feeds, uint64(c.Seed), uint64(t.step*c.Accum+micro))
		if err != nil {
			return 0, 0, 0, fmt.Errorf("step %d: %v", t.step+1, err)
		}
		if err := t.gn.update(out, feeds, rows); err != nil {
			return 0, 0, 0, err
		}
		loss += out[passes.LossName].F32[0] / float32(c.Accum)
		tokens += b.tokens
	}
	if math.IsNaN(float64(loss)) || math.IsInf(float64(loss), 0) {
		// A non-finite parameter (an earlier update that overflowed) is
		// named as such; only from finite parameters is it the step size.
		if err := t.sess.Sync(); err != nil {
			return 0, 0, 0, fmt.Errorf("step %d: %v", t.step+1, err)
		}
		if err := checkpoint.CheckFinite(t.params); err != nil {
			return 0, 0, 0, fmt.Errorf("step %d: a parameter is not finite: %v", t.step+1, err)
		}
		return 0, 0, 0, fmt.Errorf("step %d: the loss is %v (try a smaller --lr)", t.step+1, loss)
	}
	// Averaged over the micro-batches, clipped to the global norm and
	// applied by AdamW, in place, where the parameters live.
	norm, err = t.sess.Update(t.lr(t.step), c.ClipNorm)
	if err != nil {
		return 0, 0, 0, fmt.Errorf("step %d: %v", t.step+1, err)
	}
	return loss, norm, tokens, nil
}

// Predict runs the eval graph over an encoded set and returns one
// prediction per example (class index, or the regression output).
func (t *trainer) predict(set *encoded) ([]float64, error) {
	if t.m.t5 {
		return t.predictT5(set)
	}
	var preds []float64
	for _, rows := range evalBatches(len(set.examples), t.cfg.Batch) {
		b := set.makeBatch(rows, t.task.Regression)
		out, err := t.sess.Eval(t.eval, t.m.feeds(b))
		if err != nil {
			return nil, fmt.Errorf("eval: %v", err)
		}
		logits := out[t.m.logits]
		if logits == nil {
			logits = out[t.eval.Outputs[0].Name]
		}
		k := t.m.classes
		for r, idx := range rows {
			if idx < 0 {
				continue
			}
			row := logits.F32[r*k : (r+1)*k]
			if t.task.Regression {
				preds = append(preds, float64(row[0]))
				continue
			}
			best := 0
			for j := range row {
				if row[j] > row[best] {
					best = j
				}
			}
			preds = append(preds, float64(best))
		}
	}
	return preds, nil
}

func gold(set *encoded, regression bool) []float64 {
	g := make([]float64, len(set.examples))
	for i, ex := range set.examples {
		if regression {
			g[i] = ex.Target
		} else {
			g[i] = float64(ex.Class)
		}
	}
	return g
}

// evaluate scores the eval set, logs it and saves the best parameters.
func (t *trainer) evaluate(res *Result) error {
	if t.evalSet == nil {
		return nil
	}
	preds, err := t.predict(t.evalSet)
	if err != nil {
		return err
	}
	m := t.task.Metrics(preds, gold(t.evalSet, t.task.Regression))
	for _, s := range t.moreEval {
		p, err := t.predict(s.set)
		if err != nil {
			return err
		}
		for k, v := range t.task.Metrics(p, gold(s.set, t.task.Regression)) {
			m[s.name+"/"+k] = v
		}
	}
	res.Eval, t.lastEval = m, m
	t.log.eval(t.step, t.stepEpoch(), m)
	v := m[t.task.Metric]
	if t.cfg.Patience > 0 {
		// An evaluation counts as progress only if it beats the best so
		// far by more than --min-delta (the first always does).
		if !t.haveBest || v > t.best+t.cfg.MinDelta {
			t.badEvals = 0
		} else {
			t.badEvals++
		}
		if t.badEvals >= t.cfg.Patience {
			t.stoppedEarly = true
			if c := t.cfg.Progress; c != nil {
				t.log.done()
				fmt.Fprintf(c, "early stop at step %d: %s has not improved by more than %g for %d evaluations (best %.4f)\n",
					t.step, t.task.Metric, t.cfg.MinDelta, t.badEvals, math.Max(t.best, v))
			}
		}
	}
	if !t.haveBest || v > t.best {
		t.best, t.haveBest = v, true
		if err := t.sess.Sync(); err != nil {
			return err
		}
		meta := map[string]string{"format": formatValue + "-params", "step": strconv.Itoa(t.step), t.task.Metric: fmt.Sprint(v)}
		if err := checkpoint.Save(filepath.Join(t.cfg.Out, BestFile), t.params, meta); err != nil {
			return err
		}
	}
	return nil
}

// save writes the whole training state atomically, with the run's
// position, the end-of-epoch evaluation's status, the log's length and
// the record --resume compares.
func (t *trainer) save(path string) error {
	if err := t.sess.Sync(); err != nil {
		return err
	}
	ls, err := t.log.state()
	if err != nil {
		return err
	}
	// metrics.csv and the event file say what metrics.jsonl says at this
	// checkpoint (a resume cuts the log back to it).
	if err := writeDerivedLogs(t.cfg.Out); err != nil {
		return err
	}
	state := map[string]*ir.Tensor{}
	for name, p := range t.params {
		state[checkpoint.ParamPrefix+name] = p
	}
	for name, v := range t.opt.State() {
		state["optim/"+name] = v
	}
	for name, v := range t.gn.state() {
		state[name] = v
	}
	meta := map[string]string{
		"format": formatValue, "step": strconv.Itoa(t.step), "epoch": strconv.Itoa(t.epoch),
		"batch": strconv.Itoa(t.batchInEpoch), "best": strconv.FormatFloat(t.best, 'g', -1, 64),
		"have_best": strconv.FormatBool(t.haveBest), "seed": strconv.FormatInt(t.cfg.Seed, 10),
		"evaluated": strconv.FormatBool(t.evaluated),
		"bad_evals": strconv.Itoa(t.badEvals), "stopped_early": strconv.FormatBool(t.stoppedEarly),
		"metrics_bytes": strconv.FormatInt(ls.Size, 10), "log_window_steps": strconv.Itoa(ls.SinceLog),
		"log_window_loss": strconv.FormatFloat(ls.LossAcc, 'g', -1, 64),
	}
	if t.lastEval != nil {
		// As strings: exact, and a NaN metric (a constant prediction's
		// correlation) is kept too.
		ev := map[string]string{}
		for k, v := range t.lastEval {
			ev[k] = strconv.FormatFloat(v, 'g', -1, 64)
		}
		b, _ := json.Marshal(ev)
		meta["eval"] = string(b)
	}
	for _, e := range t.record {
		meta[recordKey+e.Name] = e.Value
	}
	return checkpoint.Save(path, state, meta)
}

// perEpoch is the number of optimizer steps in an epoch.
func (t *trainer) perEpoch() int {
	return trainBatches(len(t.trainSet.examples), t.cfg.Batch) / t.cfg.Accum
}

// restore loads a checkpoint written by save, checking it fully before
// changing anything: its metadata parsed and checked against this run,
// the record of the model, data and options compared (unless
// --resume-with-changes), every parameter present and finite.
func (t *trainer) restore(path string) (logState, error) {
	state, meta, err := t.openCheckpoint(path)
	if err != nil {
		return logState{}, err
	}
	pos, ls, err := t.readPosition(meta)
	if err != nil {
		return logState{}, fmt.Errorf("--resume: checkpoint %s: %v", path, err)
	}
	if err := t.restoreState(path, state); err != nil {
		return logState{}, err
	}
	t.step, t.epoch, t.batchInEpoch = pos.step, pos.epoch, pos.batch
	t.best, t.haveBest, t.evaluated, t.lastEval = pos.best, pos.haveBest, pos.evaluated, pos.lastEval
	t.badEvals, t.stoppedEarly = pos.badEvals, pos.stoppedEarly
	return ls, nil
}

// openCheckpoint loads a checkpoint and checks it is this run's: crsc
// train's format, the same seed and record (unless
// --resume-with-changes).
func (t *trainer) openCheckpoint(path string) (map[string]*ir.Tensor, map[string]string, error) {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil, nil, fmt.Errorf("--resume: no checkpoint at %s", path)
	}
	state, meta, err := checkpoint.Load(path)
	if err != nil {
		return nil, nil, fmt.Errorf("--resume: %v", err)
	}
	if meta["format"] != formatValue {
		return nil, nil, fmt.Errorf("--resume: %s is not a crsc train checkpoint", path)
	}
	if t.cfg.ResumeWithChanges {
		return state, meta, nil
	}
	if meta["seed"] != strconv.FormatInt(t.cfg.Seed, 10) {
		return nil, nil, fmt.Errorf("--resume: %s was written with --seed %s, not %d", path, meta["seed"], t.cfg.Seed)
	}
	if err := compareRecord(meta, t.record); err != nil {
		return nil, nil, fmt.Errorf("--resume: %v", err)
	}
	return state, meta, nil
}

// position is where a checkpoint left the run.
type position struct {
	step, epoch, batch, badEvals      int
	haveBest, evaluated, stoppedEarly bool
	best                              float64
	lastEval                          map[string]float64
}

// metaReader reads a checkpoint's metadata; the first error sticks.
type metaReader struct {
	meta map[string]string
	err  error
}

func (r *metaReader) num(key string, lo, hi int) int {
	if r.err != nil {
		return 0
	}
	v, ok := r.meta[key]
	n, err := strconv.Atoi(v)
	switch {
	case !ok:
		r.err = fmt.Errorf("no %q in its metadata", key)
	case err != nil:
		r.err = fmt.Errorf("metadata %s=%q is not an integer", key, v)
	case n < lo || n > hi:
		r.err = fmt.Errorf("metadata %s=%d is outside this run's [%d, %d]", key, n, lo, hi)
	}
	return n
}

func (r *metaReader) flag(key string, def bool) bool {
	v, ok := r.meta[key]
	if !ok || r.err != nil {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		r.err = fmt.Errorf("metadata %s=%q is not true or false", key, v)
	}
	return b
}

func (r *metaReader) float(key string) float64 {
	if r.err != nil {
		return 0
	}
	x, err := strconv.ParseFloat(r.meta[key], 64)
	if err != nil {
		r.err = fmt.Errorf("metadata %s=%q is not a number", key, r.meta[key])
	}
	return x
}

// metrics reads an evaluation's metrics (nil when the key is absent).
func (r *metaReader) metrics(key string) map[string]float64 {
	v, ok := r.meta[key]
	if !ok || r.err != nil {
		return nil
	}
	var ev map[string]string
	err := json.Unmarshal([]byte(v), &ev)
	out := map[string]float64{}
	for k, x := range ev {
		if out[k], err = strconv.ParseFloat(x, 64); err != nil {
			break
		}
	}
	if err != nil {
		r.err = fmt.Errorf("metadata %s=%q is not the metrics of an evaluation", key, v)
	}
	return out
}

// readPosition parses and range-checks where the checkpoint left the run,
// and the log's state then.
func (t *trainer) readPosition(meta map[string]string) (position, logState, error) {
	r := &metaReader{meta: meta}
	perEpoch := t.perEpoch()
	p := position{step: r.num("step", 0, t.totalSteps), epoch: r.num("epoch", 0, t.cfg.Epochs), batch: r.num("batch", 0, perEpoch)}
	p.haveBest = r.flag("have_best", false)
	// Checkpoints before "evaluated": the loop's old rule (evaluated at
	// an epoch's start).
	p.evaluated = r.flag("evaluated", p.batch == 0 && p.step > 0)
	p.stoppedEarly = r.flag("stopped_early", false)
	if _, ok := meta["bad_evals"]; ok {
		p.badEvals = r.num("bad_evals", 0, math.MaxInt)
	}
	if r.err == nil && p.step != p.epoch*perEpoch+p.batch && !t.cfg.ResumeWithChanges {
		r.err = fmt.Errorf("metadata step %d does not match epoch %d and batch %d of this run's %d steps per epoch", p.step, p.epoch, p.batch, perEpoch)
	}
	p.best = r.float("best")
	p.lastEval = r.metrics("eval")
	ls := logState{Size: -1}
	if _, ok := meta["metrics_bytes"]; ok {
		ls.Size = int64(r.num("metrics_bytes", 0, math.MaxInt))
		ls.SinceLog = r.num("log_window_steps", 0, p.step)
		ls.LossAcc = r.float("log_window_loss")
	}
	return p, ls, r.err
}

// restoreState checks the checkpoint's parameters against the run's and
// loads them, the optimizer state and the ‖G‖ estimates.
func (t *trainer) restoreState(path string, state map[string]*ir.Tensor) error {
	for _, info := range t.infos {
		p := state[checkpoint.ParamPrefix+info.Name]
		if p == nil || p.DType != ir.Float32 || fmt.Sprint(p.Shape) != fmt.Sprint(info.Shape) {
			return fmt.Errorf("--resume: %s has no parameter %q of shape %v", path, info.Name, info.Shape)
		}
	}
	if err := checkpoint.CheckFiniteParams(state); err != nil {
		return fmt.Errorf("--resume: checkpoint %s: a parameter is not finite: %v", path, err)
	}
	ost := map[string]*ir.Tensor{}
	for name, v := range state {
		if rest, ok := cutPrefix(name, "optim/"); ok {
			ost[rest] = v
		}
	}
	if err := t.opt.LoadState(ost); err != nil {
		return fmt.Errorf("--resume: %s: %v", path, err)
	}
	if err := t.gn.load(state); err != nil {
		return err
	}
	for _, info := range t.infos {
		copy(t.params[info.Name].F32, state[checkpoint.ParamPrefix+info.Name].F32)
	}
	return nil
}

func cutPrefix(s, p string) (string, bool) {
	if len(s) >= len(p) && s[:len(p)] == p {
		return s[len(p):], true
	}
	return s, false
}

// export writes the forward graph with the best (else the last)
// parameters, LoRA merged, as model.onnx.
func (t *trainer) writeConfig() error {
	b, err := json.MarshalIndent(t.cfg, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteBytes(filepath.Join(t.cfg.Out, ConfigFile), append(b, '\n'))
}
