package bench

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"math/rand"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"crsc/compiler/ir"
	"crsc/compiler/memplan"
	"crsc/compiler/models"
	"crsc/compiler/passes"
	"crsc/runtime"
	"crsc/runtime/device"
	"crsc/runtime/engine"
	"crsc/training/optim"
)

// Config picks what to time.
type Config struct {
	Arch    string // bert-base, bert-large, bert-tiny
	Mode    string // forward or train (forward + backward of a cross-entropy loss)
	Batch   int
	Seq     int
	Steps   int // timed steps after one warm-up
	Threads int
	Seed    int64
	Dropout float32 // training-mode Dropout in the model (0: none)
	// Training is how the step is compiled (loss is always cross-entropy
	// on the logits): memory rewrites, WTA-CRS sampling, LoRA.
	Training passes.TrainingSpec
	// Device runs the steps (nil: the CPU).
	Device *device.Device `json:"-"`
	// NoOptimizer times forward and backward only; by default a train
	// step is what crsc train runs: forward, loss, backward, clipping and
	// the AdamW update, through the same engine.
	NoOptimizer bool
}

// Result is what one benchmark measured.
type Result struct {
	Config
	Params    int64
	StepTimes []time.Duration
	PeakRSS   int64 // bytes: the process's high-water mark (VmHWM)
	Profile   *runtime.Profile
	// Planned is the memory plan's arena; Measured what the run used of
	// it plus heap workspace (runtime.Stats.MeasuredPeak).
	Planned, Measured, SavedForBackward int64
	// On a GPU: its name, the most device memory held at once (arena,
	// pool, cuBLAS workspace is the driver's) and the ops that fell back
	// to the CPU.
	DeviceName string
	DevicePeak int64
	Workspace  string         // cuBLAS workspace, as the device reports it
	Misplaced  map[string]int // planned outputs a kernel put outside their slot
	Fallbacks  map[string]int
}

// Median is the median step time.
func (r *Result) Median() time.Duration {
	ts := append([]time.Duration{}, r.StepTimes...)
	sort.Slice(ts, func(i, j int) bool { return ts[i] < ts[j] })
	return ts[len(ts)/2]
}

// Arch returns a preset architecture.
func Arch(name string) (models.BertConfig, error) {
	switch name {
	case "bert-base":
		return models.BertBase, nil
	case "bert-large":
		return models.BertLarge, nil
	case "bert-tiny":
		return models.BertTiny, nil
	}
	return models.BertConfig{}, fmt.Errorf("unknown architecture %q (want bert-base, bert-large, bert-tiny, t5-small, t5-base, t5-large or t5-3b)", name)
}

// Run builds the graph, runs one warm-up step and then cfg.Steps timed ones.
func Run(cfg Config, progress io.Writer) (*Result, error) {
	r, err := prepare(cfg)
	if err != nil {
		return nil, err
	}
	defer r.sess.Close()
	if cfg.Device != nil && cfg.Device.GPU != nil {
		r.res.DeviceName = cfg.Device.String()
		r.res.Workspace = cfg.Device.GPU.Info().Libraries["cublas-workspace"]
	} else {
		// As crsc train does, so that peak RSS measures the plan, not
		// the collector's slack.
		engine.LimitHeap(r.hostBytes())
	}
	for step := 0; step <= cfg.Steps; step++ {
		took, err := r.step(step)
		if err != nil {
			return nil, err
		}
		if progress != nil {
			fmt.Fprintf(progress, "step %d/%d: %.0f ms\n", step, cfg.Steps, took.Seconds()*1000)
		}
	}
	r.res.PeakRSS = PeakRSS()
	st := r.sess.Stats()
	r.res.DevicePeak, r.res.Fallbacks, r.res.Misplaced = st.DevicePeak, st.Fallbacks, st.Misplaced
	return r.res, nil
}

