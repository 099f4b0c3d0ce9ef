package data

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Example is one labelled row.
type Example struct {
	Index        int    // position in its file (0-based): the cache key of the ‖G‖ cache
	TextA, TextB string // TextB is empty for single-sentence tasks
	Class        int    // class index (classification)
	Target       float64
	Line         int // line in the file, for messages
}

// Column names GLUE and common exports use, in order of preference.
var (
	textANames = []string{"sentence", "text", "text_a", "sentence1", "#1 String", "question1", "premise"}
	textBNames = []string{"sentence2", "text_b", "#2 String", "question2", "hypothesis"}
	labelNames = []string{"label", "Quality", "score", "gold_label", "is_duplicate"}
)

// ReadFile reads the examples of a task from a file: .tsv (GLUE), .csv
// (with a header) or .jsonl/.json (JSON Lines). A folder means its
// train.tsv (or the file the caller names: see Find).
func ReadFile(path string, task *Task) ([]Example, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	switch strings.ToLower(filepath.Ext(path)) {
	case ".jsonl", ".json", ".ndjson":
		return readJSONL(f, path, task)
	case ".csv":
		return readCSV(f, path, task)
	default:
		return readTSV(f, path, task)
	}
}

// Find picks the split's file inside dir: <split>.tsv, .jsonl, .json or
// .csv. With no dev file, "dev" falls back to MNLI's dev_matched, so that
// a caller asking for one evaluation file gets GLUE's headline one; see
// FindDev for every evaluation file of a task.
func Find(dir, split string) (string, error) {
	if p, ok := findSplit(dir, split); ok {
		return p, nil
	}
	if split == "dev" {
		if p, ok := findSplit(dir, "dev_matched"); ok {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s: no %s.tsv, %s.jsonl or %s.csv", dir, split, split, split)
}

func findSplit(dir, split string) (string, bool) {
	for _, ext := range []string{".tsv", ".jsonl", ".json", ".csv"} {
		p := filepath.Join(dir, split+ext)
		if _, err := os.Stat(p); err == nil {
			return p, true
		}
	}
	return "", false
}

// Split is one evaluation file of a task and the name its metrics are
// reported under ("dev", or MNLI's "dev_matched" and "dev_mismatched").
type Split struct {
	Name string `json:"name"`
	Path string `json:"path"`
}

// FindDev returns the task's evaluation files inside dir, in the task's
// order (Task.DevSplits). Every one must be there: an MNLI run reports
// matched and mismatched accuracy, and a missing file is an error naming
// it rather than a silently shorter report.
func FindDev(dir string, task *Task) ([]Split, error) {
	names := task.DevSplits
	if len(names) == 0 {
		names = []string{"dev"}
	}
	var out []Split
	for _, n := range names {
		p, ok := findSplit(dir, n)
		if !ok {
			return nil, fmt.Errorf("%s: no %s.tsv, %s.jsonl or %s.csv (task %s evaluates on %s)", dir, n, n, n, task.Name, strings.Join(names, " and "))
		}
		out = append(out, Split{Name: n, Path: p})
	}
	return out, nil
}

// knownColumns are the column names findColumns reads: one of them twice
// in a header is ambiguous.
var knownColumns = func() map[string]bool {
	m := map[string]bool{"question": true}
	for _, names := range [][]string{textANames, textBNames, labelNames} {
		for _, n := range names {
			m[n] = true
		}
	}
	return m
}()

// columns locates the text and label columns in a header.
type columns struct{ a, b, label int }

func findColumns(header []string, task *Task) (columns, error) {
	index := map[string]int{}
	for i, h := range header {
		h = strings.TrimSpace(h)
		if j, dup := index[h]; dup && (knownColumns[h] || task.names(h)) {
			return columns{}, fmt.Errorf("column %q is in the header twice (columns %d and %d): which one holds the data is ambiguous", h, j+1, i+1)
		}
		index[h] = i
	}
	if len(task.TextColumns) > 0 || task.LabelColumn != "" {
		return task.customColumns(index, header)
	}
	find := func(names []string) int {
		for _, n := range names {
			if i, ok := index[n]; ok {
				return i
			}
		}
		return -1
	}
	c := columns{a: find(textANames), b: find(textBNames), label: find(labelNames)}
	// QNLI: question + sentence (the sentence is the second text).
	if q, ok := index["question"]; ok {
		c.b, c.a = c.a, q
	}
	if c.a < 0 {
		return c, fmt.Errorf("no text column (want one of %s) in header %q", strings.Join(textANames, ", "), strings.Join(header, " | "))
	}
	if task.Pair && c.b < 0 {
		return c, fmt.Errorf("task %s takes sentence pairs but the header %q has no second text column", task.Name, strings.Join(header, " | "))
	}
	if !task.Pair {
		c.b = -1
	}
	if c.label < 0 {
		return c, fmt.Errorf("no label column (want one of %s) in header %q", strings.Join(labelNames, ", "), strings.Join(header, " | "))
	}
	return c, nil
}

// row turns one record into an Example, validating its label.
func (c columns) row(rec []string, task *Task, idx, line int) (Example, error) {
	ex := Example{Index: idx, Line: line, TextA: rec[c.a]}
	if c.b >= 0 {
		ex.TextB = rec[c.b]
	}
	if strings.TrimSpace(ex.TextA) == "" {
		return ex, fmt.Errorf("empty text")
	}
	var err error
	ex.Class, ex.Target, err = task.ParseLabel(rec[c.label])
	return ex, err
}

// appendRow appends record rec, the current line of l, to out as an
// Example.
func (c columns) appendRow(out []Example, rec []string, task *Task, l *lines) ([]Example, error) {
	ex, err := c.row(rec, task, len(out), l.n)
	if err != nil {
		return nil, l.errorf("%v", err)
	}
	return append(out, ex), nil
}

// lines reads a TSV or JSON Lines file line by line, counting lines for
// messages, with room for long lines (64 MiB: pre-tokenized documents).
type lines struct {
	sc   *bufio.Scanner
	path string
	n    int // the current line, from 1
}

func newLines(r io.Reader, path string) *lines {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<26)
	return &lines{sc: sc, path: path}
}

// next advances to the next line; false at the end or on a read error.
func (l *lines) next() bool {
	if !l.sc.Scan() {
		return false
	}
	l.n++
	return true
}

// record advances to the next non-blank line and returns it trimmed:
// JSON Lines files may hold blank lines between records.
func (l *lines) record() ([]byte, bool) {
	for l.next() {
		if text := bytes.TrimSpace(l.sc.Bytes()); len(text) > 0 {
			return text, true
		}
	}
	return nil, false
}

// errorf is an error at the current line: path:line: message.
func (l *lines) errorf(format string, args ...any) error {
	return fmt.Errorf("%s:%d: %s", l.path, l.n, fmt.Sprintf(format, args...))
}

// err is the read error that ended the lines, at the line it stopped on,
// or nil at the end of the file.
func (l *lines) err() error {
	if err := l.sc.Err(); err != nil {
		return fmt.Errorf("%s:%d: %v", l.path, l.n+1, err)
	}
	return nil
}

// scanned ends a line-by-line read: l's read error, or out when it holds
// any example.
func scanned(l *lines, out []Example) ([]Example, error) {
	if err := l.err(); err != nil {
		return nil, err
	}
	return nonEmpty(out, l.path)
}

// readTSV reads a GLUE TSV: a header line, then tab-separated fields with
// no quoting (GLUE is read with quoting off). CoLA's header-less layout
// (source, label, original label, sentence) is recognized too.
func readTSV(r io.Reader, path string, task *Task) ([]Example, error) {
	l := newLines(r, path)
	var out []Example
	var cols columns
	width := 0
	for l.next() {
		text := strings.TrimSuffix(l.sc.Text(), "\r")
		if l.n == 1 {
			text = strings.TrimPrefix(text, "\ufeff")
		}
		fields := strings.Split(text, "\t")
		if l.n == 1 {
			if task.Name == "cola" && len(fields) == 4 && isInt(fields[1]) {
				cols, width = columns{a: 3, b: -1, label: 1}, 4
			} else {
				var err error
				if cols, err = findColumns(fields, task); err != nil {
					return nil, l.errorf("%v", err)
				}
				width = len(fields)
				continue
			}
		}
		if text == "" {
			return nil, l.errorf("empty line")
		}
		if len(fields) != width {
			return nil, l.errorf("%d tab-separated fields, the header has %d", len(fields), width)
		}
		var err error
		if out, err = cols.appendRow(out, fields, task, l); err != nil {
			return nil, err
		}
	}
	return scanned(l, out)
}

func isInt(s string) bool { _, err := strconv.Atoi(s); return err == nil }

func nonEmpty(out []Example, path string) ([]Example, error) {
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no examples", path)
	}
	return out, nil
}

