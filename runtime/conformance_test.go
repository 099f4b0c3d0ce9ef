package runtime_test

// The ONNX per-op conformance suite: the node tests of ONNX's backend test
// data (Debian's libonnx-testdata, ONNX 1.12), each a one-op model.onnx with
// test_data_set_*/input_N.pb and output_N.pb, run through the same load
// pipeline and executor a user's model goes through.
//
// Which cases must pass is pinned in testdata/conformance/must_pass.txt, so
// coverage cannot shrink silently: a pinned case that stops passing fails
// TestConformance, and TestConformanceCoverage fails when a CPU op with test
// data has no pinned case (unless every one of its cases is excluded below,
// with a reason). Regenerate the list after adding or fixing kernels with
//
//	go test ./runtime -run 'TestConformance$' -update-conformance -v
//
// which runs every case whose ops the CPU backend supports, logs each
// failure with its symptom, prints a summary and rewrites the list with the
// cases that pass.

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"crsc/compiler/ir"
	"crsc/compiler/onnx"
	pb "crsc/compiler/onnx/onnxpb"
	"crsc/compiler/passes"
	"crsc/runtime"
	"crsc/runtime/cpu"
)

var updateConformance = flag.Bool("update-conformance", false,
	"run every ONNX node test whose ops the CPU backend supports and rewrite testdata/conformance/must_pass.txt with those that pass")

const (
	// defaultNodeTestDir is where Debian's libonnx-testdata puts the node
	// tests; ONNX_NODE_TESTDATA overrides it.
	defaultNodeTestDir = "/usr/share/libonnx-testdata/data/node"
	mustPassFile       = "testdata/conformance/must_pass.txt"

	// The tolerances of ONNX's backend tests (onnx/backend/test/runner).
	conformanceRtol = 1e-3
	conformanceAtol = 1e-7

	// caseTimeout bounds one case, so a kernel stuck in a loop fails its
	// case instead of hanging the suite.
	caseTimeout = 20 * time.Second
)

// conformanceExclusions are cases that legitimately cannot pass on the CPU
// backend, with the reason. An op whose every case is excluded needs no
// pinned case in TestConformanceCoverage; an excluded case must not be
// pinned (fix the entry instead of keeping both). Keep reasons precise: they
// are the to-do list of what crsc deliberately does not do.
var conformanceExclusions = map[string]string{
	// Element types crsc has no storage for: ir.Tensor holds f32, f64, i64,
	// i32 and bool (f16, i8 and u8 widened into them); strings, bfloat16,
	// int16 and the unsigned 16/32/64-bit types are rejected at import.
	"test_cast_BFLOAT16_to_FLOAT":              "bfloat16 tensors are not supported",
	"test_cast_FLOAT_to_BFLOAT16":              "bfloat16 tensors are not supported",
	"test_cast_FLOAT_to_STRING":                "string tensors are not supported",
	"test_cast_STRING_to_FLOAT":                "string tensors are not supported",
	"test_castlike_BFLOAT16_to_FLOAT":          "bfloat16 tensors are not supported",
	"test_castlike_BFLOAT16_to_FLOAT_expanded": "bfloat16 tensors are not supported",
	"test_castlike_FLOAT_to_BFLOAT16":          "bfloat16 tensors are not supported",
	"test_castlike_FLOAT_to_BFLOAT16_expanded": "bfloat16 tensors are not supported",
	"test_castlike_FLOAT_to_STRING":            "string tensors are not supported",
	"test_castlike_FLOAT_to_STRING_expanded":   "string tensors are not supported",
	"test_castlike_STRING_to_FLOAT":            "string tensors are not supported",
	"test_castlike_STRING_to_FLOAT_expanded":   "string tensors are not supported",
	"test_max_int16":                           "int16 tensors are not supported",
	"test_max_uint16":                          "uint16 tensors are not supported",
	"test_max_uint32":                          "uint32 tensors are not supported",
	"test_max_uint64":                          "uint64 tensors are not supported",
	"test_min_int16":                           "int16 tensors are not supported",
	"test_min_uint16":                          "uint16 tensors are not supported",
	"test_min_uint32":                          "uint32 tensors are not supported",
	"test_min_uint64":                          "uint64 tensors are not supported",
	"test_mod_mixed_sign_int16":                "int16 tensors are not supported",
	"test_mod_uint16":                          "uint16 tensors are not supported",
	"test_mod_uint32":                          "uint32 tensors are not supported",
	"test_mod_uint64":                          "uint64 tensors are not supported",
	"test_pow_types_float32_uint32":            "uint32 tensors are not supported",
	"test_pow_types_float32_uint64":            "uint64 tensors are not supported",

	// Sequence and optional values: the IR carries tensors only.
	"test_identity_opt":      "optional types are not supported",
	"test_identity_sequence": "sequence types are not supported",

	// Training-mode Dropout: the expected outputs come from numpy's
	// np.random.seed(0) stream; crsc draws masks from its own counter-based
	// generator (runtime/rng, keyed by seed, step and node) so that a
	// backward pass can regenerate them. Eval-mode and ratio-0 cases run.
	"test_training_dropout":              "mask depends on numpy's RNG stream",
	"test_training_dropout_default":      "mask depends on numpy's RNG stream",
	"test_training_dropout_default_mask": "mask depends on numpy's RNG stream",
	"test_training_dropout_mask":         "mask depends on numpy's RNG stream",
}

