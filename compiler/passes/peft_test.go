package passes_test

import (
	"encoding/json"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"crsc/compiler/ir"
	"crsc/compiler/passes"
	"crsc/internal/testutil"
	"crsc/runtime"
	"crsc/training/checkpoint"
)

// TestPEFTAdapterExport: the adapters of a LoRA run written in PEFT's
// layout read back to the same merged weights crsc exports:
// Wᵀ + B_peft·A_peft·α/r = (W + A·B·α/r)ᵀ for every adapted layer, a
// non-square one (intermediate.dense, 32 → 64) included.
func TestPEFTAdapterExport(t *testing.T) {
	g := loadExport(t, "../../testdata/onnx/bert_tiny_cls.op13.eval.onnx")
	shapes := map[string]ir.Shape{"input_ids": ir.StaticShape(2, 8)}
	testutil.LoadShapes(t, g, shapes)
	const rank, alpha = 4, 8.0
	ads, err := passes.AddLoRAAdapters(g, passes.LoRASpec{Rank: rank, Alpha: alpha, Targets: `(query|value|intermediate\.dense)$`, ModuleNames: true, Seed: 2})
	if err != nil {
		t.Fatal(err)
	}
	// Trained-looking adapters: B random (it starts at 0).
	r := rand.New(rand.NewSource(5))
	values := map[string]*ir.Tensor{}
	for _, a := range ads {
		for _, name := range []string{a.A, a.B} {
			v := g.Value(name).Init
			for i := range v.F32 {
				v.F32[i] = float32(r.NormFloat64())
			}
			values[name] = v
		}
	}
	head := ir.NewTensor(ir.Float32, 2, 32)
	dir := t.TempDir()
	written, err := passes.WritePEFTAdapter(dir, ads, values, passes.PEFTSpec{
		Rank: rank, Alpha: alpha, BaseModel: "bert_tiny_cls", TaskType: "SEQ_CLS", Bias: "all",
		Extra: map[string]*ir.Tensor{"classifier.weight": head}, ModulesToSave: []string{"classifier"},
		Modules: passes.HFModuleNames(g).Modules(),
	})
	if err != nil {
		t.Fatal(err)
	}

	var conf map[string]any
	js, err := os.ReadFile(filepath.Join(dir, passes.PEFTConfigFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(js, &conf); err != nil {
		t.Fatal(err)
	}
	wantTargets := []string{"bert.encoder.layer.0.intermediate.dense", "bert.encoder.layer.1.intermediate.dense", "query", "value"}
	if !slices.Equal(written.TargetModules, wantTargets) {
		t.Errorf("target_modules %v, want %v", written.TargetModules, wantTargets)
	}
	for k, want := range map[string]any{"peft_type": "LORA", "r": 4.0, "lora_alpha": 8.0, "base_model_name_or_path": "bert_tiny_cls", "task_type": "SEQ_CLS", "bias": "all"} {
		if conf[k] != want {
			t.Errorf("adapter_config.json %s = %v, want %v", k, conf[k], want)
		}
	}

	tensors, _, err := checkpoint.Load(filepath.Join(dir, passes.PEFTWeightsFile))
	if err != nil {
		t.Fatal(err)
	}
	if len(tensors) != 2*len(ads)+1 || tensors["base_model.model.classifier.weight"] == nil {
		t.Errorf("%d tensors, want %d adapters' A and B and the classifier", len(tensors), len(ads))
	}
	// The model with the PEFT merge written into its weights computes what
	// the graph with adapters does.
	merged := loadExport(t, "../../testdata/onnx/bert_tiny_cls.op13.eval.onnx")
	testutil.LoadShapes(t, merged, shapes)
	for _, a := range ads {
		w := g.Value(a.Base).Init // crsc's MatMul weight [in, out] = HF's weightᵀ // crsc's MatMul weight [in, out] = HF's weightᵀ
		in, out := w.Shape[0], w.Shape[1]
		pa := tensors["base_model.model."+a.Module+".lora_A.weight"]
		pb := tensors["base_model.model."+a.Module+".lora_B.weight"]
		if pa == nil || pb == nil || !slices.Equal(pa.Shape, []int{rank, in}) || !slices.Equal(pb.Shape, []int{out, rank}) {
			t.Fatalf("%s: PEFT A %v, B %v; want [%d %d], [%d %d]", a.Module, pa, pb, rank, in, out, rank)
		}
		crscA, crscB := values[a.A], values[a.B]
		var worst float64
		for o := 0; o < out; o++ {
			for i := 0; i < in; i++ {
				var peft, crsc float64
				for k := 0; k < rank; k++ {
					peft += float64(pb.F32[o*rank+k]) * float64(pa.F32[k*in+i])
					crsc += float64(crscA.F32[i*rank+k]) * float64(crscB.F32[k*out+o])
				}
				base := float64(w.F32[i*out+o])
				worst = math.Max(worst, math.Abs((base+peft*alpha/rank)-(base+crsc*alpha/rank)))
			}
		}
		if worst > 1e-5 {
			t.Errorf("%s: PEFT merge differs from crsc's by %g", a.Module, worst)
		}
		m := w.Clone()
		for o := 0; o < out; o++ {
			for i := 0; i < in; i++ {
				var peft float64
				for k := 0; k < rank; k++ {
					peft += float64(pb.F32[o*rank+k]) * float64(pa.F32[k*in+i])
				}
				m.F32[i*out+o] += float32(peft * alpha / rank)
			}
		}
		merged.Value(a.Base).Init = m
	}
	feeds := encoderFeeds(g, 2, 8, 120, 4)
	want := testutil.Run(t, g, feeds, runtime.Options{})
	got := testutil.Run(t, merged, feeds, runtime.Options{})
	if d := maxAbsDiff(want["logits"].F32, got["logits"].F32); d > 1e-4 {
		t.Errorf("logits with the PEFT merge differ from the adapted graph's by %g", d)
	}
}

// TestPEFTNeedsModules: an adapter on a layer without a module path is an
// error naming it.
func TestPEFTNeedsModules(t *testing.T) {
	_, err := passes.PEFTTensors([]passes.LoRAAdapter{{Node: "MatMul_3", A: "w.lora_A", B: "w.lora_B"}}, nil)
	if err == nil || err.Error() != "adapter w.lora_A: the export's names give layer MatMul_3 no Hugging Face module, so PEFT cannot name it" {
		t.Errorf("err = %v", err)
	}
}

// TestPEFTDistilBERTDefaults: --lora 4 on the DistilBERT export with module
// names gives PEFT's keys and the short target_modules.
func TestPEFTDistilBERTDefaults(t *testing.T) {
	g := loadExport(t, distilbertModel)
	ads, err := passes.AddLoRAAdapters(g, passes.LoRASpec{Rank: 4, ModuleNames: true})
	if err != nil {
		t.Fatal(err)
	}
	values := map[string]*ir.Tensor{}
	for _, a := range ads {
		values[a.A], values[a.B] = g.Value(a.A).Init, g.Value(a.B).Init
	}
	dir := t.TempDir()
	cfg, err := passes.WritePEFTAdapter(dir, ads, values, passes.PEFTSpec{Rank: 4, TaskType: "SEQ_CLS", Modules: passes.HFModuleNames(g).Modules()})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cfg.TargetModules, []string{"k_lin", "q_lin", "v_lin"}) || cfg.LoraAlpha != 4 || cfg.Bias != "none" {
		t.Errorf("config %+v", cfg)
	}
	tensors, _, err := checkpoint.Load(filepath.Join(dir, passes.PEFTWeightsFile))
	if err != nil {
		t.Fatal(err)
	}
	a := tensors["base_model.model.distilbert.transformer.layer.0.attention.q_lin.lora_A.weight"]
	b := tensors["base_model.model.distilbert.transformer.layer.1.attention.v_lin.lora_B.weight"]
	if len(tensors) != 12 || a == nil || b == nil || !slices.Equal(a.Shape, []int{4, 2}) || !slices.Equal(b.Shape, []int{2, 4}) {
		t.Errorf("%d tensors; q_lin A %v, v_lin B %v", len(tensors), a, b)
	}
}
