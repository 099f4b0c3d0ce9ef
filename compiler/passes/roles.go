package passes

import (
	"fmt"
	"sort"
	"strings"

	"crsc/compiler/ir"
)

// Role is what a model input carries, whatever the exporter named it.
type Role string

const (
	RoleInputIDs             Role = "input_ids"
	RoleAttentionMask        Role = "attention_mask"
	RoleTokenTypeIDs         Role = "token_type_ids"
	RolePositionIDs          Role = "position_ids"
	RoleDecoderInputIDs      Role = "decoder_input_ids"
	RoleEncoderAttentionMask Role = "encoder_attention_mask"
	RoleEncoderHiddenStates  Role = "encoder_hidden_states"
	RoleLabels               Role = "labels"
)

// roleNames are the input names exporters use for each role: Optimum and
// transformers.onnx write the HF argument names, older TF/ONNX BERT exports
// input_mask/segment_ids/input_type_ids.
var roleNames = map[Role][]string{
	RoleInputIDs:             {"input_ids", "input_ids:0", "ids", "input_word_ids"},
	RoleAttentionMask:        {"attention_mask", "input_mask", "mask", "input_mask:0", "attention_mask:0"},
	RoleTokenTypeIDs:         {"token_type_ids", "segment_ids", "input_type_ids", "type_ids", "segment_ids:0"},
	RolePositionIDs:          {"position_ids"},
	RoleDecoderInputIDs:      {"decoder_input_ids"},
	RoleEncoderAttentionMask: {"encoder_attention_mask"},
	RoleEncoderHiddenStates:  {"encoder_hidden_states"},
	RoleLabels:               {"labels", "label_ids"},
}

// InputRole is one input's role and the evidence for it.
type InputRole struct {
	Role  Role
	Input *ir.Value
	How   string // "override", "name", "usage" or "name+usage"
}

// InputRoles maps each recognized role to its input.
type InputRoles map[Role]InputRole

// Name is the input holding role r ("" when the model has none).
func (rs InputRoles) Name(r Role) string {
	if in, ok := rs[r]; ok {
		return in.Input.Name
	}
	return ""
}

