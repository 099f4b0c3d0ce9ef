package emu

import (
	"fmt"
	"strings"
)

// kind is how a kernel parameter is passed: the size and class of value the
// launch must supply for it.
type kind byte

const (
	kindPtr kind = 'p' // any pointer: takes a cuda.Ptr
	kindI32 kind = 'i' // 4-byte integer: int32 or uint32
	kindI64 kind = 'I' // 8-byte integer: int64 or uint64
	kindF32 kind = 'f' // float: float32
)

func (k kind) String() string {
	switch k {
	case kindPtr:
		return "pointer"
	case kindI32:
		return "32-bit integer"
	case kindI64:
		return "64-bit integer"
	case kindF32:
		return "float"
	}
	return fmt.Sprintf("kind(%q)", byte(k))
}

// kernel is one entry point of a module.
type kernel struct {
	name   string
	kinds  []kind
	params []string // parameter names, for error messages
	// barrier says the kernel may call __syncthreads and so must run its
	// threads as fibers. Only needed to generate the module.
	barrier bool
}

// scalarKinds maps the scalar parameter types a launch can pass.
var scalarKinds = map[string]kind{
	"int": kindI32, "signed": kindI32, "signed int": kindI32, "unsigned": kindI32,
	"unsigned int": kindI32, "u32": kindI32, "int32_t": kindI32, "uint32_t": kindI32,
	"long long": kindI64, "long long int": kindI64, "signed long long": kindI64,
	"unsigned long long": kindI64, "unsigned long long int": kindI64, "i64": kindI64,
	"u64": kindI64, "int64_t": kindI64, "uint64_t": kindI64, "size_t": kindI64,
	"long": kindI64, "unsigned long": kindI64,
	"float": kindF32,
}

// marker is what __global__ expands to in the scan pass.
const marker = "__crsc_kernel__"

// userText returns the part of preprocessed output (with line markers) that
// follows emu.h, without the markers: the prelude and the kernel source.
func userText(pre string) string {
	if i := strings.Index(pre, "\"prelude.cuh\""); i >= 0 {
		pre = pre[i:]
		if j := strings.IndexByte(pre, '\n'); j >= 0 {
			pre = pre[j+1:]
		}
	}
	var b strings.Builder
	for _, line := range strings.SplitAfter(pre, "\n") {
		if len(line) > 2 && line[0] == '#' && line[1] == ' ' && line[2] >= '0' && line[2] <= '9' {
			continue
		}
		b.WriteString(line)
	}
	return b.String()
}

// scanKernels finds every kernel in text (see userText): marker, then a
// void function declaration or definition. Macro-generated kernels are
// found too, because the text has been through the preprocessor.
//
// It also decides which kernels need fibers: those whose body calls
// __syncthreads, or all of them when anything outside kernel bodies (a
// DEVICE helper) does. The others run their threads as plain calls.
func scanKernels(text string) ([]kernel, error) {
	var ks []kernel
	seen := map[string]int{}
	var outside strings.Builder // text without kernel bodies
	pos, last := 0, 0
	for {
		i := strings.Index(text[pos:], marker)
		if i < 0 {
			break
		}
		start := pos + i + len(marker)
		k, rest, err := parseKernel(text[start:])
		if err != nil {
			return nil, err
		}
		pos = len(text) - len(rest)
		if tok, after := nextToken(rest); tok == "{" {
			open := len(text) - len(after) - 1
			end := matchBrace(text, open)
			k.barrier = strings.Contains(text[open:end], "__syncthreads")
			outside.WriteString(text[last:open])
			pos, last = end, end
		}
		if j, ok := seen[k.name]; ok {
			// A declaration and a definition of the same kernel.
			if string(ks[j].kinds) != string(k.kinds) {
				return nil, fmt.Errorf("kernel %s is declared with different parameters", k.name)
			}
			ks[j].barrier = ks[j].barrier || k.barrier
			continue
		}
		seen[k.name] = len(ks)
		ks = append(ks, k)
	}
	outside.WriteString(text[last:])
	if strings.Contains(outside.String(), "__syncthreads") {
		for i := range ks {
			ks[i].barrier = true
		}
	}
	return ks, nil
}

// matchBrace returns the index just after the brace matching the one at
// open (or len(text) if unbalanced).
func matchBrace(text string, open int) int {
	depth := 0
	for i := open; i < len(text); i++ {
		switch text[i] {
		case '{':
			depth++
		case '}':
			depth--
			if depth == 0 {
				return i + 1
			}
		}
	}
	return len(text)
}

