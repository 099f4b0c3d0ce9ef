package train

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"crsc/compiler/ir"
	"crsc/compiler/onnx"
	"crsc/compiler/passes"
	"crsc/training/data"
	"crsc/training/hfconfig"
)

// Third-party exports as Hugging Face's exporters write them (Optimum,
// transformers.onnx, torch.onnx.export): a bare encoder gets a
// classification head, inputs are recognized by role whatever their
// names, a config.json beside the model is read, and Optimum's split
// encoder_model.onnx + decoder_model.onnx is linked into one training
// graph (and split back on export).

// ExportOptions say how to read a third-party export.
type ExportOptions struct {
	// Decoder is Optimum's decoder_model.onnx, when Model is its
	// encoder_model.onnx (--decoder). A folder given as the model finds
	// both itself.
	Decoder string `json:"decoder,omitempty"`
	// Inputs overrides input roles, role → input name (--input ROLE=NAME).
	Inputs map[string]string `json:"inputs,omitempty"`
	// Output names the output holding the logits, or the hidden states
	// (or pooled vector) a head is added to (--output).
	Output string `json:"output,omitempty"`
	// Head is what --head asks for: "auto" (add one when the export has no
	// logits: its pooler, else the family's pooling), "pooler", "first" or
	// "mean" (add one pooled so), or "none" (never add one).
	Head string `json:"head,omitempty"`
}

// HeadChoices are --head's values.
var HeadChoices = []string{"auto", "pooler", "first", "mean", "none"}

// Optimum's file names in an exported folder.
const (
	encoderFile = "encoder_model.onnx"
	decoderFile = "decoder_model.onnx"
)

// optimumIgnored are files of an Optimum folder that training has no use
// for: the generation-time decoders with a key/value cache.
var optimumIgnored = []string{"decoder_with_past_model.onnx", "decoder_model_merged.onnx"}

// imported is a model as read from its file(s), before shapes are bound.
type imported struct {
	raw  *ir.Graph
	name string // for messages: the file, folder or --arch
	path string // the file config.json and tokenizer.json sit beside
	hf   *hfconfig.Config
	// seq2seq is set when raw links Optimum's two files.
	seq2seq *passes.Seq2Seq
	head    *passes.Head
	logits  string   // the output holding the logits
	notes   []string // what importing did, said at the run's start
	files   []string // the files read: the model, or encoder and decoder
}

// modelFiles resolves the model argument: an .onnx file, or a folder
// holding model.onnx or Optimum's encoder_model.onnx and
// decoder_model.onnx. It returns the encoder (or only) file and the
// decoder file ("" for a single graph).
func modelFiles(model, decoder string) (enc, dec string, notes []string, err error) {
	st, err := os.Stat(model)
	if err != nil {
		return "", "", nil, fmt.Errorf("model: %v", err)
	}
	if !st.IsDir() {
		return model, decoder, nil, nil
	}
	if decoder != "" {
		return "", "", nil, fmt.Errorf("--decoder %s with a folder (%s): give the encoder file, or the folder alone", decoder, model)
	}
	has := func(name string) bool {
		fi, err := os.Stat(filepath.Join(model, name))
		return err == nil && !fi.IsDir()
	}
	switch {
	case has(encoderFile) && has(decoderFile):
		for _, f := range optimumIgnored {
			if has(f) {
				notes = append(notes, fmt.Sprintf("ignored %s (a generation-time decoder; training uses %s)", f, decoderFile))
			}
		}
		return filepath.Join(model, encoderFile), filepath.Join(model, decoderFile), notes, nil
	case has(ModelFile):
		return filepath.Join(model, ModelFile), "", nil, nil
	case has(encoderFile):
		return "", "", nil, fmt.Errorf("%s has %s but no %s: a seq2seq model needs both", model, encoderFile, decoderFile)
	}
	onnxFiles, _ := filepath.Glob(filepath.Join(model, "*.onnx"))
	for i, f := range onnxFiles {
		onnxFiles[i] = filepath.Base(f)
	}
	if len(onnxFiles) == 0 {
		return "", "", nil, fmt.Errorf("%s: a folder with no .onnx file (want model.onnx, or encoder_model.onnx and decoder_model.onnx)", model)
	}
	return "", "", nil, fmt.Errorf("%s holds %s: give the file to train, or a folder with model.onnx or encoder_model.onnx and decoder_model.onnx", model, strings.Join(onnxFiles, ", "))
}

// importONNX reads an export (one graph, or Optimum's two linked into
// one), its config.json, and adds a classification head where the export
// has none.
func importONNX(c *Config, task *data.Task) (*imported, error) {
	enc, dec, notes, err := modelFiles(c.Model, c.Export.Decoder)
	if err != nil {
		return nil, err
	}
	im := &imported{name: c.Model, path: enc, notes: notes, files: []string{enc}}
	if dec != "" {
		im.files = append(im.files, dec)
	}
	if path, ok := hfconfig.Beside(enc, "config.json"); ok {
		if im.hf, err = hfconfig.Load(path); err != nil {
			return nil, err
		}
		im.notes = append(im.notes, fmt.Sprintf("read %s (model_type %q)", path, im.hf.ModelType))
	}
	g, err := onnx.Load(enc)
	if err != nil {
		return nil, err
	}
	if dec != "" {
		if err := im.link(g, dec); err != nil {
			return nil, err
		}
		return im, nil
	}
	im.raw = g
	if tied, table := passes.TieEmbeddings(g); len(tied) > 0 {
		im.notes = append(im.notes, fmt.Sprintf("tied %s to %s (the exporter's transposed copy of the tied LM head)", strings.Join(tied, ", "), table))
	}
	if isT5(g) {
		im.logits = "logits"
		return im, nil
	}
	return im, im.addHead(c, task)
}

