package npy

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"crsc/compiler/ir"
	"crsc/internal/rawdata"
)

var magic = []byte("\x93NUMPY")

// maxHeaderLen bounds the header we are willing to buffer. Real headers are
// well under 1 KiB; the v2 format's 4 GiB length field would otherwise let a
// corrupt file make us allocate gigabytes before we notice anything wrong.
const maxHeaderLen = 1 << 20

// readChunk bounds each allocation while reading data, so that a header
// claiming a huge shape on a short input fails as truncated instead of
// allocating the claimed size up front.
const readChunk = 1 << 24

// descr describes one supported on-disk element type.
type descr struct {
	code  string // canonical descr as numpy writes it
	dtype ir.DType
	size  int
}

var descrs = []descr{
	{"<f4", ir.Float32, 4},
	{"<f8", ir.Float64, 8},
	{"<i8", ir.Int64, 8},
	{"<i4", ir.Int32, 4},
	{"|b1", ir.Bool, 1},
	{"|u1", ir.Uint8, 1},
	{"|i1", ir.Int8, 1},
	{"<f2", ir.Float16, 2},
}

func lookupDescr(s string) (descr, error) {
	for _, d := range descrs {
		if s == d.code {
			return d, nil
		}
		// Byte order is meaningless for one-byte types, and '=' (native)
		// is little-endian on every platform crsc targets; numpy itself
		// writes '|' and '<', but hand-made files may not.
		if len(s) == 3 && s[1:] == d.code[1:] {
			if d.size == 1 && strings.ContainsRune("<>=|", rune(s[0])) {
				return d, nil
			}
			if s[0] == '=' {
				return d, nil
			}
		}
	}
	if len(s) == 3 && s[0] == '>' {
		return descr{}, fmt.Errorf("unsupported dtype %q (big-endian)", s)
	}
	return descr{}, fmt.Errorf("unsupported dtype %q", s)
}

func descrFor(dt ir.DType) (descr, bool) {
	for _, d := range descrs {
		if d.dtype == dt {
			return d, true
		}
	}
	return descr{}, false
}

// Read decodes one .npy array from r, which must hold the array and
// nothing after it: trailing bytes are an error (a .npy file is exactly
// one array; extra bytes mean a corrupt or mislabelled file).
func Read(r io.Reader) (*ir.Tensor, error) {
	t, err := read(r)
	if err != nil {
		return nil, fmt.Errorf("npy: %w", err)
	}
	return t, nil
}

// ReadDir decodes every <prefix><name>.npy file in dir, keyed by name: a
// reference set's inputs (prefix "input_") or outputs ("output_").
func ReadDir(dir, prefix string) (map[string]*ir.Tensor, error) {
	files, err := filepath.Glob(filepath.Join(dir, prefix+"*.npy"))
	if err != nil {
		return nil, fmt.Errorf("npy: %w", err)
	}
	m := map[string]*ir.Tensor{}
	for _, f := range files {
		t, err := ReadFile(f)
		if err != nil {
			return nil, err
		}
		m[strings.TrimSuffix(strings.TrimPrefix(filepath.Base(f), prefix), ".npy")] = t
	}
	return m, nil
}

// ReadFile decodes the .npy file at path.
func ReadFile(path string) (*ir.Tensor, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("npy: %w", err)
	}
	defer f.Close()
	t, err := read(bufio.NewReaderSize(f, 1<<16))
	if err != nil {
		return nil, fmt.Errorf("npy: %s: %w", path, err)
	}
	return t, nil
}