// Compare times the exact step and the sampled step cfg describes in one
// process, alternating which goes first, so that the machine's drift
// (other jobs, clocks) hits both alike: the ratio of their medians is what
// WTA-CRS costs or saves at equal batch. CPU only.
func Compare(cfg Config, progress io.Writer) (exact, sampled *Result, err error) {
	if cfg.Device != nil && cfg.Device.GPU != nil {
		return nil, nil, fmt.Errorf("--vs-exact runs on the CPU; time each on the GPU with its own crsc bench")
	}
	ex := cfg
	ex.Training.Sampling = passes.SamplingSpec{}
	re, err := prepare(ex)
	if err != nil {
		return nil, nil, err
	}
	rs, err := prepare(cfg)
	if err != nil {
		return nil, nil, err
	}
	engine.LimitHeap(re.hostBytes() + rs.hostBytes())
	for step := 0; step <= cfg.Steps; step++ {
		pair := [2]*runner{re, rs}
		if step%2 == 1 {
			pair = [2]*runner{rs, re}
		}
		for _, r := range pair {
			took, err := r.step(step)
			if err != nil {
				return nil, nil, err
			}
			if progress != nil {
				fmt.Fprintf(progress, "step %d/%d %s: %.0f ms\n", step, cfg.Steps, r.name, took.Seconds()*1000)
			}
		}
	}
	re.res.PeakRSS, rs.res.PeakRSS = PeakRSS(), PeakRSS()
	return re.res, rs.res, nil
}

// runner is one compiled step bound to an engine session (one arena,
// reused by every step), and its inputs.
type runner struct {
	name   string
	cfg    Config
	g      *ir.Graph
	inputs map[string]*ir.Tensor
	plan   *memplan.MemPlan
	sess   *engine.Session
	train  bool // a training step (else a forward pass)
	res    *Result
	// optimizerBytes is the AdamW state of the trained parameters (two
	// moments each; 0 without an optimizer).
	optimizerBytes int64
}

// hostBytes is what a CPU step holds in big buffers: the weights, the
// optimizer state, the arena and the inputs (crsc train's plan total).
func (r *runner) hostBytes() int64 {
	n := r.plan.PlannedPeak + r.optimizerBytes
	for _, v := range r.g.Inits {
		n += v.Init.DType.StorageBytes(v.Init.Len())
	}
	for _, t := range r.inputs {
		n += t.DType.StorageBytes(t.Len())
	}
	return n
}

func prepare(cfg Config) (*runner, error) {
	if cfg.Batch <= 0 || cfg.Seq <= 0 {
		return nil, fmt.Errorf("batch %d × seq %d: both must be at least 1", cfg.Batch, cfg.Seq)
	}
	g, inputs, err := build(cfg)
	if err != nil {
		return nil, err
	}
	res := &Result{Config: cfg, Profile: runtime.NewProfile()}
	for _, v := range g.Inits {
		if v.Init.DType.IsFloat() && v.Init.Len() > 1 {
			res.Params += int64(v.Init.Len())
		}
	}
	var compiled *passes.Training
	switch cfg.Mode {
	case "forward":
	case "train":
		spec := cfg.Training
		if _, isT5 := inputs["decoder_input_ids"]; !isT5 {
			spec.Loss = passes.LossSpec{Kind: passes.LossCrossEntropy, Output: "logits"}
			labels := make([]int64, cfg.Batch)
			for i := range labels {
				labels[i] = int64(i % 2)
			}
			inputs["labels"] = ir.FromInt64([]int{cfg.Batch}, labels)
		}
		if compiled, err = passes.Compile(g, spec); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("mode %q: want forward or train", cfg.Mode)
	}
	r := &runner{cfg: cfg, g: g, inputs: inputs, train: compiled != nil, res: res, name: "exact"}
	if cfg.Training.Sampling.Enabled() {
		r.name = fmt.Sprintf("%s@%g", cfg.Training.Sampling.Estimator, cfg.Training.Sampling.Keep)
	}
	if err := r.bind(compiled); err != nil {
		return nil, err
	}
	res.Planned, res.SavedForBackward = r.plan.PlannedPeak, r.plan.SavedActivationBytes
	return r, nil
}

// bind opens the CPU session the steps run in, with the optimizer crsc
// train uses over the trained parameters (unless NoOptimizer).
func (r *runner) bind(compiled *passes.Training) error {
	var err error
	if r.sess, err = engine.New(r.cfg.Device, r.cfg.Threads); err != nil {
		return err
	}
	if !r.train {
		r.plan, err = r.sess.AddEval(r.g)
		return err
	}
	params := map[string]*ir.Tensor{}
	var infos []optim.ParamInfo
	var gradNames []string
	for _, pg := range compiled.Trained {
		p := pg.Param.Init
		params[pg.Param.Name] = p
		infos = append(infos, optim.ParamInfo{Name: pg.Param.Name, DType: p.DType, Shape: p.Shape, Decay: optim.DefaultDecay(pg.Param.Name, p.Shape)})
		gradNames = append(gradNames, pg.Grad.Name)
	}
	if r.plan, err = r.sess.AddTraining(r.g, gradNames); err != nil {
		return err
	}
	if r.cfg.NoOptimizer {
		return nil
	}
	opt, err := optim.NewAdamW(params, infos, optim.DefaultAdamWConfig())
	if err != nil {
		return err
	}
	for _, p := range params {
		r.optimizerBytes += 2 * p.DType.StorageBytes(p.Len())
	}
	opt.Options.Threads = r.cfg.Threads
	return r.sess.SetOptimizer(opt, params)
}

