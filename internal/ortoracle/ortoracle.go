//go:build ort

package ortoracle

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"

	ort "github.com/yalue/onnxruntime_go"

	"crsc/compiler/ir"
)

// libNames are tried in order inside a cache folder; scripts/fetch-ort.sh
// creates both, but a hand-filled folder may have only one.
var libNames = []string{"libonnxruntime.so", "libonnxruntime.so.1.30.0", "libonnxruntime.so.1"}

// LibraryPath locates the ONNX Runtime shared library: $CRSC_ORT_LIB if set,
// else the folder scripts/fetch-ort.sh fills ($CRSC_CACHE, or .cache/ort/
// under the repository root found by walking up from the working directory
// to the nearest go.mod).
func LibraryPath() (string, error) {
	if p := os.Getenv("CRSC_ORT_LIB"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("ortoracle: CRSC_ORT_LIB: %w", err)
		}
		return p, nil
	}
	var dirs []string
	if c := os.Getenv("CRSC_CACHE"); c != "" {
		dirs = append(dirs, c)
	}
	if root, err := repoRoot(); err == nil {
		dirs = append(dirs, filepath.Join(root, ".cache", "ort"))
	}
	for _, d := range dirs {
		for _, n := range libNames {
			p := filepath.Join(d, n)
			if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
				return p, nil
			}
		}
	}
	return "", fmt.Errorf("ortoracle: ONNX Runtime library not found in %v; run scripts/fetch-ort.sh or set CRSC_ORT_LIB", dirs)
}

func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

var (
	initOnce sync.Once
	initErr  error
)

// initialize loads the library once per process: the binding keeps a single
// global environment and refuses a second InitializeEnvironment.
func initialize() error {
	initOnce.Do(func() {
		var lib string
		lib, initErr = LibraryPath()
		if initErr != nil {
			return
		}
		ort.SetSharedLibraryPath(lib)
		if err := ort.InitializeEnvironment(ort.WithLogLevelError()); err != nil {
			initErr = fmt.Errorf("ortoracle: initializing ONNX Runtime from %s: %w", lib, err)
		}
	})
	return initErr
}

// Run executes the model at path on the given named inputs with graph
// optimizations DISABLED (ORT drops training-mode Dropout otherwise) and
// returns every graph output by name.
//
// Every model input must be supplied, as float32, int64, int32 or bool (or
// float64); outputs may be float32, int64, int32, bool or float64. 0-d
// inputs and outputs are supported.
func Run(modelPath string, inputs map[string]*ir.Tensor) (map[string]*ir.Tensor, error) {
	if err := initialize(); err != nil {
		return nil, err
	}
	out, err := run(modelPath, inputs)
	if err != nil {
		return nil, fmt.Errorf("ortoracle: %s: %w", modelPath, err)
	}
	return out, nil
}

// run opens the model with exact-semantics options, checks the given inputs
// against its signature, runs it and converts the outputs.
func run(modelPath string, inputs map[string]*ir.Tensor) (map[string]*ir.Tensor, error) {
	opts, err := sessionOptions()
	if err != nil {
		return nil, err
	}
	defer opts.Destroy()
	inInfo, outInfo, err := ort.GetInputOutputInfoWithOptions(modelPath, opts)
	if err != nil {
		return nil, err
	}
	inNames, outNames, err := checkSignature(inInfo, outInfo, inputs)
	if err != nil {
		return nil, err
	}
	inVals, err := inputValues(inInfo, inputs)
	if err != nil {
		return nil, err
	}
	defer destroyAll(inVals)
	outVals, err := fetchOutputs(modelPath, opts, inNames, inVals, outInfo)
	if err != nil {
		return nil, err
	}
	defer destroyAll(outVals)
	res := make(map[string]*ir.Tensor, len(outVals))
	for i, v := range outVals {
		t, err := fromORT(v)
		if err != nil {
			return nil, fmt.Errorf("output %q: %w", outNames[i], err)
		}
		res[outNames[i]] = t
	}
	return res, nil
}

// sessionOptions disables graph optimizations, which would drop
// training-mode Dropout, and quiets ORT's own logging.
func sessionOptions() (*ort.SessionOptions, error) {
	opts, err := ort.NewSessionOptions()
	if err != nil {
		return nil, err
	}
	if err := opts.SetGraphOptimizationLevel(ort.GraphOptimizationLevelDisableAll); err != nil {
		opts.Destroy()
		return nil, err
	}
	// Failures come back as errors anyway; without this ORT also prints
	// every one to stderr, including the expected ones of the 0-d fallback
	// in fetchOutputs.
	if err := opts.SetLogSeverityLevel(ort.LoggingLevelFatal); err != nil {
		opts.Destroy()
		return nil, err
	}
	return opts, nil
}