func (rs InputRoles) String() string {
	var parts []string
	for _, r := range rs.sorted() {
		parts = append(parts, fmt.Sprintf("%s=%s (%s)", r.Role, r.Input.Name, r.How))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

func (rs InputRoles) sorted() []InputRole {
	var out []InputRole
	for _, r := range rs {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Role < out[j].Role })
	return out
}

// FindInputRoles says which graph input carries which role, by name and
// by how the graph uses it:
//   - token ids index (Gather) the largest 2-D float table, the word
//     embeddings [vocab, hidden];
//   - token type ids index a table of at most a few rows ([2, hidden]);
//   - position ids index another table (position embeddings);
//   - an attention mask reaches a Softmax through elementwise ops (the
//     Cast → Sub → Mul → Add chain of BERT, Equal → Where of DistilBERT)
//     without passing a MatMul or an embedding Gather.
//
// Usage decides where it says something; the name decides otherwise (a
// seq2seq decoder's inputs and labels). override (role → input name) wins
// over both. When no input is taken for input_ids, or two inputs claim one
// role, the error lists every input with its type and the roles found.
func FindInputRoles(g *ir.Graph, override map[Role]string) (InputRoles, error) {
	roles := InputRoles{}
	taken := map[*ir.Value]bool{}
	for r, name := range override {
		if _, known := roleNames[r]; !known {
			return nil, rolesError(g, roles, fmt.Sprintf("unknown role %q in an override (roles: %s)", r, knownRoles()))
		}
		v := graphInput(g, name)
		if v == nil {
			return nil, rolesError(g, roles, fmt.Sprintf("the role override %s=%s names no input", r, name))
		}
		roles[r], taken[v] = InputRole{Role: r, Input: v, How: "override"}, true
	}
	usage := inputUsage(g)
	byName := map[*ir.Value]Role{}
	for _, in := range g.Inputs {
		for r, names := range roleNames {
			for _, n := range names {
				if strings.EqualFold(in.Name, n) {
					byName[in] = r
				}
			}
		}
	}
	// Strongest evidence first: name and usage agreeing, then usage
	// alone, then the name alone. A weaker claim on a role already taken
	// is dropped; two claims of the same strength are a conflict.
	type evidence struct {
		role Role
		how  string
	}
	ev := map[*ir.Value]evidence{}
	for _, in := range g.Inputs {
		u, named := usage[in], byName[in]
		if refines[named] == u && u != "" {
			u = named // usage says "token ids", the name says whose
		}
		switch {
		case u != "" && named == u:
			ev[in] = evidence{u, "name+usage"}
		case u != "":
			ev[in] = evidence{u, "usage"}
		case named != "":
			ev[in] = evidence{named, "name"}
		}
	}
	for _, how := range []string{"name+usage", "usage", "name"} {
		claimed := map[Role]*ir.Value{}
		for _, in := range g.Inputs {
			e, ok := ev[in]
			if !ok || e.how != how || taken[in] {
				continue
			}
			if prev := claimed[e.role]; prev != nil {
				return nil, rolesError(g, roles, fmt.Sprintf("inputs %q and %q both look like %s: name the right one with an override", prev.Name, in.Name, e.role))
			}
			if _, done := roles[e.role]; done {
				continue
			}
			claimed[e.role] = in
			roles[e.role], taken[in] = InputRole{Role: e.role, Input: in, How: how}, true
		}
	}
	if _, ok := roles[RoleInputIDs]; !ok {
		return nil, rolesError(g, roles, "no input carries input_ids (token ids indexing the word embeddings)")
	}
	return roles, nil
}

// refines pairs a seq2seq role with the role its usage shows: a decoder's
// ids index the same shared table as the encoder's, its encoder mask
// reaches a Softmax like any mask.
var refines = map[Role]Role{
	RoleDecoderInputIDs:      RoleInputIDs,
	RoleEncoderAttentionMask: RoleAttentionMask,
}

// KnownRoles lists the roles an input may have, sorted.
func KnownRoles() []Role {
	var rs []Role
	for r := range roleNames {
		rs = append(rs, r)
	}
	sort.Slice(rs, func(i, j int) bool { return rs[i] < rs[j] })
	return rs
}

func knownRoles() string {
	var rs []string
	for _, r := range KnownRoles() {
		rs = append(rs, string(r))
	}
	return strings.Join(rs, ", ")
}

func graphInput(g *ir.Graph, name string) *ir.Value {
	for _, in := range g.Inputs {
		if in.Name == name {
			return in
		}
	}
	return nil
}

func rolesError(g *ir.Graph, found InputRoles, why string) error {
	var ins []string
	for _, in := range g.Inputs {
		ins = append(ins, in.Name+" "+ir.TypeString(in))
	}
	return fmt.Errorf("%s; model inputs: %s; roles found: %s (name a role's input explicitly, e.g. attention_mask=input_mask)", why, strings.Join(ins, ", "), found)
}

// inputUsage classifies the inputs whose use in the graph says what they are.
func inputUsage(g *ir.Graph) map[*ir.Value]Role {
	consumers := g.Consumers()
	type gathered struct {
		in   *ir.Value
		rows int
	}
	var tables []gathered
	out := map[*ir.Value]Role{}
	for _, in := range g.Inputs {
		rows, toSoftmax := followInput(in, consumers)
		switch {
		case rows > 0:
			tables = append(tables, gathered{in, rows})
		case toSoftmax && !in.DType.IsFloat() || toSoftmax && in.HasShape && len(in.Shape) == 2:
			out[in] = RoleAttentionMask
		}
	}
	if len(tables) == 0 {
		return out
	}
	sort.SliceStable(tables, func(i, j int) bool { return tables[i].rows > tables[j].rows })
	// The largest table is the vocabulary. Among the others a table of a
	// handful of rows holds token types; a larger one positions.
	for _, t := range tables {
		if t.rows == tables[0].rows {
			out[t.in] = RoleInputIDs // several: encoder and decoder ids of a shared table
		} else if t.rows <= maxTokenTypes {
			out[t.in] = RoleTokenTypeIDs
		} else {
			out[t.in] = RolePositionIDs
		}
	}
	return out
}

// maxTokenTypes bounds the rows of a token-type table (BERT 2, XLM 1–8).
const maxTokenTypes = 16

// passThrough ops carry an input's data unchanged in meaning (type, layout,
// broadcast, the arithmetic of a mask).
var passThrough = map[string]bool{
	"Cast": true, "Unsqueeze": true, "Squeeze": true, "Reshape": true, "Expand": true, "Flatten": true,
	"Sub": true, "Mul": true, "Add": true, "Div": true, "Neg": true, "Not": true, "Equal": true, "Where": true,
	"Less": true, "Greater": true, "Identity": true, "Transpose": true, "Tile": true, "Slice": true, "Concat": true,
}

// followInput walks forward from an input through pass-through ops. It
// returns the rows of the first 2-D float table a Gather indexes with it
// (0: none), and whether it reaches a Softmax without such a Gather or a
// MatMul in between. Shape nodes are not followed: reading an input's
// shape says nothing about its data.
func followInput(in *ir.Value, consumers map[*ir.Value][]*ir.Node) (rows int, toSoftmax bool) {
	seen := map[*ir.Value]bool{}
	queue := []*ir.Value{in}
	for len(queue) > 0 && len(seen) < 256 {
		v := queue[0]
		queue = queue[1:]
		if seen[v] {
			continue
		}
		seen[v] = true
		for _, n := range consumers[v] {
			switch {
			case n.Op == "Gather" && n.In(1) == v:
				if t := n.In(0); t != nil && t.Init != nil && t.DType.IsFloat() && len(t.Init.Shape) == 2 && rows == 0 {
					rows = t.Init.Shape[0]
				}
			case n.Op == "Softmax" && n.Domain == "":
				toSoftmax = true
			case passThrough[n.Op] && n.Domain == "":
				queue = append(queue, n.Outputs...)
			}
		}
	}
	return rows, toSoftmax && rows == 0
}
