package models

import (
	"fmt"
	"math"
	"math/rand"

	"crsc/compiler/ir"
)

// BuildOptions says how a model builder fills in the weights.
type BuildOptions struct {
	// Seed draws the random weights (ignored when Abstract).
	Seed int64
	// Abstract builds every weight as an ir.AbstractTensor: shapes and
	// dtypes only, nothing allocated. Such a graph can be compiled and its
	// memory planned (T5-3B without its 11 GB of weights) but not run.
	Abstract bool
	// Dropout, when above 0, adds training-mode Dropout nodes at Hugging
	// Face's places with this ratio, as a fine-tuning run has them.
	Dropout float32
}

// builder wraps an ir.Graph with the few helpers graph construction needs,
// so model definitions read like the PyTorch code they mirror.
type builder struct {
	g        *ir.Graph
	rng      *rand.Rand
	abstract bool
	dropout  float32
	// the shared Dropout ratio and training_mode constants
	dropRatio, training *ir.Value
}

func newBuilder(name string, opset int64, opts BuildOptions) *builder {
	return &builder{g: ir.NewGraph(name, opset), rng: rand.New(rand.NewSource(opts.Seed)), abstract: opts.Abstract, dropout: opts.Dropout}
}

// drop applies training-mode Dropout when the model is built with one.
func (b *builder) drop(name string, x *ir.Value) *ir.Value {
	if b.dropout <= 0 {
		return x
	}
	if b.dropRatio == nil {
		b.dropRatio = b.g.AddInit("dropout/ratio", ir.ScalarF32(b.dropout))
		b.training = b.g.AddInit("dropout/training_mode", &ir.Tensor{DType: ir.Bool, Bool: []bool{true}})
	}
	return b.op("Dropout", name+"/Dropout", nil, x, b.dropRatio, b.training)
}

// op adds a node with one output and returns that output.
func (b *builder) op(op, name string, attrs ir.Attrs, inputs ...*ir.Value) *ir.Value {
	return b.g.AddNode(op, name, inputs, 1, attrs).Outputs[0]
}

// weight adds a float32 initializer drawn from N(0, std²) (std 0 → zeros,
// std < 0 → ones, for norm scales), or an abstract one holding no data.
// Only weights go abstract: the small int buffers and scalar constants stay
// concrete because shape inference and constant folding read them.
func (b *builder) weight(name string, std float64, shape ...int) *ir.Value {
	if b.abstract {
		return b.g.AddInit(name, ir.AbstractTensor(ir.Float32, shape...))
	}
	t := ir.NewTensor(ir.Float32, shape...)
	for i := range t.F32 {
		switch {
		case std > 0:
			t.F32[i] = float32(b.rng.NormFloat64() * std)
		case std < 0:
			t.F32[i] = 1
		}
	}
	return b.g.AddInit(name, t)
}

func (b *builder) scalar(name string, v float32) *ir.Value {
	return b.g.AddInit(name, ir.ScalarF32(v))
}

func (b *builder) ints(name string, v ...int64) *ir.Value {
	return b.g.AddInit(name, ir.FromInt64([]int{len(v)}, v))
}

// linear is x·W + b with W stored [in, out] as torch exports it (the
// exporter folds torch's [out, in] weight transpose into the initializer).
func (b *builder) linear(prefix string, x *ir.Value, in, out int, bias bool) *ir.Value {
	w := b.weight(prefix+".weight", 0.02, in, out)
	y := b.op("MatMul", prefix+"/MatMul", nil, x, w)
	if bias {
		y = b.op("Add", prefix+"/Add", nil, y, b.weight(prefix+".bias", 0, out))
	}
	return y
}

func (b *builder) layerNorm(prefix string, x *ir.Value, hidden int, eps float32) *ir.Value {
	return b.op("LayerNormalization", prefix, ir.Attrs{"axis": ir.IntAttr(-1), "epsilon": ir.FloatAttr(eps)},
		x, b.weight(prefix+".weight", -1, hidden), b.weight(prefix+".bias", 0, hidden))
}

// gelu is the exact erf form BERT uses: 0.5·x·(1 + erf(x/√2)).
func (b *builder) gelu(prefix string, x *ir.Value) *ir.Value {
	e := b.op("Erf", prefix+"/Erf", nil, b.op("Div", prefix+"/Div", nil, x, b.scalar(prefix+"/sqrt2", float32(math.Sqrt2))))
	one := b.op("Add", prefix+"/Add", nil, e, b.scalar(prefix+"/one", 1))
	return b.op("Mul", prefix+"/Mul_1", nil, b.op("Mul", prefix+"/Mul", nil, x, one), b.scalar(prefix+"/half", 0.5))
}

// finish sets the outputs, infers shapes and verifies the graph.
func (b *builder) finish(outputs ...*ir.Value) (*ir.Graph, error) {
	b.g.Outputs = outputs
	if err := b.g.Verify(); err != nil {
		return nil, fmt.Errorf("building %s: %v", b.g.Name, err)
	}
	if err := b.g.InferShapes(); err != nil {
		return nil, fmt.Errorf("building %s: %v", b.g.Name, err)
	}
	return b.g, nil
}
