package ir

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Dim is one axis length: Size × the product of the symbols in Sym.
//
//	{Size: 768}                  a fixed 768
//	{Size: 1, Sym: "batch"}      the symbol batch
//	{Size: 12, Sym: "batch*seq"} 12·batch·seq (what a Reshape can produce)
//	{Sym: "?"}                   unknown
//
// Inside symbolic values (see symvalue.go) a fixed Dim may also be negative:
// the -1 of a Reshape target.
//
// Keeping products symbolic lets Reshape/Flatten chains in BERT exports keep
// exact shapes ([batch,seq,768] → [batch*seq,768] → back) without numbers.
type Dim struct {
	Size int64
	Sym  string // "*"-joined sorted symbol names; "" for a fixed size
}

// Shape is an ordered list of dims.
type Shape []Dim

// Fixed returns a fixed dim.
func Fixed(n int64) Dim { return Dim{Size: n} }

// Symbol returns a symbolic dim.
func Symbol(name string) Dim { return Dim{Size: 1, Sym: name} }

// UnknownDim is an axis whose length nothing says.
var UnknownDim = Dim{Sym: "?"}

// StaticShape builds a shape of fixed dims.
func StaticShape(dims ...int) Shape {
	s := make(Shape, len(dims))
	for i, d := range dims {
		s[i] = Fixed(int64(d))
	}
	return s
}

// IsFixed reports whether the dim is a known number.
func (d Dim) IsFixed() bool { return d.Sym == "" }

// IsUnknown reports whether nothing is known about the dim.
func (d Dim) IsUnknown() bool { return d.Sym == "?" }

func (d Dim) String() string {
	switch {
	case d.IsUnknown():
		return "?"
	case d.Sym == "":
		return strconv.FormatInt(d.Size, 10)
	case d.Size == 1:
		return d.Sym
	}
	return fmt.Sprintf("%d*%s", d.Size, d.Sym)
}

// Mul multiplies two dims, keeping symbols.
func (d Dim) Mul(e Dim) Dim {
	if d.IsUnknown() || e.IsUnknown() {
		return UnknownDim
	}
	if d.Size == 0 || e.Size == 0 {
		return Fixed(0)
	}
	syms := append(splitSyms(d.Sym), splitSyms(e.Sym)...)
	sort.Strings(syms)
	return Dim{Size: d.Size * e.Size, Sym: strings.Join(syms, "*")}
}

// Div divides d by e when the quotient is exact (every symbol of e occurs in
// d and the sizes divide); ok is false otherwise.
func (d Dim) Div(e Dim) (q Dim, ok bool) {
	if d.IsUnknown() || e.IsUnknown() || e.Size == 0 || d.Size%e.Size != 0 {
		return UnknownDim, false
	}
	rest := splitSyms(d.Sym)
	for _, s := range splitSyms(e.Sym) {
		i := indexOf(rest, s)
		if i < 0 {
			return UnknownDim, false
		}
		rest = append(rest[:i], rest[i+1:]...)
	}
	return Dim{Size: d.Size / e.Size, Sym: strings.Join(rest, "*")}, true
}

func splitSyms(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, "*")
}

func indexOf(xs []string, s string) int {
	for i, x := range xs {
		if x == s {
			return i
		}
	}
	return -1
}

// NumElements multiplies all dims.
func (s Shape) NumElements() Dim {
	n := Fixed(1)
	for _, d := range s {
		n = n.Mul(d)
	}
	return n
}

// Ints returns the shape as plain ints when every dim is fixed.
func (s Shape) Ints() ([]int, bool) {
	out := make([]int, len(s))
	for i, d := range s {
		if !d.IsFixed() {
			return nil, false
		}
		out[i] = int(d.Size)
	}
	return out, true
}

// IsStatic reports whether every dim is fixed.
func (s Shape) IsStatic() bool { _, ok := s.Ints(); return ok }

func (s Shape) String() string {
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = d.String()
	}
	return "[" + strings.Join(parts, ",") + "]"
}

// Equal reports whether two shapes are the same dim for dim.
func (s Shape) Equal(t Shape) bool {
	if len(s) != len(t) {
		return false
	}
	for i := range s {
		if s[i] != t[i] {
			return false
		}
	}
	return true
}

// mayEqual reports whether two shapes may be equal at run time: same rank,
// and no pair of fixed dims differs.
func mayEqual(a, b Shape) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].IsFixed() && b[i].IsFixed() && a[i] != b[i] {
			return false
		}
	}
	return true
}

// Clone copies the shape.
func (s Shape) Clone() Shape { return append(Shape{}, s...) }

// ParseDims reads "8x128" or "batch x 128" style dims (x or , separated);
// a non-numeric entry becomes a symbol.
func ParseDims(text string) (Shape, error) {
	text = strings.TrimSpace(text)
	if text == "" {
		return Shape{}, nil
	}
	fields := strings.FieldsFunc(text, func(r rune) bool { return r == 'x' || r == ',' || r == 'X' })
	s := make(Shape, 0, len(fields))
	for _, f := range fields {
		f = strings.TrimSpace(f)
		if n, err := strconv.ParseInt(f, 10, 64); err == nil {
			if n < 0 {
				return nil, fmt.Errorf("negative dim %d in %q", n, text)
			}
			s = append(s, Fixed(n))
		} else if f != "" {
			s = append(s, Symbol(f))
		} else {
			return nil, fmt.Errorf("empty dim in %q", text)
		}
	}
	return s, nil
}