// checkSignature requires exactly the model's inputs and only tensor
// outputs, and returns the input and output names in model order.
func checkSignature(inInfo, outInfo []ort.InputOutputInfo, inputs map[string]*ir.Tensor) (inNames, outNames []string, err error) {
	inNames = make([]string, len(inInfo))
	for i, info := range inInfo {
		inNames[i] = info.Name
		if inputs[info.Name] == nil {
			return nil, nil, fmt.Errorf("missing input %q (%s)", info.Name, info.String())
		}
	}
	for name := range inputs {
		if !slices.Contains(inNames, name) {
			return nil, nil, fmt.Errorf("model has no input %q (inputs: %v)", name, inNames)
		}
	}
	outNames = make([]string, len(outInfo))
	for i, info := range outInfo {
		outNames[i] = info.Name
		if info.OrtValueType != ort.ONNXTypeTensor {
			return nil, nil, fmt.Errorf("output %q is a %v, only tensors are supported", info.Name, info.OrtValueType)
		}
	}
	return inNames, outNames, nil
}

// inputValues copies each input into an ORT value, in model order, after
// checking its dtype against the model's.
func inputValues(inInfo []ort.InputOutputInfo, inputs map[string]*ir.Tensor) ([]ort.Value, error) {
	inVals := make([]ort.Value, len(inInfo))
	for i, info := range inInfo {
		t := inputs[info.Name]
		var err error
		if want := info.DataType; want != ortType(t.DType) {
			err = fmt.Errorf("input %q is %v in the model but %v was given", info.Name, want, t.DType)
		} else if inVals[i], err = toORT(t); err != nil {
			err = fmt.Errorf("input %q: %w", info.Name, err)
		}
		if err != nil {
			destroyAll(inVals)
			return nil, err
		}
	}
	return inVals, nil
}

// fetchOutputs runs the model once for all outputs. The binding cannot wrap
// ORT-allocated 0-d outputs (its shape check rejects rank 0), so outputs
// the model declares as rank 0 get a preallocated scalar. ORT also reports
// unknown rank as rank 0; when such an output is not a scalar, the
// preallocated value makes Run fail, and we fall back to one session per
// output, trying scalar then ORT-allocated. (Random ops then draw
// independently per output.)
func fetchOutputs(modelPath string, opts *ort.SessionOptions, inNames []string, inVals []ort.Value, outInfo []ort.InputOutputInfo) ([]ort.Value, error) {
	outVals, err := runOutputs(modelPath, opts, inNames, inVals, outInfo, true)
	if err == nil {
		return outVals, nil
	}
	outVals = make([]ort.Value, len(outInfo))
	for i := range outInfo {
		one := outInfo[i : i+1]
		v, err1 := runOutputs(modelPath, opts, inNames, inVals, one, true)
		if err1 != nil && len(one[0].Dimensions) == 0 {
			v, err1 = runOutputs(modelPath, opts, inNames, inVals, one, false)
		}
		if err1 != nil {
			if errors.Is(err1, ort.ZeroShapeLengthError) {
				err1 = errors.New("cannot fetch 0-d output of unknown rank")
			}
			destroyAll(outVals)
			return nil, fmt.Errorf("%w; output %q alone: %w", err, outInfo[i].Name, err1)
		}
		outVals[i] = v[0]
	}
	return outVals, nil
}

func runOutputs(modelPath string, opts *ort.SessionOptions, inNames []string, in []ort.Value, outInfo []ort.InputOutputInfo, scalars bool) ([]ort.Value, error) {
	names := make([]string, len(outInfo))
	for i, info := range outInfo {
		names[i] = info.Name
	}
	sess, err := ort.NewDynamicAdvancedSession(modelPath, inNames, names, opts)
	if err != nil {
		return nil, err
	}
	defer sess.Destroy()
	out := make([]ort.Value, len(outInfo))
	if scalars {
		for i, info := range outInfo {
			if len(info.Dimensions) != 0 {
				continue
			}
			if out[i], err = newEmptyScalar(info.DataType); err != nil {
				destroyAll(out)
				return nil, fmt.Errorf("output %q: %w", info.Name, err)
			}
		}
	}
	if err := sess.Run(in, out); err != nil {
		destroyAll(out)
		return nil, err
	}
	return out, nil
}

