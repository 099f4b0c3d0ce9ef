package models

import (
	"fmt"
	"strings"

	"crsc/compiler/ir"
)

// presets maps each Hugging Face checkpoint name crsc knows to its builder.
// BERT presets carry a 2-label sequence-classification head.
var presets = []struct {
	name  string
	build func(BuildOptions) (*ir.Graph, error)
}{
	{"bert-tiny", func(o BuildOptions) (*ir.Graph, error) { return BuildBertWith(BertTiny, o) }},
	{"bert-base", func(o BuildOptions) (*ir.Graph, error) { return BuildBertWith(BertBase, o) }},
	{"bert-large", func(o BuildOptions) (*ir.Graph, error) { return BuildBertWith(BertLarge, o) }},
	{"t5-small", func(o BuildOptions) (*ir.Graph, error) { return BuildT5(T5Small, o) }},
	{"t5-base", func(o BuildOptions) (*ir.Graph, error) { return BuildT5(T5Base, o) }},
	{"t5-large", func(o BuildOptions) (*ir.Graph, error) { return BuildT5(T5Large, o) }},
	{"t5-3b", func(o BuildOptions) (*ir.Graph, error) { return BuildT5(T5_3B, o) }},
}

// PresetNames lists the names Preset accepts, smallest model first within
// each family.
func PresetNames() []string {
	names := make([]string, len(presets))
	for i, p := range presets {
		names[i] = p.name
	}
	return names
}

// Preset builds the named architecture. With opts.Abstract the weights are
// shapes only, which is what memory planning of the large presets needs
// (t5-3b would otherwise allocate 11 GB).
func Preset(name string, opts BuildOptions) (*ir.Graph, error) {
	for _, p := range presets {
		if p.name == name {
			return p.build(opts)
		}
	}
	return nil, fmt.Errorf("unknown model preset %q (known: %s)", name, strings.Join(PresetNames(), ", "))
}