func read(r io.Reader) (*ir.Tensor, error) {
	var pre [8]byte
	if n, err := io.ReadFull(r, pre[:]); err != nil {
		if n == 0 && err == io.EOF {
			return nil, errors.New("empty input, not a .npy file")
		}
		return nil, fmt.Errorf("truncated preamble (%d bytes), not a .npy file", n)
	}
	if !bytes.Equal(pre[:6], magic) {
		return nil, fmt.Errorf("bad magic %q, not a .npy file", pre[:6])
	}
	major, minor := pre[6], pre[7]
	var hlen int
	switch major {
	case 1:
		var b [2]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return nil, errors.New("truncated header length")
		}
		hlen = int(binary.LittleEndian.Uint16(b[:]))
	case 2, 3:
		var b [4]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return nil, errors.New("truncated header length")
		}
		n := binary.LittleEndian.Uint32(b[:])
		if n > maxHeaderLen {
			return nil, fmt.Errorf("header length %d exceeds the %d-byte limit", n, maxHeaderLen)
		}
		hlen = int(n)
	default:
		return nil, fmt.Errorf("unsupported format version %d.%d", major, minor)
	}
	header := make([]byte, hlen)
	if n, err := io.ReadFull(r, header); err != nil {
		return nil, fmt.Errorf("truncated header: want %d bytes, got %d", hlen, n)
	}
	h, err := parseHeader(string(header))
	if err != nil {
		return nil, err
	}
	d, err := lookupDescr(h.descr)
	if err != nil {
		return nil, err
	}
	if h.fortran {
		return nil, errors.New("fortran_order True is not supported (save a C-contiguous array, e.g. np.ascontiguousarray)")
	}
	n := 1
	for _, dim := range h.shape {
		if dim != 0 && n > math.MaxInt/8/dim {
			return nil, fmt.Errorf("shape %v is too large", h.shape)
		}
		n *= dim
	}
	nbytes := n * d.size
	raw, err := readN(r, nbytes)
	if err != nil {
		return nil, err
	}
	if extra, err := io.Copy(io.Discard, r); err != nil {
		return nil, fmt.Errorf("reading past the data: %v", err)
	} else if extra > 0 {
		return nil, fmt.Errorf("%d trailing bytes after the %d bytes of data that shape %v of %s needs", extra, nbytes, h.shape, h.descr)
	}
	return decode(d, h.shape, raw), nil
}

func readN(r io.Reader, nbytes int) ([]byte, error) {
	buf := make([]byte, 0, min(nbytes, readChunk))
	for len(buf) < nbytes {
		want := min(nbytes-len(buf), readChunk)
		buf = append(buf, make([]byte, want)...)
		got, err := io.ReadFull(r, buf[len(buf)-want:])
		if err != nil {
			return nil, fmt.Errorf("truncated data: header promises %d bytes, got %d", nbytes, len(buf)-want+got)
		}
	}
	return buf, nil
}

func decode(d descr, shape []int, raw []byte) *ir.Tensor {
	t := ir.NewTensor(d.dtype, shape...)
	rawdata.Decode(t, raw)
	return t
}

type header struct {
	descr   string
	fortran bool
	shape   []int
}

// parseHeader parses the Python dict literal numpy writes, e.g.
// {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
// numpy reads it with ast.literal_eval; we accept the subset that any numpy
// version (and Python 2's "3L" longs) produces.
func parseHeader(s string) (header, error) {
	p := &hparser{s: strings.TrimRight(s, " \t\r\n\x00")}
	var h header
	seen := map[string]bool{}
	if err := p.expect('{'); err != nil {
		return h, err
	}
	for {
		p.skipSpace()
		if p.peek() == '}' {
			p.pos++
			break
		}
		key, err := p.str()
		if err != nil {
			return h, err
		}
		if err := p.expect(':'); err != nil {
			return h, err
		}
		p.skipSpace()
		switch key {
		case "descr":
			if p.peek() == '[' {
				return h, errors.New("unsupported dtype: structured arrays are not supported")
			}
			h.descr, err = p.str()
		case "fortran_order":
			h.fortran, err = p.boolean()
		case "shape":
			h.shape, err = p.tuple()
		default:
			return h, p.errorf("unexpected key %q", key)
		}
		if err != nil {
			return h, err
		}
		seen[key] = true
		p.skipSpace()
		if p.peek() == ',' {
			p.pos++
			continue
		}
		if err := p.expect('}'); err != nil {
			return h, err
		}
		break
	}
	p.skipSpace()
	if p.pos != len(p.s) {
		return h, p.errorf("trailing characters")
	}
	for _, k := range []string{"descr", "fortran_order", "shape"} {
		if !seen[k] {
			return h, fmt.Errorf("bad header: missing key %q", k)
		}
	}
	return h, nil
}