// parseKernel parses "void name(params)" at the start of text.
func parseKernel(text string) (kernel, string, error) {
	var k kernel
	var head []string
	for {
		tok, rest := nextToken(text)
		text = rest
		if tok == "" || tok == ";" || tok == "{" {
			return k, text, fmt.Errorf("kernel declaration without a parameter list near %q", snippet(text))
		}
		if tok == "(" {
			break
		}
		head = append(head, tok)
	}
	if len(head) < 2 || !isIdent(head[len(head)-1]) || !contains(head, "void") {
		return k, text, fmt.Errorf("kernel must be declared \"KERNEL void name(...)\", got %q", strings.Join(head, " "))
	}
	k.name = head[len(head)-1]
	var param []string
	depth := 0
	for {
		tok, rest := nextToken(text)
		text = rest
		switch {
		case tok == "":
			return k, text, fmt.Errorf("kernel %s: unterminated parameter list", k.name)
		case tok == "(" || tok == "[" || tok == "<":
			depth++
		case (tok == ")" || tok == "]" || tok == ">") && depth > 0:
			depth--
		case tok == ")" || tok == "," && depth == 0:
			if err := k.addParam(param, tok == ")" && len(k.kinds) == 0); err != nil {
				return k, text, err
			}
			param = nil
			if tok == ")" {
				return k, text, nil
			}
			continue
		}
		param = append(param, tok)
	}
}

// addParam classifies one parameter's tokens. only says this is the sole
// parameter, where "()" and "(void)" mean none.
func (k *kernel) addParam(toks []string, only bool) error {
	var words []string
	ptr := false
	for _, t := range toks {
		switch t {
		case "const", "volatile", "__restrict__", "__restrict", "restrict":
		case "*", "[", "]":
			ptr = true
		default:
			words = append(words, t)
		}
	}
	if only && (len(words) == 0 || len(words) == 1 && words[0] == "void" && !ptr) {
		return nil
	}
	name := fmt.Sprintf("#%d", len(k.kinds))
	if n := len(words); n > 1 && isIdent(words[n-1]) && !typeWord[words[n-1]] {
		name, words = words[n-1], words[:n-1]
	}
	typ := strings.Join(words, " ")
	bad := func(why string) error {
		return fmt.Errorf("kernel %s parameter %s (%s): %s", k.name, name, strings.Join(toks, " "), why)
	}
	for _, w := range words {
		if !isIdent(w) && !ptr {
			return bad("unsupported declarator")
		}
	}
	kd := kindPtr
	if !ptr {
		var ok bool
		if kd, ok = scalarKinds[typ]; !ok {
			return bad("unsupported type; use a pointer, int, unsigned, long long, unsigned long long, i64, u64, u32 or float")
		}
	}
	k.kinds = append(k.kinds, kd)
	k.params = append(k.params, name)
	return nil
}

// typeWord lists words that end a type and so are not a parameter name.
var typeWord = map[string]bool{"int": true, "long": true, "unsigned": true, "signed": true,
	"float": true, "void": true, "char": true, "short": true, "double": true}

// nextToken returns the next identifier, number or punctuation character.
func nextToken(s string) (tok, rest string) {
	s = strings.TrimLeft(s, " \t\r\n")
	if s == "" {
		return "", ""
	}
	n := 1
	if isIdentByte(s[0]) {
		for n < len(s) && isIdentByte(s[n]) {
			n++
		}
	}
	return s[:n], s[n:]
}

func isIdentByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func isIdent(s string) bool {
	return s != "" && isIdentByte(s[0]) && (s[0] < '0' || s[0] > '9')
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func snippet(s string) string {
	if len(s) > 40 {
		s = s[:40]
	}
	return s
}

// encodeKernels and decodeKernels carry the kernel list inside the shared
// object (crsc_emu_kernels), so a cached object needs no second scan.
// One kernel per line: name, kinds, comma-separated parameter names.
func encodeKernels(ks []kernel) string {
	var b strings.Builder
	for _, k := range ks {
		fmt.Fprintf(&b, "%s %s %s\n", k.name, string(k.kinds), strings.Join(k.params, ","))
	}
	return b.String()
}

func decodeKernels(s string) ([]kernel, error) {
	var ks []kernel
	for _, line := range strings.Split(s, "\n") {
		if line == "" {
			continue
		}
		f := strings.Split(line, " ")
		if len(f) != 3 {
			return nil, fmt.Errorf("bad kernel table line %q", line)
		}
		k := kernel{name: f[0], kinds: []kind(f[1])}
		if f[2] != "" {
			k.params = strings.Split(f[2], ",")
		}
		if len(k.params) != len(k.kinds) {
			return nil, fmt.Errorf("bad kernel table line %q", line)
		}
		ks = append(ks, k)
	}
	return ks, nil
}