// readCSV reads a CSV file with a header (RFC 4180 quoting).
func readCSV(r io.Reader, path string, task *Task) ([]Example, error) {
	cr := csv.NewReader(r)
	header, err := cr.Read()
	if err == io.EOF {
		return nil, fmt.Errorf("%s: empty file, no header line", path)
	}
	if err != nil {
		return nil, csvError(path, err)
	}
	if len(header) > 0 {
		header[0] = strings.TrimPrefix(header[0], "\ufeff")
	}
	cols, err := findColumns(header, task)
	if err != nil {
		return nil, fmt.Errorf("%s:1: %v", path, err)
	}
	var out []Example
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		var pe *csv.ParseError
		if errors.As(err, &pe) && errors.Is(pe.Err, csv.ErrFieldCount) {
			return nil, fmt.Errorf("%s:%d: %d comma-separated fields, the header has %d", path, pe.Line, len(rec), len(header))
		}
		if err != nil {
			return nil, csvError(path, err)
		}
		// FieldPos is only defined for a record Read returned without error.
		line, _ := cr.FieldPos(0)
		ex, err := cols.row(rec, task, len(out), line)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %v", path, line, err)
		}
		out = append(out, ex)
	}
	return nonEmpty(out, path)
}

// jsonObject decodes one JSON object, keeping its keys in order and
// refusing a key given twice (a map decode would keep the last silently).
func jsonObject(text []byte) ([]string, []json.RawMessage, error) {
	bad := func(err error) ([]string, []json.RawMessage, error) {
		return nil, nil, fmt.Errorf("not a JSON object: %v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(text))
	if tok, err := dec.Token(); err != nil {
		return bad(err)
	} else if tok != json.Delim('{') {
		return bad(fmt.Errorf("the line is %s", jsonKind(tok)))
	}
	var keys []string
	var vals []json.RawMessage
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return bad(err)
		}
		key, _ := tok.(string) // object keys are strings
		if seen[key] {
			return nil, nil, fmt.Errorf("field %q is given twice", key)
		}
		seen[key] = true
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return bad(err)
		}
		keys, vals = append(keys, key), append(vals, raw)
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return bad(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return bad(errors.New("more after the object's closing brace"))
	}
	return keys, vals, nil
}