type hparser struct {
	s   string
	pos int
}

func (p *hparser) errorf(format string, args ...any) error {
	ctx := p.s
	if len(ctx) > 80 {
		ctx = ctx[:80] + "..."
	}
	return fmt.Errorf("bad header at byte %d: %s in %q", p.pos, fmt.Sprintf(format, args...), ctx)
}

func (p *hparser) peek() byte {
	if p.pos < len(p.s) {
		return p.s[p.pos]
	}
	return 0
}

func (p *hparser) skipSpace() {
	for p.pos < len(p.s) && strings.IndexByte(" \t\r\n", p.s[p.pos]) >= 0 {
		p.pos++
	}
}

func (p *hparser) expect(c byte) error {
	p.skipSpace()
	if p.peek() != c {
		return p.errorf("expected %q", c)
	}
	p.pos++
	return nil
}

func (p *hparser) str() (string, error) {
	p.skipSpace()
	q := p.peek()
	if q != '\'' && q != '"' {
		return "", p.errorf("expected a string")
	}
	end := strings.IndexByte(p.s[p.pos+1:], q)
	if end < 0 {
		return "", p.errorf("unterminated string")
	}
	v := p.s[p.pos+1 : p.pos+1+end]
	if strings.IndexByte(v, '\\') >= 0 {
		return "", p.errorf("escapes in strings are not supported")
	}
	p.pos += end + 2
	return v, nil
}

func (p *hparser) boolean() (bool, error) {
	switch {
	case strings.HasPrefix(p.s[p.pos:], "True"):
		p.pos += 4
		return true, nil
	case strings.HasPrefix(p.s[p.pos:], "False"):
		p.pos += 5
		return false, nil
	}
	return false, p.errorf("expected True or False")
}

func (p *hparser) tuple() ([]int, error) {
	if err := p.expect('('); err != nil {
		return nil, err
	}
	shape := []int{}
	for {
		p.skipSpace()
		if p.peek() == ')' {
			p.pos++
			return shape, nil
		}
		start := p.pos
		for p.pos < len(p.s) && p.s[p.pos] >= '0' && p.s[p.pos] <= '9' {
			p.pos++
		}
		if start == p.pos {
			return nil, p.errorf("expected a non-negative integer dimension")
		}
		v, err := strconv.Atoi(p.s[start:p.pos])
		if err != nil {
			return nil, p.errorf("dimension %s out of range", p.s[start:p.pos])
		}
		if p.peek() == 'L' {
			p.pos++
		}
		shape = append(shape, v)
		p.skipSpace()
		switch p.peek() {
		case ',':
			p.pos++
		case ')':
		default:
			return nil, p.errorf("expected ',' or ')' in shape")
		}
	}
}

// Write encodes t as a .npy array. It uses format 1.0 unless the header
// needs more room, which is what numpy does, so files stay readable by old
// numpy versions.
func Write(w io.Writer, t *ir.Tensor) error {
	if err := write(w, t); err != nil {
		return fmt.Errorf("npy: %w", err)
	}
	return nil
}

// WriteFile writes t to path as a .npy file, replacing any existing file.
func WriteFile(path string, t *ir.Tensor) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("npy: %w", err)
	}
	bw := bufio.NewWriterSize(f, 1<<16)
	err = write(bw, t)
	if err == nil {
		err = bw.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return fmt.Errorf("npy: %s: %w", path, err)
	}
	return nil
}

// write checks t, then writes the header np.save would write and the
// elements in little-endian order.
func write(w io.Writer, t *ir.Tensor) error {
	if t == nil {
		return errors.New("nil tensor")
	}
	d, ok := descrFor(t.DType)
	if !ok {
		return fmt.Errorf("cannot write dtype %v", t.DType)
	}
	n, err := checkElements(t)
	if err != nil {
		return err
	}
	if _, err := w.Write(encodeHeader(d, t.Shape)); err != nil {
		return err
	}
	return writeElements(w, t, n, d.size)
}