// nodeTestDir returns the node test folder, or skips (fails on CI) when it
// is absent.
func nodeTestDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("ONNX_NODE_TESTDATA")
	if dir == "" {
		dir = defaultNodeTestDir
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		if os.Getenv("CI") != "" {
			t.Fatalf("ONNX node test data %s is missing on CI (apt-get install libonnx-testdata, or set ONNX_NODE_TESTDATA)", dir)
		}
		t.Skipf("ONNX node test data %s not present (apt-get install libonnx-testdata, or set ONNX_NODE_TESTDATA); skipping the conformance suite", dir)
	}
	return dir
}

// conformanceCase is one node test folder, read from its model.onnx only
// (no import), so that cases crsc cannot load are still classified.
type conformanceCase struct {
	name, dir string
	// ops are the distinct op types of the model's nodes, default-domain
	// ops by name and others as "domain:Op" (the form cpu.Ops uses).
	ops []string
	// tested is the op the case tests: the model's only op type, or, when it
	// has several, the one whose name matches the case name; empty for a
	// composite (e.g. an _expanded function body).
	tested string
	// supported: the CPU backend has a kernel for every node.
	supported bool
}

func canonicalDomain(d string) string {
	if d == "ai.onnx" {
		return ""
	}
	return d
}

func opKey(domain, op string) string {
	if d := canonicalDomain(domain); d != "" {
		return d + ":" + op
	}
	return op
}

// squash lowercases and drops underscores and the domain, so that an op
// type can be matched against a case name (CastLike ~ castlike_float_...).
func squash(s string) string {
	if i := strings.LastIndexByte(s, ':'); i >= 0 {
		s = s[i+1:]
	}
	return strings.ReplaceAll(strings.ToLower(s), "_", "")
}

func readCase(dir, name string) (*conformanceCase, error) {
	data, err := os.ReadFile(filepath.Join(dir, name, "model.onnx"))
	if err != nil {
		return nil, err
	}
	var m pb.ModelProto
	if err := proto.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	c := &conformanceCase{name: name, dir: filepath.Join(dir, name), supported: true}
	seen := map[string]bool{}
	for _, n := range m.GetGraph().GetNode() {
		k := opKey(n.GetDomain(), n.GetOpType())
		if !seen[k] {
			seen[k] = true
			c.ops = append(c.ops, k)
		}
		if !runtime.CPU(runtime.Options{}).Supports(canonicalDomain(n.GetDomain()), n.GetOpType()) {
			c.supported = false
		}
	}
	sort.Strings(c.ops)
	switch {
	case len(c.ops) == 1:
		c.tested = c.ops[0]
	case len(c.ops) > 1:
		// Several op types (a Constant feeding the op, or a function body):
		// the tested op is the longest one the case is named after.
		rest := squash(strings.TrimPrefix(name, "test_"))
		for _, op := range c.ops {
			if s := squash(op); strings.HasPrefix(rest, s) && len(s) > len(squash(c.tested)) {
				c.tested = op
			}
		}
	}
	return c, nil
}

