//go:build ort

package ortoracle

import (
	"fmt"

	ort "github.com/yalue/onnxruntime_go"

	"crsc/compiler/ir"
)

// Session keeps one ONNX Runtime session open for repeated runs (benchmarks).
// Unlike Run, it uses ORT's full graph optimizations, as a user of ORT would.
type Session struct {
	sess     *ort.DynamicAdvancedSession
	inNames  []string
	outNames []string
}

// NewSession opens modelPath with all graph optimizations and threads
// intra-op threads (0: ORT's default).
func NewSession(modelPath string, threads int) (*Session, error) {
	if err := initialize(); err != nil {
		return nil, err
	}
	opts, err := ort.NewSessionOptions()
	if err != nil {
		return nil, err
	}
	defer opts.Destroy()
	if err := opts.SetGraphOptimizationLevel(ort.GraphOptimizationLevelEnableAll); err != nil {
		return nil, err
	}
	if threads > 0 {
		if err := opts.SetIntraOpNumThreads(threads); err != nil {
			return nil, err
		}
		if err := opts.SetInterOpNumThreads(1); err != nil {
			return nil, err
		}
	}
	inInfo, outInfo, err := ort.GetInputOutputInfoWithOptions(modelPath, opts)
	if err != nil {
		return nil, fmt.Errorf("ortoracle: %s: %w", modelPath, err)
	}
	s := &Session{}
	for _, i := range inInfo {
		s.inNames = append(s.inNames, i.Name)
	}
	for _, o := range outInfo {
		s.outNames = append(s.outNames, o.Name)
	}
	if s.sess, err = ort.NewDynamicAdvancedSession(modelPath, s.inNames, s.outNames, opts); err != nil {
		return nil, fmt.Errorf("ortoracle: %s: %w", modelPath, err)
	}
	return s, nil
}

// Run executes the session; outputs are allocated by ORT (no 0-d outputs).
func (s *Session) Run(inputs map[string]*ir.Tensor) (map[string]*ir.Tensor, error) {
	in := make([]ort.Value, len(s.inNames))
	defer destroyAll(in)
	for i, name := range s.inNames {
		t, ok := inputs[name]
		if !ok {
			return nil, fmt.Errorf("ortoracle: missing input %q", name)
		}
		v, err := toORT(t)
		if err != nil {
			return nil, err
		}
		in[i] = v
	}
	out := make([]ort.Value, len(s.outNames))
	if err := s.sess.Run(in, out); err != nil {
		return nil, err
	}
	defer destroyAll(out)
	res := map[string]*ir.Tensor{}
	for i, v := range out {
		t, err := fromORT(v)
		if err != nil {
			return nil, err
		}
		res[s.outNames[i]] = t
	}
	return res, nil
}

// Close releases the session.
func (s *Session) Close() { s.sess.Destroy() }