// link joins an Optimum encoder and decoder into im.raw.
func (im *imported) link(enc *ir.Graph, decPath string) error {
	dec, err := onnx.Load(decPath)
	if err != nil {
		return err
	}
	spec := passes.Seq2SeqSpec{}
	if im.hf != nil {
		if p := im.hf.PadTokenID; p != nil {
			spec.Pad = int64(*p)
		}
		spec.DecoderStart = spec.Pad
		if s := im.hf.DecoderStartTokenID; s != nil {
			spec.DecoderStart = int64(*s)
		}
	}
	g, s, err := passes.LinkSeq2Seq(enc, dec, spec)
	if err != nil {
		return fmt.Errorf("%s + %s: %v", im.path, decPath, err)
	}
	im.raw, im.seq2seq, im.logits = g, s, s.Logits
	im.name = im.path + " + " + decPath
	shared := "no weights shared"
	if len(s.Shared) > 0 {
		shared = "shared " + strings.Join(s.Shared, ", ")
	}
	im.notes = append(im.notes, fmt.Sprintf("linked %s and %s into one training graph (decoder input = labels shifted right from id %d; %s)",
		filepath.Base(im.path), filepath.Base(decPath), spec.DecoderStart, shared))
	return nil
}

// addHead adds the classification head an encoder export lacks (or finds
// the logits output of one that has it).
func (im *imported) addHead(c *Config, task *data.Task) error {
	mode := c.Export.Head
	if mode == "" {
		mode = "auto"
	}
	if !slices.Contains(HeadChoices, mode) {
		return fmt.Errorf("--head %q: want one of %s", mode, strings.Join(HeadChoices, ", "))
	}
	spec := passes.HeadSpec{NumLabels: task.NumClasses(), Output: c.Export.Output, Dropout: 0.1, Seed: c.Seed}
	if mode != "auto" && mode != "none" {
		spec.Pooling = passes.Pooling(mode)
	}
	if im.hf != nil {
		spec.Family = im.hf.Family
	}
	if spec.Family == passes.FamilyDistilBERT {
		spec.Dropout = 0.2 // DistilBERT's seq_classif_dropout
	}
	if mask := c.Export.Inputs[string(passes.RoleAttentionMask)]; mask != "" {
		spec.Mask = mask
	}
	hint := outputsHint(im.raw) // as exported, before a head replaces them
	head, err := passes.AddClassificationHead(im.raw, spec)
	if err != nil {
		if strings.Contains(err.Error(), "(outputs:") {
			hint = ""
		}
		return fmt.Errorf("%s: %v%s", im.name, err, hint)
	}
	if head.Added && mode == "none" {
		return fmt.Errorf("%s: --head none, but no output holds [batch, %d] logits%s", im.name, spec.NumLabels, hint)
	}
	if !head.Added && mode != "auto" && mode != "none" {
		return fmt.Errorf("%s: --head %s, but output %q already holds the logits (use --head auto, or --output to name the hidden states)", im.name, mode, head.Logits)
	}
	if !head.Added && im.hf != nil {
		if err := im.hf.CheckClasses(task.NumClasses()); err != nil {
			return fmt.Errorf("%s: %v", im.name, err)
		}
	}
	im.head, im.logits = head, head.Logits
	if head.Added {
		im.notes = append(im.notes, "added "+head.String())
	}
	return nil
}

// outputsHint lists a graph's outputs and their types, for an error.
func outputsHint(g *ir.Graph) string {
	var outs []string
	for _, o := range g.Outputs {
		outs = append(outs, o.Name+" "+ir.TypeString(o))
	}
	return " (outputs: " + strings.Join(outs, ", ") + "; --output NAME chooses)"
}

// roleOverrides converts --input ROLE=NAME pairs.
func roleOverrides(in map[string]string) map[passes.Role]string {
	if len(in) == 0 {
		return nil
	}
	out := map[passes.Role]string{}
	for r, name := range in {
		out[passes.Role(r)] = name
	}
	return out
}

// unfedInputs says, in one line, which inputs no role crsc feeds covers.
func unfedInputs(name string, g *ir.Graph, roles passes.InputRoles, fed map[passes.Role]bool) error {
	var missing []string
	for _, in := range g.Inputs {
		found := false
		for r, ri := range roles {
			if ri.Input == in && fed[r] {
				found = true
			}
		}
		if !found {
			missing = append(missing, fmt.Sprintf("%q %s", in.Name, ir.TypeString(in)))
		}
	}
	if len(missing) == 0 {
		return nil
	}
	var fedNames []string
	for r := range fed {
		fedNames = append(fedNames, string(r))
	}
	sort.Strings(fedNames)
	return fmt.Errorf("%s: input %s has no role crsc can feed (roles found: %s; crsc feeds %s; name one with --input ROLE=NAME)",
		name, strings.Join(missing, ", "), roles, strings.Join(fedNames, ", "))
}