// listCases reads every case folder of dir.
func listCases(t *testing.T, dir string) []*conformanceCase {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var cases []*conformanceCase
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		if _, err := os.Stat(filepath.Join(dir, e.Name(), "model.onnx")); err != nil {
			continue
		}
		c, err := readCase(dir, e.Name())
		if err != nil {
			t.Fatal(err)
		}
		cases = append(cases, c)
	}
	if len(cases) == 0 {
		t.Fatalf("no node test cases in %s", dir)
	}
	return cases
}

// readMustPass parses the pinned list: one case per line, # comments.
func readMustPass(t *testing.T) []string {
	t.Helper()
	f, err := os.Open(mustPassFile)
	if err != nil {
		t.Fatalf("%v (generate it with go test ./runtime -run 'TestConformance$' -update-conformance)", err)
	}
	defer f.Close()
	var names []string
	seen := map[string]int{}
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		s := sc.Text()
		if i := strings.IndexByte(s, '#'); i >= 0 {
			s = s[:i]
		}
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if prev, dup := seen[s]; dup {
			t.Errorf("%s:%d: %s is already listed on line %d", mustPassFile, line, s, prev)
			continue
		}
		seen[s] = line
		names = append(names, s)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return names
}

func writeMustPass(names []string) error {
	var b strings.Builder
	b.WriteString(`# ONNX node conformance cases (libonnx-testdata, ONNX 1.12) that must pass
# on the CPU backend; TestConformance runs each of them. Generated by
#
#   go test ./runtime -run 'TestConformance$' -update-conformance -v
#
# which rewrites this file with every case that passes. Removing a case
# shrinks coverage: fix the kernel instead, or add the case to
# conformanceExclusions in runtime/conformance_test.go with a reason.
`)
	for _, n := range names {
		b.WriteString(n)
		b.WriteByte('\n')
	}
	if err := os.MkdirAll(filepath.Dir(mustPassFile), 0o755); err != nil {
		return err
	}
	return os.WriteFile(mustPassFile, []byte(b.String()), 0o644)
}

// runCase loads the case's model through the load pipeline and checks every
// test data set. It recovers panics (constant folding runs kernels outside
// the executor's guard) and gives up after caseTimeout.
func runCase(dir string) error {
	done := make(chan error, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				done <- fmt.Errorf("panic: %v", r)
			}
		}()
		done <- runCaseUnguarded(dir)
	}()
	select {
	case err := <-done:
		return err
	case <-time.After(caseTimeout):
		return fmt.Errorf("timed out after %v", caseTimeout)
	}
}

func runCaseUnguarded(dir string) error {
	modelPath := filepath.Join(dir, "model.onnx")
	data, err := os.ReadFile(modelPath)
	if err != nil {
		return err
	}
	var m pb.ModelProto
	if err := proto.Unmarshal(data, &m); err != nil {
		return fmt.Errorf("decode: %v", err)
	}
	inits := map[string]bool{}
	for _, tp := range m.GetGraph().GetInitializer() {
		inits[tp.GetName()] = true
	}
	var inputNames []string
	for _, vi := range m.GetGraph().GetInput() {
		if !inits[vi.GetName()] {
			inputNames = append(inputNames, vi.GetName())
		}
	}

	g, err := onnx.Load(modelPath)
	if err != nil {
		return fmt.Errorf("load: %v", err)
	}
	cfg := &passes.Config{Supports: runtime.CPU(runtime.Options{}).Supports}
	if err := passes.Run(g, passes.Load, cfg); err != nil {
		return fmt.Errorf("passes: %v", err)
	}

	sets, _ := filepath.Glob(filepath.Join(dir, "test_data_set_*"))
	if len(sets) == 0 {
		return errors.New("no test_data_set_*")
	}
	sort.Strings(sets)
	for _, set := range sets {
		if err := runDataSet(g, inputNames, set); err != nil {
			if len(sets) > 1 {
				return fmt.Errorf("%s: %v", filepath.Base(set), err)
			}
			return err
		}
	}
	return nil
}

