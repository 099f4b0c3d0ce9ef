package passes_test

import (
	"strings"
	"testing"

	"crsc/compiler/ir"
	"crsc/compiler/passes"
	"crsc/internal/testutil"
)

// TestFindInputRoles: roles by name and by usage across the layouts
// exporters write, with inputs renamed the ways older exports name them.
func TestFindInputRoles(t *testing.T) {
	tests := []struct {
		name     string
		model    string
		rename   map[string]string
		retype   map[string]ir.DType
		override map[passes.Role]string
		want     string // InputRoles.String()
		err      string
	}{
		{name: "bert (HF names)", model: "../../testdata/onnx/bert_tiny_cls.op17.eval.onnx",
			want: "attention_mask=attention_mask (name+usage), input_ids=input_ids (name+usage), token_type_ids=token_type_ids (name+usage)"},
		{name: "tribuo BertModel", model: tribuoModel,
			want: "attention_mask=attention_mask (name+usage), input_ids=input_ids (name+usage), token_type_ids=token_type_ids (name+usage)"},
		{name: "distilbert (mask through Equal → Where)", model: distilbertModel,
			want: "attention_mask=attention_mask (name+usage), input_ids=input_ids (name+usage)"},
		{name: "t5 (decoder ids share the table; labels by name)", model: "../../testdata/onnx/t5_tiny.op13.eval.onnx",
			want: "attention_mask=attention_mask (name+usage), decoder_input_ids=decoder_input_ids (name+usage), input_ids=input_ids (name+usage), labels=labels (name)"},
		{name: "TF-style names", model: tribuoModel, rename: map[string]string{"attention_mask": "input_mask", "token_type_ids": "segment_ids"},
			want: "attention_mask=input_mask (name+usage), input_ids=input_ids (name+usage), token_type_ids=segment_ids (name+usage)"},
		{name: "meaningless names: usage only", model: tribuoModel, rename: map[string]string{"input_ids": "a", "attention_mask": "b", "token_type_ids": "c"},
			want: "attention_mask=b (usage), input_ids=a (usage), token_type_ids=c (usage)"},
		{name: "float mask, int32 ids", model: tribuoModel, retype: map[string]ir.DType{"attention_mask": ir.Float32, "input_ids": ir.Int32},
			want: "attention_mask=attention_mask (name+usage), input_ids=input_ids (name+usage), token_type_ids=token_type_ids (name+usage)"},
		{name: "override", model: tribuoModel, rename: map[string]string{"input_ids": "a", "attention_mask": "b", "token_type_ids": "c"},
			override: map[passes.Role]string{passes.RoleTokenTypeIDs: "b", passes.RoleAttentionMask: "c"},
			want:     "attention_mask=c (override), input_ids=a (usage), token_type_ids=b (override)"},
		{name: "override of an unknown role", model: tribuoModel, override: map[passes.Role]string{"mask": "attention_mask"},
			err: `unknown role "mask" in an override (roles: attention_mask, decoder_input_ids, encoder_attention_mask, encoder_hidden_states, input_ids, labels, position_ids, token_type_ids)`},
		{name: "override naming no input", model: tribuoModel, override: map[passes.Role]string{passes.RoleAttentionMask: "input_mask"},
			err: "the role override attention_mask=input_mask names no input; model inputs: input_ids i64[batch,sequence], attention_mask i64[batch,sequence], token_type_ids i64[batch,sequence]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := loadExport(t, tt.model)
			for _, in := range g.Inputs {
				if dt, ok := tt.retype[in.Name]; ok {
					in.DType = dt
				}
				if n, ok := tt.rename[in.Name]; ok {
					in.Name = n
				}
			}
			roles, err := passes.FindInputRoles(g, tt.override)
			if testutil.WantErr(t, err, tt.err) {
				return
			}
			if got := roles.String(); got != tt.want {
				t.Errorf("roles\n got %s\nwant %s", got, tt.want)
			}
		})
	}
}

// TestFindInputRolesUnrecognized: a model whose inputs say nothing gets
// one error listing its inputs and the roles found.
func TestFindInputRolesUnrecognized(t *testing.T) {
	g := ir.NewGraph("m", 17)
	x := g.AddInput("features", ir.Float32, ir.StaticShape(2, 8))
	m := g.AddInput("mask", ir.Int64, ir.StaticShape(2, 8))
	sm := g.AddNode("Softmax", "", []*ir.Value{g.AddNode("Add", "", []*ir.Value{x, g.AddNode("Cast", "", []*ir.Value{m}, 1, ir.Attrs{"to": ir.IntAttr(1)}).Outputs[0]}, 1, nil).Outputs[0]}, 1, nil)
	g.Outputs = sm.Outputs
	_, err := passes.FindInputRoles(g, nil)
	want := "no input carries input_ids (token ids indexing the word embeddings); model inputs: features f32[2,8], mask i64[2,8]; roles found: attention_mask=mask (name+usage)"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("err = %v\nwant %s", err, want)
	}
}

// TestFindInputRolesPositions: position ids are inputs of some exports;
// they index a table larger than the token types' and smaller than the
// vocabulary.
func TestFindInputRolesPositions(t *testing.T) {
	g := ir.NewGraph("m", 17)
	var sum *ir.Value
	for _, in := range []struct {
		name string
		rows int
	}{{"tokens", 120}, {"pos", 64}, {"types", 2}} {
		x := g.AddInput(in.name, ir.Int64, ir.StaticShape(2, 8))
		table := g.AddInit(in.name+"_table", ir.NewTensor(ir.Float32, in.rows, 4))
		e := g.AddNode("Gather", "", []*ir.Value{table, x}, 1, nil).Outputs[0]
		if sum == nil {
			sum = e
		} else {
			sum = g.AddNode("Add", "", []*ir.Value{sum, e}, 1, nil).Outputs[0]
		}
	}
	g.Outputs = []*ir.Value{sum}
	roles, err := passes.FindInputRoles(g, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := roles.String(), "input_ids=tokens (usage), position_ids=pos (usage), token_type_ids=types (usage)"; got != want {
		t.Errorf("roles %s, want %s", got, want)
	}
}