func destroyAll(vs []ort.Value) {
	for _, v := range vs {
		if v != nil {
			v.Destroy()
		}
	}
}

func ortType(dt ir.DType) ort.TensorElementDataType {
	switch dt {
	case ir.Float32:
		return ort.TensorElementDataTypeFloat
	case ir.Float64:
		return ort.TensorElementDataTypeDouble
	case ir.Int64:
		return ort.TensorElementDataTypeInt64
	case ir.Int32:
		return ort.TensorElementDataTypeInt32
	case ir.Bool:
		return ort.TensorElementDataTypeBool
	}
	return ort.TensorElementDataTypeUndefined
}

func toORT(t *ir.Tensor) (ort.Value, error) {
	n := t.Len()
	shape := make(ort.Shape, len(t.Shape))
	for i, d := range t.Shape {
		shape[i] = int64(d)
	}
	switch t.DType {
	case ir.Float32:
		return newValue(shape, t.F32, n)
	case ir.Float64:
		return newValue(shape, t.F64, n)
	case ir.Int64:
		return newValue(shape, t.I64, n)
	case ir.Int32:
		return newValue(shape, t.I32, n)
	case ir.Bool:
		return newValue(shape, t.Bool, n)
	}
	return nil, fmt.Errorf("unsupported dtype %v", t.DType)
}

// newValue copies data so that ORT never holds a pointer into the caller's
// tensor, which it could otherwise write through for in-place kernels.
func newValue[T ort.TensorData](shape ort.Shape, data []T, n int) (ort.Value, error) {
	if len(data) != n {
		return nil, fmt.Errorf("shape %v needs %d elements, tensor has %d", []int64(shape), n, len(data))
	}
	if len(shape) == 0 {
		return ort.NewScalar(data[0])
	}
	return ort.NewTensor(shape, slices.Clone(data))
}

func newEmptyScalar(dt ort.TensorElementDataType) (ort.Value, error) {
	switch dt {
	case ort.TensorElementDataTypeFloat:
		return ort.NewEmptyScalar[float32]()
	case ort.TensorElementDataTypeDouble:
		return ort.NewEmptyScalar[float64]()
	case ort.TensorElementDataTypeInt64:
		return ort.NewEmptyScalar[int64]()
	case ort.TensorElementDataTypeInt32:
		return ort.NewEmptyScalar[int32]()
	case ort.TensorElementDataTypeBool:
		return ort.NewEmptyScalar[bool]()
	}
	return nil, fmt.Errorf("unsupported output type %v", dt)
}

func fromORT(v ort.Value) (*ir.Tensor, error) {
	var shape []int
	for _, d := range v.GetShape() {
		shape = append(shape, int(d))
	}
	switch x := v.(type) {
	case *ort.Tensor[float32]:
		return &ir.Tensor{DType: ir.Float32, Shape: shape, F32: slices.Clone(x.GetData())}, nil
	case *ort.Tensor[float64]:
		return &ir.Tensor{DType: ir.Float64, Shape: shape, F64: slices.Clone(x.GetData())}, nil
	case *ort.Tensor[int64]:
		return &ir.Tensor{DType: ir.Int64, Shape: shape, I64: slices.Clone(x.GetData())}, nil
	case *ort.Tensor[int32]:
		return &ir.Tensor{DType: ir.Int32, Shape: shape, I32: slices.Clone(x.GetData())}, nil
	case *ort.Tensor[bool]:
		return &ir.Tensor{DType: ir.Bool, Shape: shape, Bool: slices.Clone(x.GetData())}, nil
	case *ort.Scalar[float32]:
		return &ir.Tensor{DType: ir.Float32, Shape: []int{}, F32: []float32{x.GetData()}}, nil
	case *ort.Scalar[float64]:
		return &ir.Tensor{DType: ir.Float64, Shape: []int{}, F64: []float64{x.GetData()}}, nil
	case *ort.Scalar[int64]:
		return &ir.Tensor{DType: ir.Int64, Shape: []int{}, I64: []int64{x.GetData()}}, nil
	case *ort.Scalar[int32]:
		return &ir.Tensor{DType: ir.Int32, Shape: []int{}, I32: []int32{x.GetData()}}, nil
	case *ort.Scalar[bool]:
		return &ir.Tensor{DType: ir.Bool, Shape: []int{}, Bool: []bool{x.GetData()}}, nil
	}
	return nil, fmt.Errorf("unsupported output type %v", ort.TensorElementDataType(v.DataType()))
}