func readTensorPB(path string) (*ir.Tensor, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var tp pb.TensorProto
	if err := proto.Unmarshal(data, &tp); err != nil {
		return nil, fmt.Errorf("%s: %v", filepath.Base(path), err)
	}
	t, err := onnx.TensorFromProto(&tp, "")
	if err != nil {
		return nil, fmt.Errorf("%s: %v", filepath.Base(path), err)
	}
	return t, nil
}

func runDataSet(g *ir.Graph, inputNames []string, set string) error {
	inPaths, _ := filepath.Glob(filepath.Join(set, "input_*.pb"))
	outPaths, _ := filepath.Glob(filepath.Join(set, "output_*.pb"))
	if len(inPaths) > len(inputNames) {
		return fmt.Errorf("%d input files for %d graph inputs", len(inPaths), len(inputNames))
	}
	inputs := map[string]*ir.Tensor{}
	for i := range inPaths {
		t, err := readTensorPB(filepath.Join(set, fmt.Sprintf("input_%d.pb", i)))
		if err != nil {
			return fmt.Errorf("input: %v", err)
		}
		inputs[inputNames[i]] = t
	}
	if len(outPaths) != len(g.Outputs) {
		return fmt.Errorf("%d output files for %d graph outputs", len(outPaths), len(g.Outputs))
	}
	wants := make([]*ir.Tensor, len(outPaths))
	for i := range outPaths {
		t, err := readTensorPB(filepath.Join(set, fmt.Sprintf("output_%d.pb", i)))
		if err != nil {
			return fmt.Errorf("expected output: %v", err)
		}
		wants[i] = t
	}
	got, err := runtime.Run(g, inputs, runtime.Options{Threads: 1})
	if err != nil {
		return fmt.Errorf("run: %v", err)
	}
	var problems []string
	for i, v := range g.Outputs {
		if err := compareTensor(got[v.Name], wants[i]); err != nil {
			problems = append(problems, fmt.Sprintf("output %d (%s): %v", i, v.Name, err))
		}
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

// compareTensor checks dtype and shape exactly and values elementwise with
// |got-want| <= atol + rtol*|want|; NaN matches NaN, equal infinities match.
func compareTensor(got, want *ir.Tensor) error {
	if got == nil {
		return errors.New("not computed")
	}
	if got.DType != want.DType {
		return fmt.Errorf("dtype %v, want %v", got.DType, want.DType)
	}
	if !slices.Equal(got.Shape, want.Shape) {
		return fmt.Errorf("shape %v, want %v", got.Shape, want.Shape)
	}
	// The shapes match, so CheckData's storage check is against n.
	n := want.Len()
	if err := got.CheckData(); err != nil {
		return err
	}
	bad, first := 0, -1
	maxDiff := 0.0
	for i := 0; i < n; i++ {
		var ok bool
		var diff float64
		if want.DType == ir.Bool {
			ok = got.Bool[i] == want.Bool[i]
			if !ok {
				diff = 1
			}
		} else {
			g, w := got.Float64At(i), want.Float64At(i)
			diff = math.Abs(g - w)
			switch {
			case math.IsNaN(w) || math.IsNaN(g):
				ok = math.IsNaN(w) && math.IsNaN(g)
				if !ok {
					diff = math.Inf(1)
				}
			case g == w:
				ok, diff = true, 0
			case math.IsInf(w, 0) || math.IsInf(g, 0):
				ok, diff = false, math.Inf(1)
			default:
				ok = diff <= conformanceAtol+conformanceRtol*math.Abs(w)
			}
		}
		if !ok {
			bad++
			if first < 0 {
				first = i
			}
		}
		if diff > maxDiff || math.IsNaN(diff) {
			maxDiff = diff
		}
	}
	if bad > 0 {
		return fmt.Errorf("%d of %d values differ, max abs diff %.3g; first at flat index %d: got %v, want %v",
			bad, n, maxDiff, first, elemString(got, first), elemString(want, first))
	}
	return nil
}

func elemString(t *ir.Tensor, i int) string {
	if t.DType == ir.Bool {
		return fmt.Sprint(t.Bool[i])
	}
	return fmt.Sprint(t.Float64At(i))
}

// TestConformance runs every pinned case (each a subtest); with
// -update-conformance it instead runs every supported case and rewrites the
// pinned list.
func TestConformance(t *testing.T) {
	dir := nodeTestDir(t)
	if *updateConformance {
		updateMustPass(t, dir)
		return
	}
	pinned := readMustPass(t)
	if len(pinned) == 0 {
		t.Fatalf("%s pins no cases", mustPassFile)
	}
	var mu sync.Mutex
	failed := 0
	t.Run("cases", func(t *testing.T) {
		for _, name := range pinned {
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				fail := func(format string, args ...any) {
					mu.Lock()
					failed++
					mu.Unlock()
					t.Fatalf(format, args...)
				}
				if reason, ok := conformanceExclusions[name]; ok {
					fail("pinned but listed in conformanceExclusions (%s): drop one of the two", reason)
				}
				caseDir := filepath.Join(dir, name)
				if _, err := os.Stat(filepath.Join(caseDir, "model.onnx")); err != nil {
					fail("pinned case is missing from %s: %v", dir, err)
				}
				if err := runCase(caseDir); err != nil {
					fail("%v", err)
				}
			})
		}
	})
	t.Logf("conformance: %d pinned cases, %d passed, %d failed", len(pinned), len(pinned)-failed, failed)
}

