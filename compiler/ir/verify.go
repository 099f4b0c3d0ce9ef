package ir

import (
	"errors"
	"fmt"
)

// Verify checks the invariants every pass must preserve:
//   - value and node names are unique and non-empty;
//   - initializers hold data of their declared type and shape (abstract
//     ones only declare it), inputs and initializers have no producer, node
//     outputs name their producer;
//   - nodes are in topological order: every input is a graph input, an
//     initializer or an output of an earlier node;
//   - every graph output is defined;
//   - declared dtypes are valid.
//
// It returns the first violation found, naming the node or value.
func (g *Graph) Verify() error {
	if g.Opsets[""] == 0 {
		return errors.New("graph has no ai.onnx opset")
	}
	defined := map[*Value]bool{}
	names := map[string]string{}
	claim := func(name, what string) error {
		if name == "" {
			return fmt.Errorf("%s with an empty name", what)
		}
		if prev, dup := names[name]; dup {
			return fmt.Errorf("name %q used by both %s and %s", name, prev, what)
		}
		names[name] = what
		return nil
	}
	for _, v := range g.Inputs {
		if err := claim(v.Name, "input "+v.Name); err != nil {
			return err
		}
		if v.Producer != nil || v.Init != nil {
			return fmt.Errorf("input %q has a producer or data", v.Name)
		}
		if v.DType == Invalid {
			return fmt.Errorf("input %q has no dtype", v.Name)
		}
		defined[v] = true
	}
	for _, v := range g.Inits {
		if err := claim(v.Name, "initializer "+v.Name); err != nil {
			return err
		}
		if v.Init == nil || v.Producer != nil {
			return fmt.Errorf("initializer %q has no data or has a producer", v.Name)
		}
		if err := checkTensor(v); err != nil {
			return err
		}
		defined[v] = true
	}
	for _, n := range g.Nodes {
		if err := claim(n.Name, "node "+n.Name); err != nil {
			return err
		}
		if n.Op == "" {
			return fmt.Errorf("node %q has no op", n.Name)
		}
		for i, in := range n.Inputs {
			if in != nil && !defined[in] {
				return fmt.Errorf("node %q (%s) input %d %q is not defined before it", n.Name, n.Op, i, in.Name)
			}
		}
		for _, out := range n.Outputs {
			if out == nil {
				continue
			}
			if err := claim(out.Name, "output of node "+n.Name); err != nil {
				return err
			}
			if out.Producer != n || out.Init != nil {
				return fmt.Errorf("value %q does not name node %q as its producer", out.Name, n.Name)
			}
			if out.HasShape && out.DType == Invalid {
				return fmt.Errorf("value %q has a shape but no dtype", out.Name)
			}
			defined[out] = true
		}
	}
	for _, v := range g.Outputs {
		if !defined[v] {
			return fmt.Errorf("graph output %q is not defined", v.Name)
		}
	}
	return nil
}

func checkTensor(v *Value) error {
	t := v.Init
	if t.Abstract {
		if err := checkAbstract(v); err != nil {
			return err
		}
	} else {
		n := t.Len()
		var have int
		switch t.DType {
		case Float32, Float16:
			have = len(t.F32)
		case Float64:
			have = len(t.F64)
		case Int64:
			have = len(t.I64)
		case Int32, Int8, Uint8, BFloat16, Int8Rows:
			have = len(t.I32)
		case Bool:
			have = len(t.Bool)
		default:
			return fmt.Errorf("initializer %q has dtype %v", v.Name, t.DType)
		}
		if have != t.DType.StorageLen(n) {
			return fmt.Errorf("initializer %q holds %d elements for shape %v", v.Name, have, t.Shape)
		}
	}
	if v.DType != t.DType || !v.Shape.Equal(StaticShape(t.Shape...)) {
		return fmt.Errorf("initializer %q is declared %v%v but holds %v%v", v.Name, v.DType, v.Shape, t.DType, t.Shape)
	}
	return nil
}

// checkAbstract accepts an abstract initializer: it has no data to count,
// so only its dtype and shape must be sane, and its slices must be empty so
// that a half-filled tensor is never taken for an abstract one.
func checkAbstract(v *Value) error {
	t := v.Init
	if t.DType.Size() == 0 {
		return fmt.Errorf("initializer %q has dtype %v", v.Name, t.DType)
	}
	for _, d := range t.Shape {
		if d < 0 {
			return fmt.Errorf("abstract initializer %q has negative dim in shape %v", v.Name, t.Shape)
		}
	}
	if t.F32 != nil || t.F64 != nil || t.I64 != nil || t.I32 != nil || t.Bool != nil {
		return fmt.Errorf("abstract initializer %q holds data", v.Name)
	}
	return nil
}
