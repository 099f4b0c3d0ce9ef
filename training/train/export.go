package train

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"

	"crsc/compiler/ir"
	"crsc/compiler/onnx"
	"crsc/compiler/passes"
	"crsc/training/checkpoint"
)

// Files an export writes besides ModelFile: Optimum's two-file layout for
// a linked seq2seq model, PEFT's adapter files for a LoRA run.
const (
	EncoderModelFile = encoderFile
	DecoderModelFile = decoderFile
)

// export writes the fine-tuned model into the run directory: model.onnx
// (a linked seq2seq model: encoder_model.onnx and decoder_model.onnx, the
// layout it came in), the LoRA adapters merged in, and for a LoRA run the
// adapters again in PEFT's format (adapter_model.safetensors,
// adapter_config.json). The best checkpoint's parameters when there is
// one.
func (t *trainer) export() error {
	if t.cfg.NoExport {
		return nil
	}
	params := t.params
	bestPath := filepath.Join(t.cfg.Out, BestFile)
	if _, err := os.Stat(bestPath); err == nil {
		best, _, err := checkpoint.Load(bestPath)
		if err != nil {
			return fmt.Errorf("export: the best parameters: %v", err)
		}
		params = best
	}
	g, err := t.m.exportGraph(params, t.adapters, t.loraScale())
	if err != nil {
		return err
	}
	if s := t.m.seq2seq; s != nil {
		enc, dec, err := passes.SplitSeq2Seq(g, s)
		if err != nil {
			return fmt.Errorf("export: %v", err)
		}
		if err := onnx.Save(enc, filepath.Join(t.cfg.Out, EncoderModelFile)); err != nil {
			return err
		}
		if err := onnx.Save(dec, filepath.Join(t.cfg.Out, DecoderModelFile)); err != nil {
			return err
		}
	} else if err := onnx.Save(g, filepath.Join(t.cfg.Out, ModelFile)); err != nil {
		return err
	}
	if len(t.adapters) > 0 {
		return t.writePEFT(params)
	}
	return nil
}

// loraScale is LoRA's α/r.
func (t *trainer) loraScale() float64 {
	l := t.cfg.Spec.LoRA
	if l.Rank > 0 && l.Alpha != 0 {
		return l.Alpha / float64(l.Rank)
	}
	return 1
}

// exportedFiles names what export writes, for the run's last line.
func (t *trainer) exportedFiles() []string {
	files := []string{ModelFile}
	if t.m.seq2seq != nil {
		files = []string{EncoderModelFile, DecoderModelFile}
	}
	if len(t.adapters) > 0 && t.peftWritable() == nil {
		files = append(files, passes.PEFTWeightsFile, passes.PEFTConfigFile)
	}
	return files
}

// peftWritable says why PEFT's format cannot name the adapters (nil: it
// can): every adapted layer needs a Hugging Face module path.
func (t *trainer) peftWritable() error {
	for _, a := range t.adapters {
		if a.Module == "" {
			return fmt.Errorf("layer %s has no Hugging Face module name", a.Node)
		}
	}
	return nil
}

// writePEFT writes the adapters (and the other trained parameters: BitFit
// biases, the classifier) as PEFT's adapter_model.safetensors and
// adapter_config.json. A model whose names give no Hugging Face modules
// gets the merged model.onnx only, and a note saying why.
func (t *trainer) writePEFT(params map[string]*ir.Tensor) error {
	if err := t.peftWritable(); err != nil {
		if t.cfg.Progress != nil {
			fmt.Fprintf(t.cfg.Progress, "PEFT adapter files not written: %v (model.onnx has the adapters merged)\n", err)
		}
		return nil
	}
	l := t.cfg.Spec.LoRA
	spec := passes.PEFTSpec{Rank: l.Rank, Alpha: l.Alpha, BaseModel: t.cfg.Model, TaskType: "SEQ_CLS", Bias: "none", Extra: map[string]*ir.Tensor{}}
	if t.m.t5 {
		spec.TaskType = "SEQ_2_SEQ_LM"
	}
	hf := passes.HFModuleNames(t.m.raw)
	spec.Modules = hf.Modules()
	adapter := map[string]bool{}
	for _, a := range t.adapters {
		adapter[a.A], adapter[a.B] = true, true
	}
	saved := map[string]bool{}
	for name, p := range params {
		if adapter[name] {
			continue
		}
		hfName := name
		if n, ok := hf.Params[name]; ok {
			hfName = n
		}
		spec.Extra[hfName] = p
		if m := classifierModule.FindString(hfName); m != "" {
			saved[m] = true
		} else if l.BitFit {
			spec.Bias = "all"
		}
	}
	for m := range saved {
		spec.ModulesToSave = append(spec.ModulesToSave, m)
	}
	sort.Strings(spec.ModulesToSave)
	_, err := passes.WritePEFTAdapter(t.cfg.Out, t.adapters, params, spec)
	return err
}

// classifierModule finds the classification head's module in a Hugging
// Face parameter name (PEFT saves it whole: modules_to_save).
var classifierModule = regexp.MustCompile(`^(pre_)?classifier\b`)

// exportGraph is the forward graph with params' values written in and
// LoRA adapters merged into their base weight: W + A·B·α/r. It prefers
// the model as imported (dynamic shapes) and falls back to the loaded one
// when a parameter's name did not survive loading. An added head's
// Dropout is switched to inference.
func (m *model) exportGraph(params map[string]*ir.Tensor, adapters []passes.LoRAAdapter, loraScale float64) (*ir.Graph, error) {
	values := map[string]*ir.Tensor{}
	for name, t := range params {
		values[name] = t
	}
	for _, a := range adapters {
		ta, tb := params[a.A], params[a.B]
		w := m.forward.Value(a.Base)
		if ta == nil || tb == nil || w == nil || w.Init == nil {
			return nil, fmt.Errorf("export: adapter %s of %s has no trained values or base weight", a.A, a.Base)
		}
		values[a.Base] = mergeLoRA(w.Init, ta, tb, loraScale)
		delete(values, a.A)
		delete(values, a.B)
	}
	for _, base := range []*ir.Graph{m.raw, m.forward} {
		g := base.Clone()
		ok := true
		for name, t := range values {
			v := g.Value(name)
			if v == nil || v.Init == nil || fmt.Sprint(v.Init.Shape) != fmt.Sprint(t.Shape) {
				ok = false
				break
			}
			v.Init = t // written out as it is: no copy of the whole model
		}
		if !ok {
			continue
		}
		if h := m.head; h != nil && h.TrainingMode != "" {
			if v := g.Value(h.TrainingMode); v != nil && v.Init != nil {
				off := ir.NewTensor(ir.Bool)
				v.Init = off
			}
		}
		return g, nil
	}
	return nil, fmt.Errorf("export: the trained parameters do not match the model's initializers")
}

// mergeLoRA returns W + A·B·scale for W [in, out], A [in, r], B [r, out].
func mergeLoRA(w, a, b *ir.Tensor, scale float64) *ir.Tensor {
	in, out, r := w.Shape[0], w.Shape[1], a.Shape[1]
	m := w.Clone()
	for i := 0; i < in; i++ {
		for j := 0; j < out; j++ {
			var s float64
			for k := 0; k < r; k++ {
				s += float64(a.F32[i*r+k]) * float64(b.F32[k*out+j])
			}
			m.F32[i*out+j] += float32(s * scale)
		}
	}
	return m
}