type caseResult struct {
	c   *conformanceCase
	err error
}

// updateMustPass runs every case whose ops are all supported, logs each
// failure and a summary, and rewrites the pinned list with the passes.
func updateMustPass(t *testing.T, dir string) {
	cases := listCases(t, dir)
	var todo []*conformanceCase
	unsupported := 0
	for _, c := range cases {
		if c.supported {
			todo = append(todo, c)
		} else {
			unsupported++
		}
	}
	results := runCasesParallel(todo)
	passed := logFailures(t, results)
	logDropped(t, passed)
	if err := writeMustPass(passed); err != nil {
		t.Fatal(err)
	}
	t.Logf("conformance: %d cases: %d passed, %d failed, %d unsupported (an op without a CPU kernel); wrote %s",
		len(cases), len(passed), len(todo)-len(passed), unsupported, mustPassFile)
}

// runCasesParallel runs the cases on every core.
func runCasesParallel(todo []*conformanceCase) []caseResult {
	results := make([]caseResult, len(todo))
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < goruntime.GOMAXPROCS(0); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				results[i] = caseResult{todo[i], runCase(todo[i].dir)}
			}
		}()
	}
	for i := range todo {
		next <- i
	}
	close(next)
	wg.Wait()
	return results
}

// logFailures logs the failed cases grouped by the op they test and returns
// the names of those that passed, sorted.
func logFailures(t *testing.T, results []caseResult) []string {
	var passed []string
	byOp := map[string][]caseResult{}
	for _, r := range results {
		if r.err == nil {
			passed = append(passed, r.c.name)
			continue
		}
		op := r.c.tested
		if op == "" {
			op = "(composite: " + strings.Join(r.c.ops, ",") + ")"
		}
		byOp[op] = append(byOp[op], r)
	}
	var ops []string
	for op := range byOp {
		ops = append(ops, op)
	}
	sort.Strings(ops)
	for _, op := range ops {
		t.Logf("FAIL %s:", op)
		for _, r := range byOp[op] {
			note := ""
			if reason, ok := conformanceExclusions[r.c.name]; ok {
				note = " [excluded: " + reason + "]"
			}
			t.Logf("    %s: %v%s", r.c.name, r.err, note)
		}
	}
	sort.Strings(passed)
	return passed
}

// logDropped logs the cases the must-pass list holds that no longer pass.
func logDropped(t *testing.T, passed []string) {
	old := map[string]bool{}
	if _, err := os.Stat(mustPassFile); err == nil {
		for _, n := range readMustPass(t) {
			old[n] = true
		}
	}
	for _, n := range passed {
		delete(old, n)
	}
	if len(old) > 0 {
		var dropped []string
		for n := range old {
			dropped = append(dropped, n)
		}
		sort.Strings(dropped)
		t.Logf("no longer passing, dropped from %s: %s", mustPassFile, strings.Join(dropped, " "))
	}
}

