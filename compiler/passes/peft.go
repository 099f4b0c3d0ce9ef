package passes

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"crsc/compiler/ir"
	"crsc/internal/atomicfile"
	"crsc/training/checkpoint"
)

// PEFT's file names and key prefix (peft's save_pretrained): tensors are
// keyed base_model.model.<module>.lora_A.weight, the adapter name
// ("default") stripped.
const (
	PEFTWeightsFile = "adapter_model.safetensors"
	PEFTConfigFile  = "adapter_config.json"
	peftPrefix      = "base_model.model."
)

// PEFTSpec is what adapter_config.json records beyond the adapters.
type PEFTSpec struct {
	Rank  int     // r
	Alpha float64 // lora_alpha (0: Rank, as LoRASpec)
	// BaseModel is base_model_name_or_path: the model the adapters were
	// trained on (a hub id or the export's path).
	BaseModel string
	// TaskType: SEQ_CLS, SEQ_2_SEQ_LM, FEATURE_EXTRACTION, or "" (null).
	TaskType string
	// Bias: "none", or "all" when the biases were trained too (BitFit).
	Bias string
	// Extra are other trained parameters written whole, by Hugging Face
	// name: BitFit biases, an added classifier (PEFT's modules_to_save,
	// saved under base_model.model.<name> as PEFT does).
	Extra map[string]*ir.Tensor
	// ModulesToSave names the modules Extra's parameters belong to
	// (classifier), for the config.
	ModulesToSave []string
	// Modules is every linear layer's module path (HFNames.Modules): a
	// target is then written as its last component (query) only where
	// that names no layer left unadapted, else as the full path.
	Modules []string
}

// PEFTConfig is adapter_config.json, in PEFT's field names.
type PEFTConfig struct {
	PeftType       string   `json:"peft_type"`
	R              int      `json:"r"`
	LoraAlpha      float64  `json:"lora_alpha"`
	LoraDropout    float64  `json:"lora_dropout"`
	TargetModules  []string `json:"target_modules"`
	BaseModel      string   `json:"base_model_name_or_path"`
	TaskType       *string  `json:"task_type"`
	Bias           string   `json:"bias"`
	FanInFanOut    bool     `json:"fan_in_fan_out"`
	InferenceMode  bool     `json:"inference_mode"`
	ModulesToSave  []string `json:"modules_to_save"`
	InitLoraWeight bool     `json:"init_lora_weights"`
}

// PEFTTensors are the adapter tensors under PEFT's names and layout:
// lora_A.weight [r, in] = Aᵀ and lora_B.weight [out, r] = Bᵀ, since crsc
// computes x·A·B with A [in, r], B [r, out] and PEFT B(A(x)) with torch
// Linear weights [out_features, in_features]. values holds the trained
// A and B by crsc name.
func PEFTTensors(adapters []LoRAAdapter, values map[string]*ir.Tensor) (map[string]*ir.Tensor, error) {
	out := map[string]*ir.Tensor{}
	for _, a := range adapters {
		if a.Module == "" {
			return nil, fmt.Errorf("adapter %s: the export's names give layer %s no Hugging Face module, so PEFT cannot name it", a.A, a.Node)
		}
		ta, tb := values[a.A], values[a.B]
		if ta == nil || tb == nil {
			return nil, fmt.Errorf("adapter of %s: no values for %s and %s", a.Module, a.A, a.B)
		}
		if len(ta.Shape) != 2 || len(tb.Shape) != 2 || ta.Shape[1] != tb.Shape[0] || ta.DType != ir.Float32 || tb.DType != ir.Float32 {
			return nil, fmt.Errorf("adapter of %s: A %v%v and B %v%v are not f32 [in, r] and [r, out]", a.Module, ta.DType, ta.Shape, tb.DType, tb.Shape)
		}
		key := peftPrefix + a.Module
		if _, dup := out[key+".lora_A.weight"]; dup {
			return nil, fmt.Errorf("two adapters on module %s", a.Module)
		}
		out[key+".lora_A.weight"] = transpose2(ta)
		out[key+".lora_B.weight"] = transpose2(tb)
	}
	return out, nil
}

// WritePEFTAdapter writes dir/adapter_model.safetensors and
// dir/adapter_config.json so that peft's PeftModel.from_pretrained loads
// the adapters onto the Hugging Face base model. It returns the config
// written.
func WritePEFTAdapter(dir string, adapters []LoRAAdapter, values map[string]*ir.Tensor, spec PEFTSpec) (*PEFTConfig, error) {
	if spec.Rank < 1 || len(adapters) == 0 {
		return nil, fmt.Errorf("PEFT export: want a rank ≥ 1 and adapters (have r=%d, %d adapters)", spec.Rank, len(adapters))
	}
	tensors, err := PEFTTensors(adapters, values)
	if err != nil {
		return nil, fmt.Errorf("PEFT export: %v", err)
	}
	for name, t := range spec.Extra {
		tensors[peftPrefix+name] = t
	}
	for _, a := range adapters {
		if r := values[a.A].Shape[1]; r != spec.Rank {
			return nil, fmt.Errorf("PEFT export: adapter of %s has rank %d, the config says r=%d", a.Module, r, spec.Rank)
		}
	}
	cfg := &PEFTConfig{
		PeftType: "LORA", R: spec.Rank, LoraAlpha: spec.Alpha, TargetModules: peftTargets(adapters, spec.Modules),
		BaseModel: spec.BaseModel, Bias: spec.Bias, InferenceMode: true, ModulesToSave: spec.ModulesToSave, InitLoraWeight: true,
	}
	if cfg.LoraAlpha == 0 {
		cfg.LoraAlpha = float64(spec.Rank)
	}
	if cfg.Bias == "" {
		cfg.Bias = "none"
	}
	if spec.TaskType != "" {
		cfg.TaskType = &spec.TaskType
	}
	js, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := checkpoint.Save(filepath.Join(dir, PEFTWeightsFile), tensors, map[string]string{"format": "pt"}); err != nil {
		return nil, err
	}
	if err := atomicfile.WriteBytes(filepath.Join(dir, PEFTConfigFile), append(js, '\n')); err != nil {
		return nil, err
	}
	return cfg, nil
}

// peftTargets lists target_modules: PEFT adapts a module whose path equals
// a target or ends with "."+target, so the last component (q_lin) is
// enough unless it also names a layer that was not adapted.
func peftTargets(adapters []LoRAAdapter, all []string) []string {
	adapted := map[string]bool{}
	for _, a := range adapters {
		adapted[a.Module] = true
	}
	short := map[string]bool{}
	var full []string
	for m := range adapted {
		last := m[strings.LastIndex(m, ".")+1:]
		ok := true
		for _, o := range all {
			if !adapted[o] && (o == last || strings.HasSuffix(o, "."+last)) {
				ok = false
			}
		}
		if ok {
			short[last] = true
		} else {
			full = append(full, m)
		}
	}
	for s := range short {
		full = append(full, s)
	}
	sort.Strings(full)
	return full
}

func transpose2(t *ir.Tensor) *ir.Tensor {
	rows, cols := t.Shape[0], t.Shape[1]
	out := ir.NewTensor(ir.Float32, cols, rows)
	for i := 0; i < rows; i++ {
		for j := 0; j < cols; j++ {
			out.F32[j*rows+i] = t.F32[i*cols+j]
		}
	}
	return out
}
