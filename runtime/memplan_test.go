package runtime_test

import (
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"crsc/compiler/ir"
	"crsc/compiler/memplan"
	"crsc/compiler/models"
	"crsc/compiler/onnx"
	"crsc/compiler/passes"
	"crsc/internal/npy"
	"crsc/internal/testutil"
	"crsc/runtime"
)

// trainingStep is a training graph with static shapes and inputs to run it.
type trainingStep struct {
	g      *ir.Graph
	inputs map[string]*ir.Tensor
}

// tinyTrainingStep builds the training graph of a tiny reference export as
// passes/model_grad_test.go does, with the shapes of its set0 inputs.
func tinyTrainingStep(t testing.TB, model string, spec passes.TrainingSpec) trainingStep {
	loss := spec.Loss
	t.Helper()
	dir := filepath.Join("..", "testdata", "onnx")
	g, err := onnx.Load(filepath.Join(dir, model+".op13.eval.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	set := filepath.Join(dir, "ref", model, "set0")
	inputs := testutil.LoadWithInputs(t, g, set)
	if _, err := passes.Compile(g, spec); err != nil {
		t.Fatal(err)
	}
	if loss.Kind == passes.LossVJP {
		cot, err := npy.ReadFile(filepath.Join(set, "cotangent_logits.npy"))
		if err != nil {
			t.Fatal(err)
		}
		inputs["logits_cotangent"] = cot
	}
	return trainingStep{g, inputs}
}

// bertTrainingStep builds a cross-entropy training step of a BERT model at
// batch × seq, as bench/bench.go does.
func bertTrainingStep(t testing.TB, arch models.BertConfig, batch, seq int) trainingStep {
	t.Helper()
	g, err := models.BuildBert(arch, 1)
	if err != nil {
		t.Fatal(err)
	}
	shapes := map[string]ir.Shape{"input_ids": ir.StaticShape(batch, seq)}
	if err := passes.Run(g, passes.Load, &passes.Config{Shapes: shapes, Supports: runtime.CPU(runtime.Options{}).Supports}); err != nil {
		t.Fatal(err)
	}
	if _, err := passes.Compile(g, passes.TrainingSpec{Loss: passes.LossSpec{Kind: passes.LossCrossEntropy, Output: "logits"}}); err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewSource(1))
	n := batch * seq
	ids, mask, types := make([]int64, n), make([]int64, n), make([]int64, n)
	for i := range ids {
		ids[i], mask[i] = int64(r.Intn(arch.Vocab)), 1
	}
	labels := make([]int64, batch)
	for i := range labels {
		labels[i] = int64(i % arch.Labels)
	}
	shape := []int{batch, seq}
	return trainingStep{g, map[string]*ir.Tensor{
		"input_ids": ir.FromInt64(shape, ids), "attention_mask": ir.FromInt64(shape, mask),
		"token_type_ids": ir.FromInt64(shape, types), "labels": ir.FromInt64([]int{batch}, labels),
	}}
}

// checkPlannedRun plans s, runs it with and without the plan, and checks
// that every output is bit-identical and that the memory the planned run
// measured is within 5% of the plan (and not below its lower bound).
func checkPlannedRun(t *testing.T, s trainingStep) *memplan.MemPlan {
	t.Helper()
	plan, err := memplan.Plan(s.g, memplan.Options{ForwardEnd: memplan.ForwardEnd(s.g)})
	if err != nil {
		t.Fatal(err)
	}
	opts := runtime.Options{Seed: 7}
	if len(plan.Saved) > 0 {
		// Also return a forward activation that is not a graph output: the
		// planned run must copy it out before its arena bytes are reused.
		opts.Keep = []string{plan.Saved[len(plan.Saved)-1].Value}
	}
	start := time.Now()
	want, err := runtime.Run(s.g, s.inputs, opts)
	if err != nil {
		t.Fatal(err)
	}
	heapTime := time.Since(start)
	var stats runtime.Stats
	opts.Plan, opts.Stats = plan, &stats
	start = time.Now()
	got, err := runtime.Run(s.g, s.inputs, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d nodes; heap run %v, planned run %v", len(s.g.Nodes), heapTime.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
	for name, w := range want {
		if !bitEqual(got[name], w) {
			t.Errorf("output %s differs with the memory plan", name)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d outputs with the plan, %d without", len(got), len(want))
	}
	t.Logf("planned %s (lower bound %s, fragmentation %.3f); measured %s = arena high water %s + workspace %s + unplanned %s; saved for backward %s in %d tensors",
		memplan.FormatBytes(plan.PlannedPeak), memplan.FormatBytes(plan.LowerBound), plan.Fragmentation(),
		memplan.FormatBytes(stats.MeasuredPeak), memplan.FormatBytes(stats.ArenaHighWater),
		memplan.FormatBytes(stats.WorkspacePeak), memplan.FormatBytes(stats.UnplannedPeak),
		memplan.FormatBytes(plan.SavedActivationBytes), len(plan.Saved))
	if len(stats.Unplanned) > 0 {
		t.Logf("%d nodes with unplanned outputs: %v", len(stats.Unplanned), stats.Unplanned[:min(len(stats.Unplanned), 10)])
	}
	if stats.ArenaBytes != plan.PlannedPeak {
		t.Errorf("Stats.ArenaBytes %d, plan %d", stats.ArenaBytes, plan.PlannedPeak)
	}
	if ratio := float64(stats.MeasuredPeak) / float64(plan.PlannedPeak); math.Abs(ratio-1) > 0.05 {
		t.Errorf("measured peak %d is %.3f× the planned %d", stats.MeasuredPeak, ratio, plan.PlannedPeak)
	}
	if stats.MeasuredPeak < plan.LowerBound {
		t.Errorf("measured peak %d below the lower bound %d", stats.MeasuredPeak, plan.LowerBound)
	}
	if stats.PeakLiveBytes != plan.LowerBound {
		// The executor frees at the same points the plan assumes.
		t.Logf("note: executor live peak %d, plan lower bound %d", stats.PeakLiveBytes, plan.LowerBound)
	}
	return plan
}

func bitEqual(a, b *ir.Tensor) bool {
	if a == nil || b == nil || a.DType != b.DType || len(a.Shape) != len(b.Shape) {
		return false
	}
	for i := range a.Shape {
		if a.Shape[i] != b.Shape[i] {
			return false
		}
	}
	for i := range a.F32 {
		if math.Float32bits(a.F32[i]) != math.Float32bits(b.F32[i]) {
			return false
		}
	}
	for i := range a.F64 {
		if math.Float64bits(a.F64[i]) != math.Float64bits(b.F64[i]) {
			return false
		}
	}
	return len(a.F32) == len(b.F32) && len(a.F64) == len(b.F64) &&
		slices.Equal(a.I64, b.I64) && slices.Equal(a.I32, b.I32) && slices.Equal(a.Bool, b.Bool)
}

// TestPlannedTrainingTiny: the tiny BERT and T5 training steps give
// bit-identical gradients with and without the memory plan, and measure
// within 5% of the planned peak.
func TestPlannedTrainingTiny(t *testing.T) {
	// The sampled variants add WTA-CRS on every linear layer and the
	// attention products, and the memory rewrites.
	sampled := passes.SamplingSpec{Estimator: "wta", Keep: 0.3, Layers: "all", Attention: true}
	bertLoss := passes.LossSpec{Kind: passes.LossVJP, Output: "logits"}
	for _, tc := range []struct {
		name, model string
		spec        passes.TrainingSpec
	}{
		{"bert_tiny_cls", "bert_tiny_cls", passes.TrainingSpec{Loss: bertLoss}},
		{"t5_tiny", "t5_tiny", passes.TrainingSpec{}},
		{"bert_tiny_cls/wta0.3", "bert_tiny_cls", passes.TrainingSpec{Loss: bertLoss, Memory: true, Sampling: sampled}},
		{"t5_tiny/wta0.3", "t5_tiny", passes.TrainingSpec{Memory: true, Sampling: sampled}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			plan := checkPlannedRun(t, tinyTrainingStep(t, tc.model, tc.spec))
			if testing.Verbose() {
				var b strings.Builder
				plan.Report(&b, 5)
				t.Log("\n" + b.String())
			}
			if plan.SavedActivationBytes == 0 {
				t.Error("nothing saved for backward in a training graph")
			}
		})
	}
}

// TestPlannedTrainingBertBase: the same for a BERT-base-shaped step at
// batch 2 × seq 32 (a few seconds: the model has 110M parameters).
func TestPlannedTrainingBertBase(t *testing.T) {
	checkPlannedRun(t, bertTrainingStep(t, models.BertBase, 2, 32))
}

// BenchmarkTrainStepBertBase times a BERT-base training step at batch 8 ×
// seq 128 on the heap, with a plan and a fresh arena per step, and with a
// plan reusing one arena. Set CRSC_BENCH_BERT=1 to run it (it needs a few
// GiB and several seconds per step).
func BenchmarkTrainStepBertBase(b *testing.B) {
	if os.Getenv("CRSC_BENCH_BERT") == "" {
		b.Skip("set CRSC_BENCH_BERT=1 to time BERT-base training steps")
	}
	s := bertTrainingStep(b, models.BertBase, 8, 128)
	plan, err := memplan.Plan(s.g, memplan.Options{ForwardEnd: memplan.ForwardEnd(s.g)})
	if err != nil {
		b.Fatal(err)
	}
	for _, mode := range []string{"heap", "plan", "plan+arena"} {
		b.Run(mode, func(b *testing.B) {
			opts := runtime.Options{}
			switch mode {
			case "plan":
				opts.Plan = plan
			case "plan+arena":
				opts.Plan, opts.Arena = plan, &runtime.Arena{}
			}
			for i := 0; i < b.N; i++ {
				opts.Step = uint64(i)
				if _, err := runtime.Run(s.g, s.inputs, opts); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestPlanReportBertBase prints the plan of a BERT-base training step at
// batch 8 × seq 128 (planning only; set CRSC_BENCH_BERT=1 and -v).
func TestPlanReportBertBase(t *testing.T) {
	if os.Getenv("CRSC_BENCH_BERT") == "" {
		t.Skip("set CRSC_BENCH_BERT=1 to plan a BERT-base step at 8 × 128")
	}
	s := bertTrainingStep(t, models.BertBase, 8, 128)
	plan, err := memplan.Plan(s.g, memplan.Options{ForwardEnd: memplan.ForwardEnd(s.g)})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	plan.Report(&b, 15)
	t.Log("\n" + b.String())
}