// TestConformanceCoverage fails for every CPU op that has node tests but no
// pinned case, unless all of its cases are excluded with a reason.
func TestConformanceCoverage(t *testing.T) {
	dir := nodeTestDir(t)
	cases := listCases(t, dir)
	pinned := map[string]bool{}
	for _, n := range readMustPass(t) {
		pinned[n] = true
	}
	byName := map[string]*conformanceCase{}
	casesOf := map[string][]*conformanceCase{}
	for _, c := range cases {
		byName[c.name] = c
		if c.tested != "" {
			casesOf[c.tested] = append(casesOf[c.tested], c)
		}
	}
	for name, reason := range conformanceExclusions {
		switch {
		case reason == "":
			t.Errorf("conformanceExclusions[%s] gives no reason", name)
		case byName[name] == nil:
			t.Errorf("conformanceExclusions lists %s, which is not in %s", name, dir)
		case pinned[name]:
			t.Errorf("%s is both pinned and excluded (%s)", name, reason)
		}
	}
	var untested []string
	for _, op := range cpu.Ops() {
		cs := casesOf[op]
		if len(cs) == 0 {
			untested = append(untested, op)
			continue
		}
		covered, allExcluded := false, true
		var names []string
		for _, c := range cs {
			covered = covered || pinned[c.name]
			if _, ok := conformanceExclusions[c.name]; !ok {
				allExcluded = false
			}
			names = append(names, c.name)
		}
		if !covered && !allExcluded {
			t.Errorf("op %s has %d node tests but none is pinned in %s (fix it, or exclude its cases with a reason): %s",
				op, len(cs), mustPassFile, strings.Join(names, " "))
		}
	}
	if len(untested) > 0 {
		t.Logf("CPU ops with no node tests in %s (not checked): %s", dir, strings.Join(untested, " "))
	}
}

// TestCompareTensor pins the comparison rules the suite relies on.
func TestCompareTensor(t *testing.T) {
	f32 := func(shape []int, v ...float32) *ir.Tensor { return ir.FromFloat32(shape, v) }
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	for _, tc := range []struct {
		name      string
		got, want *ir.Tensor
		ok        bool
	}{
		{"equal", f32([]int{2}, 1, 2), f32([]int{2}, 1, 2), true},
		{"within rtol", f32([]int{1}, 1000.9), f32([]int{1}, 1000), true},
		{"beyond rtol", f32([]int{1}, 1001.1), f32([]int{1}, 1000), false},
		{"within atol at zero", f32([]int{1}, 5e-8), f32([]int{1}, 0), true},
		{"beyond atol at zero", f32([]int{1}, 1e-6), f32([]int{1}, 0), false},
		{"nan matches nan", f32([]int{1}, nan), f32([]int{1}, nan), true},
		{"nan vs number", f32([]int{1}, nan), f32([]int{1}, 0), false},
		{"number vs nan", f32([]int{1}, 0), f32([]int{1}, nan), false},
		{"inf matches inf", f32([]int{1}, inf), f32([]int{1}, inf), true},
		{"inf vs -inf", f32([]int{1}, inf), f32([]int{1}, -inf), false},
		{"scalar vs [1]", f32(nil, 1), f32([]int{1}, 1), false},
		{"shape", f32([]int{2, 1}, 1, 2), f32([]int{1, 2}, 1, 2), false},
		{"dtype", ir.FromInt64([]int{1}, []int64{1}), f32([]int{1}, 1), false},
		{"bool", &ir.Tensor{DType: ir.Bool, Shape: []int{2}, Bool: []bool{true, false}},
			&ir.Tensor{DType: ir.Bool, Shape: []int{2}, Bool: []bool{true, true}}, false},
		{"missing data", &ir.Tensor{DType: ir.Float32, Shape: []int{2}}, f32([]int{2}, 1, 2), false},
	} {
		if err := compareTensor(tc.got, tc.want); (err == nil) != tc.ok {
			t.Errorf("%s: compareTensor(%v, %v) = %v, want ok=%v", tc.name, tc.got, tc.want, err, tc.ok)
		}
	}
}