// checkElements returns the element count of t's shape, which must match
// the length of the slice its dtype stores elements in: a mismatch would
// write a file whose header lies about its data.
func checkElements(t *ir.Tensor) (int, error) {
	n := 1
	for _, dim := range t.Shape {
		if dim < 0 {
			return 0, fmt.Errorf("negative dimension in shape %v", t.Shape)
		}
		n *= dim
	}
	have := -1
	switch t.DType {
	case ir.Float32, ir.Float16:
		have = len(t.F32)
	case ir.Float64:
		have = len(t.F64)
	case ir.Int64:
		have = len(t.I64)
	case ir.Int32, ir.Int8, ir.Uint8:
		have = len(t.I32)
	case ir.Bool:
		have = len(t.Bool)
	}
	if have != n {
		return 0, fmt.Errorf("%v tensor of shape %v has %d elements, want %d", t.DType, t.Shape, have, n)
	}
	return n, nil
}

// shapeTuple spells shape as a Python tuple: "()", "(3,)", "(2, 3)".
func shapeTuple(shape []int) string {
	var sb strings.Builder
	sb.WriteString("(")
	for i, dim := range shape {
		if i > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString(strconv.Itoa(dim))
	}
	if len(shape) == 1 {
		sb.WriteString(",")
	}
	sb.WriteString(")")
	return sb.String()
}

// encodeHeader returns the magic, version, header length and padded header
// dictionary, mirroring np.save byte for byte: it leaves room for the first
// dimension to grow to 21 digits (so appenders can rewrite the header in
// place), then pads with at least one space and a newline so the data
// starts on a 64-byte boundary, which keeps memory-mapped arrays aligned.
// Format 2.0 (a 4-byte length) is used only when 1.0's 2 bytes are too few.
func encodeHeader(d descr, shape []int) []byte {
	dict := fmt.Sprintf("{'descr': '%s', 'fortran_order': False, 'shape': %s, }", d.code, shapeTuple(shape))
	if len(shape) > 0 {
		dict += strings.Repeat(" ", max(0, 21-len(strconv.Itoa(shape[0]))))
	}
	pre := append([]byte{}, magic...)
	lenSize := 2
	if len(dict)+1+64 > math.MaxUint16 {
		lenSize = 4
	}
	pad := 64 - (len(magic)+2+lenSize+len(dict)+1)%64
	hlen := len(dict) + pad + 1
	if lenSize == 2 {
		pre = append(pre, 1, 0)
		pre = binary.LittleEndian.AppendUint16(pre, uint16(hlen))
	} else {
		pre = append(pre, 2, 0)
		pre = binary.LittleEndian.AppendUint32(pre, uint32(hlen))
	}
	pre = append(pre, dict...)
	pre = append(pre, bytes.Repeat([]byte(" "), pad)...)
	return append(pre, '\n')
}

// writeElements writes t's n elements of size bytes each, converted in
// batches so a large tensor needs no full-size byte copy. The 8-bit integer
// dtypes are held as int32, so a value outside their range is an error
// rather than silently wrapped.
func writeElements(w io.Writer, t *ir.Tensor, n, size int) error {
	if i := rawdata.OutOfRange(t); i >= 0 {
		return fmt.Errorf("%v tensor element %d = %d is out of range", t.DType, i, t.I32[i])
	}
	const batch = 1 << 14
	buf := make([]byte, 0, min(n, batch)*size)
	for start := 0; start < n; start += batch {
		buf = rawdata.Append(buf[:0], t, start, min(start+batch, n))
		if _, err := w.Write(buf); err != nil {
			return err
		}
	}
	return nil
}

// SafeName maps a graph output name to the file-name stem `crsc run` uses
// (DIR/<SafeName(name)>.npy): every character outside [A-Za-z0-9._-]
// becomes '_', so names like "logits:0" or "a/b" cannot escape DIR or trip
// up shells.
func SafeName(name string) string {
	var b strings.Builder
	for _, r := range name {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9',
			r == '.', r == '_', r == '-':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}
