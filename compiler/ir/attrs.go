package ir

import (
	"fmt"
	"sort"
)

// AttrKind says which field of an Attr holds its value.
type AttrKind uint8

const (
	AttrInt AttrKind = iota + 1
	AttrFloat
	AttrString
	AttrInts
	AttrFloats
	AttrStrings
	AttrTensor
)

// Attr is one node attribute.
type Attr struct {
	Kind    AttrKind
	Int     int64
	Float   float32
	Str     string
	Ints    []int64
	Floats  []float32
	Strings []string
	Tensor  *Tensor
}

// Attrs maps attribute names to values. A nil Attrs reads as empty.
type Attrs map[string]*Attr

// Has reports whether the attribute is set.
func (a Attrs) Has(name string) bool { _, ok := a[name]; return ok }

// Int returns an integer attribute or def when it is absent.
func (a Attrs) Int(name string, def int64) int64 {
	if at, ok := a[name]; ok {
		return at.Int
	}
	return def
}

// Float returns a float attribute or def when it is absent.
func (a Attrs) Float(name string, def float32) float32 {
	if at, ok := a[name]; ok {
		return at.Float
	}
	return def
}

// String returns a string attribute or def when it is absent.
func (a Attrs) String(name string, def string) string {
	if at, ok := a[name]; ok {
		return at.Str
	}
	return def
}

// Ints returns an ints attribute, or nil when it is absent.
func (a Attrs) Ints(name string) []int64 {
	if at, ok := a[name]; ok {
		return at.Ints
	}
	return nil
}

// Tensor returns a tensor attribute, or nil when it is absent.
func (a Attrs) Tensor(name string) *Tensor {
	if at, ok := a[name]; ok {
		return at.Tensor
	}
	return nil
}

// Names lists attribute names sorted, for stable printing and export.
func (a Attrs) Names() []string {
	names := make([]string, 0, len(a))
	for k := range a {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// Constructors keep graph-building code short.

func IntAttr(v int64) *Attr      { return &Attr{Kind: AttrInt, Int: v} }
func FloatAttr(v float32) *Attr  { return &Attr{Kind: AttrFloat, Float: v} }
func StringAttr(v string) *Attr  { return &Attr{Kind: AttrString, Str: v} }
func IntsAttr(v ...int64) *Attr  { return &Attr{Kind: AttrInts, Ints: v} }
func TensorAttr(t *Tensor) *Attr { return &Attr{Kind: AttrTensor, Tensor: t} }

func (at *Attr) String() string {
	switch at.Kind {
	case AttrInt:
		return fmt.Sprint(at.Int)
	case AttrFloat:
		return fmt.Sprint(at.Float)
	case AttrString:
		return fmt.Sprintf("%q", at.Str)
	case AttrInts:
		return fmt.Sprint(at.Ints)
	case AttrFloats:
		return fmt.Sprint(at.Floats)
	case AttrStrings:
		return fmt.Sprintf("%q", at.Strings)
	case AttrTensor:
		return at.Tensor.String()
	}
	return "?"
}
