package main

import (
	"io"

	"crsc/runtime/device"
	"fmt"
	"strings"

	"crsc/ir"
	"crsc/onnx"
	"crsc/passes"
	"crsc/runtime"
)

// shapeFlags parses repeated --shape NAME=DIMS flags (DIMS like 8x128).
func shapeFlags(specs []string) (map[string]ir.Shape, error) {
	shapes := map[string]ir.Shape{}
	for _, spec := range specs {
		name, dims, ok := strings.Cut(spec, "=")
		if !ok || name == "" {
			return nil, fmt.Errorf("--shape %q: want NAME=DIMS, e.g. input_ids=8x128", spec)
		}
		s, err := ir.ParseDims(dims)
		if err != nil {
			return nil, fmt.Errorf("--shape %q: %v", spec, err)
		}
		shapes[name] = s
	}
	return shapes, nil
}

// loadModel imports an .onnx file and runs the load pipeline for the CPU
// backend. after, if not nil, sees the graph after each pass. A shape
// whose sequence is longer than the model's position table is refused
// first, naming the input and the limit.
func loadModel(path string, shapes map[string]ir.Shape, after func(string, *ir.Graph)) (*ir.Graph, error) {
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