// jsonKind names the JSON value a first token starts.
func jsonKind(tok json.Token) string {
	switch tok.(type) {
	case json.Delim:
		return "a list"
	case string:
		return "a string"
	case float64:
		return "a number"
	case bool:
		return "true or false"
	}
	return "null"
}

// csvError names the file and the line of a CSV read error. A quote left
// open runs to the end of the file, so the line where the record starts
// (StartLine) is the one to show, with the line where reading stopped.
func csvError(path string, err error) error {
	var pe *csv.ParseError
	if !errors.As(err, &pe) {
		return fmt.Errorf("%s: %v", path, err)
	}
	if errors.Is(pe.Err, csv.ErrQuote) && pe.StartLine != pe.Line {
		return fmt.Errorf("%s:%d: %v (in the quoted field that starts there; reading stopped at line %d)", path, pe.StartLine, pe.Err, pe.Line)
	}
	return fmt.Errorf("%s:%d: %v", path, pe.Line, pe.Err)
}

// readJSONL reads one JSON object per line: {"text", "label"} or a pair
// form ({"text_a", "text_b"} or {"sentence1", "sentence2"}); any of the
// TSV column names work. Labels may be strings or numbers.
func readJSONL(r io.Reader, path string, task *Task) ([]Example, error) {
	l := newLines(r, path)
	var out []Example
	for text, ok := l.record(); ok; text, ok = l.record() {
		keys, vals, err := jsonObject(text)
		if err != nil {
			return nil, l.errorf("%v", err)
		}
		if _, err := findColumns(keys, task); err != nil && contains(keys, "input_ids") {
			return nil, l.errorf("pre-tokenized (an \"input_ids\" field and no text): read it with ReadTokenized")
		}
		rec := make([]string, len(keys))
		for i, k := range keys {
			if rec[i], err = scalar(vals[i]); err != nil {
				return nil, l.errorf("field %q is %v", k, err)
			}
		}
		cols, err := findColumns(keys, task)
		if err != nil {
			return nil, l.errorf("%v", err)
		}
		if out, err = cols.appendRow(out, rec, task, l); err != nil {
			return nil, err
		}
	}
	return scanned(l, out)
}
