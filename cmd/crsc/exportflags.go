package main

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"crsc/compiler/passes"
	"crsc/training/data"
	"crsc/training/train"
)

// taskHelp is --task's help: the known tasks and custom.
const taskHelp = "sst2, cola, mrpc, qnli, rte, stsb, mnli, qqp, wnli, or custom (with --labels or --num-labels, or --regression)"

// exportFlags are how train and eval read a third-party export and a
// custom task's data.
type exportFlags struct {
	opts        *train.ExportOptions
	inputs      map[string]string
	labels      []string
	numLabels   int
	textColumns []string
	labelColumn string
	regression  bool
}

// customFlags are the flags that describe --task custom.
var customFlags = []string{"labels", "num-labels", "text-columns", "label-column", "regression"}

// register adds the flags; withHead adds train's --head and --decoder.
func (f *exportFlags) register(cmd *cobra.Command, opts *train.ExportOptions, withHead bool) {
	f.opts = opts
	fl := cmd.Flags()
	if withHead {
		fl.StringVar(&opts.Decoder, "decoder", "", "Optimum's decoder_model.onnx, when MODEL is its encoder_model.onnx (a folder holding both needs no flag)")
		fl.StringVar(&opts.Head, "head", "auto", "classification head for an export without logits: auto (its pooler output, else the family's pooling), pooler, first, mean, or none (refuse to add one)")
	}
	fl.StringToStringVar(&f.inputs, "input", nil, "ROLE=NAME: the model input that carries a role (input_ids, attention_mask, token_type_ids, position_ids, …), when crsc cannot tell")
	fl.StringVar(&opts.Output, "output", "", "the output holding the logits, or the hidden states a head is added to (default: the single [batch, classes] output)")
	fl.StringSliceVar(&f.labels, "labels", nil, "--task custom: the label spellings in class order (a,b,c)")
	fl.IntVar(&f.numLabels, "num-labels", 0, "--task custom: the number of classes, labelled 0…N-1")
	fl.StringSliceVar(&f.textColumns, "text-columns", nil, "--task custom: the one or two columns (JSON fields) holding the text")
	fl.StringVar(&f.labelColumn, "label-column", "", "--task custom: the label's column (default: label, score, …)")
	fl.BoolVar(&f.regression, "regression", false, "--task custom: the label is a number, scored by Pearson correlation")
}

// custom checks the export flags and returns the custom task they
// describe (nil unless --task custom).
func (f *exportFlags) custom(cmd *cobra.Command, task string) (*data.Custom, error) {
	if err := f.checkInputs(); err != nil {
		return nil, err
	}
	if f.opts.Head != "" && !slices.Contains(train.HeadChoices, f.opts.Head) {
		return nil, fmt.Errorf("--head %q: want one of %s", f.opts.Head, strings.Join(train.HeadChoices, ", "))
	}
	given := slices.ContainsFunc(customFlags, cmd.Flags().Changed)
	if !strings.EqualFold(task, "custom") {
		if given {
			return nil, fmt.Errorf("--labels, --num-labels, --text-columns, --label-column and --regression describe --task custom, not --task %s", task)
		}
		return nil, nil
	}
	if err := checkInt("num-labels", f.numLabels, 0, noLimit); err != nil {
		return nil, err
	}
	if len(f.labels) > 0 && f.numLabels > 0 && f.numLabels != len(f.labels) {
		return nil, fmt.Errorf("--labels names %d labels, --num-labels says %d", len(f.labels), f.numLabels)
	}
	n := f.numLabels
	if len(f.labels) > 0 {
		n = 0 // the names say how many
	}
	return &data.Custom{Labels: f.labels, NumLabels: n, TextColumns: f.textColumns, LabelColumn: f.labelColumn, Regression: f.regression}, nil
}

// checkInputs checks --input's roles and copies them into the options.
func (f *exportFlags) checkInputs() error {
	if len(f.inputs) == 0 {
		return nil
	}
	known := passes.KnownRoles()
	for _, role := range slices.Sorted(maps.Keys(f.inputs)) {
		if !slices.Contains(known, passes.Role(role)) {
			names := make([]string, len(known))
			for i, r := range known {
				names[i] = string(r)
			}
			return fmt.Errorf("--input %s=%s: unknown role %q (roles: %s)", role, f.inputs[role], role, strings.Join(names, ", "))
		}
		if f.inputs[role] == "" {
			return fmt.Errorf("--input %s=: give the input's name", role)
		}
	}
	f.opts.Inputs = f.inputs
	return nil
}
