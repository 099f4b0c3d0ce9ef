package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"crsc/compiler/ir"
	"crsc/compiler/onnx"
	"crsc/internal/npy"
	"crsc/internal/testenv"
	"crsc/runtime/cuda"
)

const tinyBert = "../../testdata/onnx/bert_tiny_cls.op13.eval.onnx"
const refSet = "../../testdata/onnx/ref/bert_tiny_cls/set0/"

func crsc(args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = run(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestRunWritesOutputs(t *testing.T) {
	dir := t.TempDir()
	code, _, stderr := crsc("run", tinyBert,
		"--input", "input_ids="+refSet+"input_input_ids.npy",
		"--input", "attention_mask="+refSet+"input_attention_mask.npy",
		"--input", "token_type_ids="+refSet+"input_token_type_ids.npy",
		"--out", dir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	got, err := npy.ReadFile(filepath.Join(dir, "logits.npy"))
	if err != nil {
		t.Fatal(err)
	}
	want, _ := npy.ReadFile(refSet + "output_logits.npy")
	for i := range want.F32 {
		if d := got.F32[i] - want.F32[i]; d > 1e-4 || d < -1e-4 {
			t.Fatalf("logits[%d] = %g, want %g", i, got.F32[i], want.F32[i])
		}
	}
}

func TestInspectFormats(t *testing.T) {
	for _, format := range []string{"text", "json", "dot"} {
		code, out, stderr := crsc("inspect", tinyBert, "--shape", "input_ids=2x7", "--format", format)
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", format, code, stderr)
		}
		want := map[string]string{"text": "i64[2,7]", "json": `"parameters": 24226`, "dot": "digraph"}[format]
		if !strings.Contains(out, want) {
			t.Errorf("%s output lacks %q", format, want)
		}
	}
}

// writeModel saves a graph built by fn as an .onnx file.
func writeModel(t *testing.T, fn func(g *ir.Graph)) string {
	g := ir.NewGraph("bad", 13)
	fn(g)
	path := filepath.Join(t.TempDir(), "bad.onnx")
	if err := onnx.Save(g, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestBadInput: every kind of bad input is one line on stderr, a non-zero
// exit, and no panic trace.
func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.onnx")
	os.WriteFile(empty, nil, 0o644)
	good, _ := os.ReadFile(tinyBert)
	truncated := filepath.Join(dir, "truncated.onnx")
	os.WriteFile(truncated, good[:len(good)/2], 0o644)
	random := filepath.Join(dir, "random.onnx")
	os.WriteFile(random, bytes.Repeat([]byte{0xde, 0xad, 0xbe, 0xef, 0x42}, 300), 0o644)
	unsupported := writeModel(t, func(g *ir.Graph) {
		x := g.AddInput("x", ir.Float32, ir.StaticShape(2))
		a := g.AddNode("FancyOp", "fancy_1", []*ir.Value{x}, 1, nil)
		b := g.AddNode("FancyOp", "fancy_2", []*ir.Value{a.Outputs[0]}, 1, nil)
		c := g.AddNode("Attention", "attn", []*ir.Value{b.Outputs[0]}, 1, nil)
		c.Domain = "com.microsoft"
		d := g.AddNode("Loop", "loop", []*ir.Value{c.Outputs[0]}, 1, nil)
		for _, n := range g.Nodes {
			n.Outputs[0].SetType(ir.Float32, ir.StaticShape(2))
		}
		g.Outputs = []*ir.Value{d.Outputs[0]}
	})
	badShape := filepath.Join(dir, "ids.npy")
	npy.WriteFile(badShape, ir.FromInt64([]int{14}, make([]int64, 14)))
	floats := filepath.Join(dir, "floats.npy")
	npy.WriteFile(floats, ir.FromFloat32([]int{2, 7}, make([]float32, 14)))
	ids := refSet + "input_input_ids.npy"
	mask := refSet + "input_attention_mask.npy"
	types := refSet + "input_token_type_ids.npy"

	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"missing file", []string{"inspect", filepath.Join(dir, "nope.onnx")}, []string{"nope.onnx", "no such file"}},
		{"empty", []string{"inspect", empty}, []string{"empty.onnx", "empty file"}},
		{"truncated", []string{"inspect", truncated}, []string{"truncated.onnx", "not an ONNX model"}},
		{"random bytes", []string{"inspect", random}, []string{"random.onnx", "not an ONNX model"}},
		{"unsupported ops", []string{"inspect", unsupported}, []string{"unsupported ops", "FancyOp (nodes fancy_1, fancy_2)", "com.microsoft.Attention (nodes attn)", "Loop (nodes loop)"}},
		{"wrong shape", []string{"run", tinyBert, "--input", "input_ids=" + badShape, "--input", "attention_mask=" + mask, "--input", "token_type_ids=" + types, "--out", dir}, []string{`input "input_ids"`, "shape [14]"}},
		{"wrong dtype", []string{"run", tinyBert, "--input", "input_ids=" + floats, "--input", "attention_mask=" + mask, "--input", "token_type_ids=" + types, "--out", dir}, []string{`input "input_ids"`, "f32"}},
		{"missing input", []string{"run", tinyBert, "--input", "input_ids=" + ids, "--out", dir}, []string{`"attention_mask"`, "missing"}},
		{"missing npy", []string{"run", tinyBert, "--input", "input_ids=" + filepath.Join(dir, "x.npy"), "--out", dir}, []string{"x.npy"}},
		{"bad shape flag", []string{"inspect", tinyBert, "--shape", "input_ids"}, []string{"NAME=DIMS"}},
		{"shape of unknown input", []string{"inspect", tinyBert, "--shape", "pixels=1x3"}, []string{`no input "pixels"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := crsc(tc.args...)
			if code == 0 {
				t.Fatal("exit status 0")
			}
			if strings.Count(strings.TrimRight(stderr, "\n"), "\n") != 0 || strings.Contains(stderr, "goroutine") {
				t.Fatalf("want one line on stderr, got:\n%s", stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr %q lacks %q", stderr, w)
				}
			}
		})
	}
}

// TestGradOnSharedExports runs `crsc grad` on both third-party exports and
// checks a gradient file is written per trained parameter.
func TestGradOnSharedExports(t *testing.T) {
	models := "../../../shared/models/"
	testenv.NeedFile(t, models)
	dir := t.TempDir()
	ids := filepath.Join(dir, "ids.npy")
	npy.WriteFile(ids, ir.FromInt64([]int{2, 5}, []int64{5, 6, 7, 8, 9, 10, 11, 12, 0, 0}))
	mask := filepath.Join(dir, "mask.npy")
	npy.WriteFile(mask, ir.FromInt64([]int{2, 5}, []int64{1, 1, 1, 1, 1, 1, 1, 1, 0, 0}))
	cot50 := filepath.Join(dir, "cot50.npy")
	npy.WriteFile(cot50, ir.FromFloat32([]int{2, 50}, make([]float32, 100)))
	cot2 := filepath.Join(dir, "cot2.npy")
	npy.WriteFile(cot2, ir.FromFloat32([]int{2, 2}, []float32{1, -1, 0.5, 2}))
	for _, tc := range []struct {
		model string
		args  []string
	}{
		{"hf_bert_tiny_tribuo.onnx", []string{"--input", "input_ids=" + ids, "--input", "attention_mask=" + mask, "--input", "token_type_ids=" + mask, "--cotangent", "output_1=" + cot50}},
		{"hf_distilbert_tiny_seqcls.onnx", []string{"--input", "input_ids=" + ids, "--input", "attention_mask=" + mask, "--cotangent", "logits=" + cot2}},
	} {
		out := filepath.Join(dir, tc.model)
		code, stdout, stderr := crsc(append([]string{"grad", models + tc.model, "--out", out}, tc.args...)...)
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", tc.model, code, stderr)
		}
		files, _ := filepath.Glob(filepath.Join(out, "*.npy"))
		if len(files) < 20 || !strings.Contains(stdout, "wrote") {
			t.Fatalf("%s: %d gradient files; stdout %q", tc.model, len(files), stdout)
		}
	}
}

// TestPlanJSON: `crsc plan --json` carries the documented keys, and with
// --budget the largest batch, which grows when WTA-CRS and LoRA shrink the
// step.
func TestPlanJSON(t *testing.T) {
	get := func(args ...string) map[string]float64 {
		code, out, stderr := crsc(append([]string{"plan", "--arch", "bert-base", "--seq", "64", "--json"}, args...)...)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		m := map[string]float64{}
		if err := json.Unmarshal([]byte(out), &m); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		return m
	}
	full := get("--batch", "4", "--no-memory-rewrites")
	for _, key := range []string{"params_bytes", "grads_bytes", "optimizer_bytes", "saved_activation_bytes", "planned_peak_bytes"} {
		if full[key] <= 0 {
			t.Errorf("%s = %v", key, full[key])
		}
	}
	lean := get("--batch", "4", "--lora", "8", "--keep", "0.1", "--attention")
	if lean["planned_peak_bytes"] >= full["planned_peak_bytes"] {
		t.Errorf("LoRA+WTA peak %v not below full %v", lean["planned_peak_bytes"], full["planned_peak_bytes"])
	}
	a := get("--budget", "3GiB", "--no-memory-rewrites")
	b := get("--budget", "3GiB", "--lora", "8", "--keep", "0.1", "--attention")
	if a["max_batch"] < 1 || b["max_batch"] <= a["max_batch"] {
		t.Errorf("max batch full %v, LoRA+WTA %v", a["max_batch"], b["max_batch"])
	}
	if code, _, stderr := crsc("plan", "--arch", "gpt-9", "--json"); code == 0 || !strings.Contains(stderr, "t5-base") {
		t.Errorf("unknown arch: exit %d, %q", code, stderr)
	}
}

// TestNoGPU: without a GPU, every command asked for one says so in one
// line and exits non-zero; selftest also prints its tally.
func TestNoGPU(t *testing.T) {
	if d, err := cuda.Open(0); err == nil {
		d.Close()
		t.Skip("this machine has a GPU")
	}
	dir := t.TempDir()
	for _, args := range [][]string{
		{"run", tinyBert, "--device", "cuda", "--out", dir},
		{"train", "--device", "cuda"},
		{"bench", "--device", "cuda", "--arch", "bert-tiny"},
		{"selftest", "--device", "cuda"},
	} {
		code, stdout, stderr := crsc(args...)
		if code == 0 || strings.Count(strings.TrimRight(stderr, "\n"), "\n") != 0 || strings.Contains(stderr, "goroutine") {
			t.Errorf("%v: exit %d, stderr:\n%s", args, code, stderr)
		}
		if args[0] == "selftest" {
			if !strings.Contains(stdout, "FAIL device: --device cuda: libcuda.so.1 not found") || !strings.Contains(stdout, "0 passed, 1 failed") {
				t.Errorf("selftest stdout:\n%s", stdout)
			}
		} else if !strings.Contains(stderr, "--device cuda: libcuda.so.1 not found") {
			t.Errorf("%v: stderr %q", args, stderr)
		}
	}
}
