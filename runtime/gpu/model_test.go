package gpu

import (
	"path/filepath"
	"testing"

	"crsc/compiler/ir"
	"crsc/compiler/memplan"
	"crsc/compiler/onnx"
	"crsc/compiler/passes"
	"crsc/internal/npy"
	"crsc/internal/testutil"
	"crsc/runtime"
)

// tinyModel loads a tiny reference export (testdata/onnx) with the shapes
// of its set0 inputs; train adds the backward pass (a VJP loss against the
// reference cotangent), so the graph runs the training kernels as well,
// with the given stashes.
func tinyModel(t *testing.T, model string, train bool, stash passes.StashSpec) (*ir.Graph, map[string]*ir.Tensor) {
	t.Helper()
	dir := filepath.Join("..", "..", "testdata", "onnx")
	g, err := onnx.Load(filepath.Join(dir, model+".op13.eval.onnx"))
	if err != nil {
		t.Skipf("no tiny model: %v", err)
	}
	set := filepath.Join(dir, "ref", model, "set0")
	inputs := testutil.LoadWithInputs(t, g, set)
	if train {
		spec := passes.TrainingSpec{Loss: passes.LossSpec{Kind: passes.LossVJP, Output: "logits"}, Stash: stash}
		if _, err := passes.Compile(g, spec); err != nil {
			t.Fatal(err)
		}
		cot, err := npy.ReadFile(filepath.Join(set, "cotangent_logits.npy"))
		if err != nil {
			t.Fatal(err)
		}
		inputs["logits_cotangent"] = cot
	}
	return g, inputs
}

// TestTinyModels runs the tiny BERT and T5 exports, forward and training
// step (float32 and 8-bit stashes), through runtime.Execute on the
// emulated GPU, with and without a memory plan, and compares every output
// with the CPU backend.
func TestTinyModels(t *testing.T) {
	if testing.Short() {
		t.Skip("whole models on the emulator")
	}
	dev := device(t)
	for _, tc := range []struct {
		model string
		train bool
		stash passes.StashSpec
	}{{"bert_tiny_cls", false, passes.StashSpec{}}, {"bert_tiny_cls", true, passes.StashSpec{}},
		{"bert_tiny_cls", true, passes.StashSpec{DType: passes.StashInt8}}, {"t5_tiny", false, passes.StashSpec{}}} {
		name := tc.model
		if tc.train {
			name += "/train"
		}
		if tc.stash.Enabled() {
			name += "/stash-" + tc.stash.DType
		}
		t.Run(name, func(t *testing.T) {
			g, inputs := tinyModel(t, tc.model, tc.train, tc.stash)
			opt := runtime.Options{Seed: 7}
			want, err := runtime.Run(g, inputs, opt)
			if err != nil {
				t.Fatal(err)
			}
			plan, err := memplan.Plan(g, memplan.Options{ForwardEnd: memplan.ForwardEnd(g)})
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range []*memplan.MemPlan{nil, plan} {
				b, err := New(dev, Options{Seed: opt.Seed, Plan: p})
				if err != nil {
					t.Fatal(err)
				}
				var db runtime.DeviceBackend = b
				if p != nil {
					db = &placed{Backend: b, plan: p, t: t}
				}
				got, err := runtime.Execute(g, db, inputs, opt)
				if err != nil {
					b.Close()
					t.Fatal(err)
				}
				sameResults(t, got, want, 1e-4)
				st := b.Stats()
				t.Logf("%d nodes, plan %v: fallbacks %v, host ops %v, misplaced %v, pool high water %d, arena %d",
					len(g.Nodes), p != nil, st.Fallbacks, st.HostOps, st.Misplaced, st.PoolHighWater, st.ArenaBytes)
				b.Close()
			}
		})
	}
}
