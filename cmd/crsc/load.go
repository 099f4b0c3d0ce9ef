package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"crsc/compiler/ir"
	"crsc/compiler/onnx"
	"crsc/compiler/passes"
	"crsc/runtime"
	"crsc/runtime/device"
)

// shapeFlags parses repeated --shape NAME=DIMS flags (DIMS like 8x128).
func shapeFlags(specs []string) (map[string]ir.Shape, error) {
	shapes := map[string]ir.Shape{}
	for _, spec := range specs {
		name, dims, ok := strings.Cut(spec, "=")
		if !ok || name == "" {
			return nil, fmt.Errorf("--shape %q: want NAME=DIMS, e.g. input_ids=8x128", spec)
		}
		if _, dup := shapes[name]; dup {
			return nil, fmt.Errorf("--shape %s given twice", name)
		}
		if err := checkDims(dims); err != nil {
			return nil, fmt.Errorf("--shape %q: %v", spec, err)
		}
		s, err := ir.ParseDims(dims)
		if err != nil {
			return nil, fmt.Errorf("--shape %q: %v", spec, err)
		}
		shapes[name] = s
	}
	return shapes, nil
}

// symbolName is a symbolic dim of --shape (batch, seq); dimSeparator
// separates dims, as ir.ParseDims reads them.
var (
	symbolName   = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	dimSeparator = regexp.MustCompile(`[xX,]`)
)

// checkDims accepts DIMS of --shape: dims separated by x (or a comma),
// each a positive integer or a symbol name. ir.ParseDims alone would read
// "2x" as [2] and "2.5" as a symbol.
func checkDims(dims string) error {
	if strings.TrimSpace(dims) == "" {
		return fmt.Errorf("no dims: want e.g. 8x128")
	}
	for _, f := range dimSeparator.Split(dims, -1) {
		f = strings.TrimSpace(f)
		switch n, err := strconv.ParseInt(f, 10, 64); {
		case f == "":
			return fmt.Errorf("an empty dim: want e.g. 8x128")
		case err == nil && n < 1:
			return fmt.Errorf("dim %d: want a dim ≥ 1", n)
		case err != nil && !symbolName.MatchString(f):
			return fmt.Errorf("dim %q is neither a positive integer nor a symbol name (such as batch)", f)
		}
	}
	return nil
}

// loadModel imports an .onnx file and runs the load pipeline for the CPU
// backend. after, if not nil, sees the graph after each pass. A shape
// whose sequence is longer than the model's position table is refused
// first, naming the input and the limit.
func loadModel(path string, shapes map[string]ir.Shape, after func(string, *ir.Graph)) (*ir.Graph, error) {
	path, err := modelFile(path)
	if err != nil {
		return nil, err
	}
	g, err := onnx.Load(path)
	if err != nil {
		return nil, err
	}
	if err := checkSeqLen(g, shapes); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	backend := runtime.CPU(runtime.Options{})
	cfg := &passes.Config{Shapes: shapes, Supports: backend.Supports, After: after}
	if err := passes.Run(g, passes.Load, cfg); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	return g, nil
}

// loadFed loads the model at path for the arrays feeds gives its inputs:
// first unbound, to check the feeds against the inputs it declares (a
// wrong name or dtype is reported as such, not as a failure of shape
// folding), then with the feeds' shapes bound, so that shape subgraphs
// fold away before a run.
func loadFed(path string, feeds map[string]*ir.Tensor) (*ir.Graph, error) {
	g, err := loadModel(path, nil, nil)
	if err != nil {
		return nil, err
	}
	if err := runtime.CheckInputs(g, feeds); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	shapes := map[string]ir.Shape{}
	for name, t := range feeds {
		shapes[name] = ir.StaticShape(t.Shape...)
	}
	return loadModel(path, shapes, nil)
}

// openDevice opens the runtime --device names and shows why auto fell
// back to the CPU. The caller closes it.
func openDevice(name string, stderr io.Writer) (*device.Device, error) {
	d, err := device.Open(name)
	if err != nil {
		return nil, err
	}
	if d.Note != "" {
		fmt.Fprintln(stderr, d.Note)
	}
	return d, nil
}

// deviceHelp documents --device.
const deviceHelp = "cpu, cuda (an NVIDIA GPU), auto (cuda if one is found, else cpu) or emu (the CUDA backend on a CPU emulator of the GPU, for testing)"

// modelFile is the graph a model argument names: the file, or a folder's
// model.onnx (as Hugging Face and Optimum save one). An Optimum seq2seq
// folder holds two graphs, which only crsc train links into one.
func modelFile(path string) (string, error) {
	st, err := os.Stat(path)
	if err != nil || !st.IsDir() {
		return path, nil // onnx.Load says what is wrong with a file
	}
	one := filepath.Join(path, "model.onnx")
	if st, err := os.Stat(one); err == nil && !st.IsDir() {
		return one, nil
	}
	if _, err := os.Stat(filepath.Join(path, "encoder_model.onnx")); err == nil {
		return "", fmt.Errorf("%s holds Optimum's encoder_model.onnx and decoder_model.onnx: crsc train links the two into one training graph; this command takes one graph (give one of the files)", path)
	}
	return "", fmt.Errorf("%s: a folder without model.onnx", path)
}