// step runs step number i on the CPU; step 0 warms caches and pools and
// is not recorded.
func (r *runner) step(i int) (time.Duration, error) {
	var prof *runtime.Profile
	if i > 0 {
		prof = r.res.Profile
	}
	r.sess.SetProfile(prof)
	start := time.Now()
	if err := r.run(i); err != nil {
		return 0, err
	}
	took := time.Since(start)
	st := r.sess.Stats()
	r.res.Measured = max(r.res.Measured, st.ArenaHighWater+st.Workspace+st.Unplanned)
	if i > 0 {
		r.res.StepTimes = append(r.res.StepTimes, took)
	}
	return took, nil
}

// run is one step as crsc train runs it (the update timed as one op).
func (r *runner) run(i int) error {
	if !r.train {
		_, err := r.sess.Eval(r.g, r.inputs)
		return err
	}
	if _, err := r.sess.Train(r.g, r.inputs, uint64(r.cfg.Seed), uint64(i)); err != nil {
		return err
	}
	if r.cfg.NoOptimizer {
		r.sess.Discard()
		return nil
	}
	start := time.Now()
	// A small learning rate: the weights stay usable over many steps.
	_, err := r.sess.Update(1e-6, 1)
	if prof := r.res.Profile; i > 0 {
		prof.Time["AdamW (fused, with clipping)"] += time.Since(start)
		prof.Count["AdamW (fused, with clipping)"]++
	}
	return err
}

// build makes the preset's graph with random weights, bound to the batch
// shape, and random inputs for it (T5: target length 8, the length of
// text-to-text labels, with the labels as its LM loss input).
func build(cfg Config) (*ir.Graph, map[string]*ir.Tensor, error) {
	if strings.HasPrefix(cfg.Arch, "t5") {
		g, err := models.Preset(cfg.Arch, models.BuildOptions{Seed: cfg.Seed, Dropout: cfg.Dropout})
		if err != nil {
			return nil, nil, err
		}
		const tgt = 8
		r := rand.New(rand.NewSource(cfg.Seed))
		vocab := int(g.Value("shared.weight").Init.Shape[0])
		tok := func(b, s int) *ir.Tensor {
			v := make([]int64, b*s)
			for i := range v {
				v[i] = int64(1 + r.Intn(vocab-1))
			}
			return ir.FromInt64([]int{b, s}, v)
		}
		mask := ir.NewTensor(ir.Int64, cfg.Batch, cfg.Seq)
		for i := range mask.I64 {
			mask.I64[i] = 1
		}
		inputs := map[string]*ir.Tensor{"input_ids": tok(cfg.Batch, cfg.Seq), "attention_mask": mask,
			"decoder_input_ids": tok(cfg.Batch, tgt), "labels": tok(cfg.Batch, tgt)}
		shapes := map[string]ir.Shape{"input_ids": ir.StaticShape(cfg.Batch, cfg.Seq), "decoder_input_ids": ir.StaticShape(cfg.Batch, tgt)}
		return g, inputs, bind(g, shapes)
	}
	arch, err := Arch(cfg.Arch)
	if err != nil {
		return nil, nil, err
	}
	if cfg.Seq > arch.MaxPositions {
		return nil, nil, fmt.Errorf("seq %d: %s has %d positions", cfg.Seq, cfg.Arch, arch.MaxPositions)
	}
	g, err := models.BuildBertWith(arch, models.BuildOptions{Seed: cfg.Seed, Dropout: cfg.Dropout})
	if err != nil {
		return nil, nil, err
	}
	return g, randomInputs(cfg, arch), bind(g, map[string]ir.Shape{"input_ids": ir.StaticShape(cfg.Batch, cfg.Seq)})
}

func bind(g *ir.Graph, shapes map[string]ir.Shape) error {
	return passes.Run(g, passes.Load, &passes.Config{Shapes: shapes, Supports: runtime.CPU(runtime.Options{}).Supports})
}

func randomInputs(cfg Config, arch models.BertConfig) map[string]*ir.Tensor {
	r := rand.New(rand.NewSource(cfg.Seed))
	n := cfg.Batch * cfg.Seq
	ids, mask, types := make([]int64, n), make([]int64, n), make([]int64, n)
	for i := range ids {
		ids[i], mask[i] = int64(r.Intn(arch.Vocab)), 1
	}
	shape := []int{cfg.Batch, cfg.Seq}
	return map[string]*ir.Tensor{
		"input_ids":      ir.FromInt64(shape, ids),
		"attention_mask": ir.FromInt64(shape, mask),
		"token_type_ids": ir.FromInt64(shape, types),
	}
}

// PeakRSS reads the process's resident-set high-water mark (Linux); 0
// elsewhere.
func PeakRSS() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb * 1024
		}
	}
	return 0
}

// Report prints the result: step times, throughput, memory and the ops
// that took the most time.
func (r *Result) Report(w io.Writer, top int) {
	med := r.Median()
	tokens := float64(r.Batch*r.Seq) / med.Seconds()
	fmt.Fprintf(w, "%s %s batch %d × seq %d, %d threads: median %.1f ms/step over %d steps, %.0f tokens/s, peak RSS %.2f GiB, %.1fM parameters\n",
		r.Arch, r.Mode, r.Batch, r.Seq, r.Threads, med.Seconds()*1000, len(r.StepTimes), tokens, float64(r.PeakRSS)/(1<<30), float64(r.Params)/1e6)
	fmt.Fprintf(w, "memory: planned arena %s, measured %s (%.3f× plan), kept for backward %s\n",
		memplan.FormatBytes(r.Planned), memplan.FormatBytes(r.Measured), float64(r.Measured)/float64(max(r.Planned, 1)), memplan.FormatBytes(r.SavedForBackward))
	if r.DeviceName != "" {
		fmt.Fprintf(w, "device: %s; peak device memory %s (arena, pool with the weights, metadata) + cuBLAS workspace %s; CPU fallbacks %v; outputs placed outside their planned slot %v\n",
			r.DeviceName, memplan.FormatBytes(r.DevicePeak), r.Workspace, r.Fallbacks, r.Misplaced)
		return // kernel launches are asynchronous: host-side per-op times would mislead
	}
	type opTime struct {
		op string
		t  time.Duration
	}
	var ops []opTime
	var total time.Duration
	for op, t := range r.Profile.Time {
		ops = append(ops, opTime{op, t})
		total += t
	}
	sort.Slice(ops, func(i, j int) bool { return ops[i].t > ops[j].t })
	fmt.Fprintln(w, "where the time goes (all timed steps):")
	for i, o := range ops {
		if i == top {
			break
		}
		fmt.Fprintf(w, "  %-34s %6.1f%%  %8.1f ms/step  (%d calls/step)\n", o.op, 100*o.t.Seconds()/total.Seconds(),
			o.t.Seconds()*1000/float64(len(r.StepTimes)), r.Profile.Count[o.op]/len(r.StepTimes))
	}
}

// ReportDiff prints how the sampled step's time compares with the exact
// one's: the ratio of the medians, and the ops whose time changed most
// (per step, from both profiles).
func ReportDiff(w io.Writer, exact, sampled *Result, top int) {
	e, s := exact.Median(), sampled.Median()
	fmt.Fprintf(w, "%s vs exact, %s batch %d × seq %d, alternating in one process: %.1f vs %.1f ms/step, ratio %.3f\n",
		sampled.Training.Sampling.Estimator, sampled.Arch, sampled.Batch, sampled.Seq, s.Seconds()*1000, e.Seconds()*1000, s.Seconds()/e.Seconds())
	perStep := func(r *Result, op string) float64 {
		return r.Profile.Time[op].Seconds() * 1000 / float64(max(len(r.StepTimes), 1))
	}
	type delta struct {
		op   string
		a, b float64
	}
	var ds []delta
	for _, p := range []*Result{exact, sampled} {
		for op := range p.Profile.Time {
			if !slices.ContainsFunc(ds, func(d delta) bool { return d.op == op }) {
				ds = append(ds, delta{op, perStep(exact, op), perStep(sampled, op)})
			}
		}
	}
	sort.Slice(ds, func(i, j int) bool { return math.Abs(ds[i].b-ds[i].a) > math.Abs(ds[j].b-ds[j].a) })
	fmt.Fprintln(w, "where the time changed (ms/step, exact → sampled):")
	for i, d := range ds {
		if i == top {
			break
		}
		fmt.Fprintf(w, "  %-34s %8.1f → %8.1f  (%+.1f)\n", d.op, d.a, d.b, d.b-d.a)
	}
}
