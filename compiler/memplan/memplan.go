package memplan

import (
	"fmt"
	"sort"

	"crsc/compiler/ir"
)

// Options configure Plan.
type Options struct {
	// ForwardEnd is the index in g.Nodes of the first backward node, or -1
	// when the graph has no backward part (no saved-for-backward report).
	// ForwardEnd(g) finds it for graphs built by the autodiff pass.
	ForwardEnd int
	// Align is the byte alignment of every buffer offset; 0 means 64 (a
	// cache line, and enough for any SIMD load the kernels do).
	Align int
}

// DefaultAlign is the offset alignment used when Options.Align is 0.
const DefaultAlign = 64

// Buffer is one planned allocation: the storage of a node output and of
// every view of it.
type Buffer struct {
	ID    int       // position in MemPlan.Buffers (definition order)
	Value *ir.Value // the node output that defines the buffer
	Node  int       // index of the producing node
	Elems int
	Bytes int64
	// First and Last bound the lifetime in node indices, both inclusive:
	// the buffer is written by node First and may be read up to node Last.
	First, Last int
	Offset      int64 // byte offset in the arena
	// Views are the values that alias this buffer (outputs of Reshape,
	// Identity, … of Value or of another view).
	Views []*ir.Value
}

// Slot is where one output of a node goes in the arena.
type Slot struct {
	Output int // index in the node's Outputs
	Value  *ir.Value
	DType  ir.DType
	Elems  int
	Offset int64
	Bytes  int64
}

// Saved is one forward buffer read by the backward pass.
type Saved struct {
	Node    string // producing node
	Op      string
	Value   string
	Shape   []int
	DType   ir.DType
	Bytes   int64
	Readers []string // backward nodes that read it (or a view of it), in order
}

// MemPlan is the result of Plan.
type MemPlan struct {
	Graph      *ir.Graph
	ForwardEnd int
	Align      int
	// Buffers in definition order (node order, then output order).
	Buffers []*Buffer
	// PlannedPeak is the arena size: the memory the plan needs for all
	// node outputs. LowerBound is the most bytes alive at one moment, the
	// least any placement could need.
	PlannedPeak, LowerBound int64
	// Bytes outside the arena: trainable-looking float initializers with
	// more than one element, the other initializers, and the graph inputs.
	ParamsBytes, ConstBytes, InputsBytes int64
	// Saved lists the forward buffers the backward pass reads, largest
	// first; SavedActivationBytes is their sum.
	Saved                []Saved
	SavedActivationBytes int64
	// Recomputed lists the forward values backward recomputes instead of
	// keeping (largest first); RecomputedBytes is what keeping them would
	// have cost.
	Recomputed      []Recomputed
	RecomputedBytes int64

	bufOf    map[*ir.Value]*Buffer
	slots    [][]Slot
	timeline []int64
}

// viewOps are the default-domain ops whose CPU kernels return a view of (or
// the very tensor of) input 0 rather than new storage.
var viewOps = map[string]bool{"Reshape": true, "Flatten": true, "Squeeze": true, "Unsqueeze": true, "Identity": true}

// IsView reports whether n's output 0 aliases its input 0's storage.
func IsView(n *ir.Node) bool {
	return (n.Domain == "" || n.Domain == "ai.onnx") && viewOps[n.Op] && n.In(0) != nil
}

// ForwardEnd returns the index of the first backward node
// (ir.Node.IsBackward), or -1.
func ForwardEnd(g *ir.Graph) int {
	for i, n := range g.Nodes {
		if n.IsBackward() {
			return i
		}
	}
	return -1
}

// StaticShape returns v's dims, or an error when they are not all known.
func StaticShape(v *ir.Value) ([]int, error) {
	if !v.HasShape {
		return nil, fmt.Errorf("value %q has no shape (bind the input shapes, e.g. passes.Config.Shapes)", v.Name)
	}
	dims, ok := v.Shape.Ints()
	if !ok {
		return nil, fmt.Errorf("value %q has the non-static shape %s (bind the input shapes, e.g. passes.Config.Shapes)", v.Name, v.Shape)
	}
	return dims, nil
}

// storedBytes is the bytes n elements of dt take in memory. Float16 and
// int8/uint8 are held widened, bfloat16 packed two to a word (see
// ir.Tensor), so the storage type decides, not the declared one: the arena
// must fit what the kernels actually write.
func storedBytes(dt ir.DType, n int) int64 { return dt.StorageBytes(n) }

// slotOf is where a kernel finds output j's buffer: the allocator hands
// out a slot by dtype and element count, and a packed output (bfloat16,
// 8-bit rows) is asked for as the int32 words it is packed in (runtime/cpu's
// Cast and QuantizeRows).
func slotOf(j int, o *ir.Value, elems int, b *Buffer) Slot {
	dt, n := o.DType, elems
	if dt.Packed() {
		dt, n = dt.Storage(), dt.StorageLen(elems)
	}
	return Slot{Output: j, Value: o, DType: dt, Elems: n, Bytes: b.Bytes}
}

// Plan builds the allocation plan of g. Every value must have a static shape.
func Plan(g *ir.Graph, opts Options) (*MemPlan, error) {
	if opts.Align <= 0 {
		opts.Align = DefaultAlign
	}
	if opts.ForwardEnd > len(g.Nodes) {
		return nil, fmt.Errorf("ForwardEnd %d is past the %d nodes", opts.ForwardEnd, len(g.Nodes))
	}
	p := &MemPlan{Graph: g, ForwardEnd: opts.ForwardEnd, Align: opts.Align,
		bufOf: map[*ir.Value]*Buffer{}, slots: make([][]Slot, len(g.Nodes))}
	shapes := map[*ir.Value][]int{}
	for _, v := range g.Values() {
		dims, err := StaticShape(v)
		if err != nil {
			return nil, err
		}
		shapes[v] = dims
	}
	for _, v := range g.Inputs {
		p.InputsBytes += storedBytes(v.DType, ir.NumElements(shapes[v]))
	}
	for _, v := range g.Inits {
		b := v.Init.Bytes()
		if v.Init.DType.IsFloat() && v.Init.Len() > 1 {
			p.ParamsBytes += b
		} else {
			p.ConstBytes += b
		}
	}

	p.addBuffers(shapes)

	// Lifetimes: a buffer lives until the last read of it or of any view.
	end := len(g.Nodes) - 1
	for i, n := range g.Nodes {
		for _, in := range n.Inputs {
			if b := p.bufOf[in]; b != nil && i > b.Last {
				b.Last = i
			}
		}
	}
	for _, v := range g.Outputs {
		if b := p.bufOf[v]; b != nil {
			b.Last = end
		}
	}

	p.place()
	for i := range p.slots {
		for k := range p.slots[i] {
			p.slots[i][k].Offset = p.bufOf[p.slots[i][k].Value].Offset
		}
	}
	p.timeline = make([]int64, len(g.Nodes))
	for _, b := range p.Buffers {
		for t := b.First; t <= b.Last; t++ {
			p.timeline[t] += b.Bytes
		}
	}
	for _, live := range p.timeline {
		p.LowerBound = max(p.LowerBound, live)
	}
	p.findSaved(shapes)
	p.findRecomputed(shapes)
	return p, nil
}

// addBuffers makes a buffer of every node output that is not a view, and
// the node's slot for it, in node order so that a view's base is known
// first.
func (p *MemPlan) addBuffers(shapes map[*ir.Value][]int) {
	for i, n := range p.Graph.Nodes {
		for j, o := range n.Outputs {
			if o == nil {
				continue
			}
			if j == 0 && IsView(n) {
				// A view of a graph input or initializer lives outside
				// the arena with its base: no buffer.
				if base := p.bufOf[n.In(0)]; base != nil {
					p.bufOf[o] = base
					base.Views = append(base.Views, o)
				}
				continue
			}
			elems := ir.NumElements(shapes[o])
			b := &Buffer{ID: len(p.Buffers), Value: o, Node: i, Elems: elems,
				Bytes: storedBytes(o.DType, elems), First: i, Last: i}
			p.Buffers = append(p.Buffers, b)
			p.bufOf[o] = b
			p.slots[i] = append(p.slots[i], slotOf(j, o, elems, b))
		}
	}
}

// place assigns offsets greedily by size: big buffers are the hardest to
// fit, so they go first and small ones fill the gaps left between them.
func (p *MemPlan) place() {
	order := append([]*Buffer{}, p.Buffers...)
	sort.SliceStable(order, func(i, j int) bool { return order[i].Bytes > order[j].Bytes })
	align := int64(p.Align)
	var placed []*Buffer // sorted by offset
	for _, b := range order {
		off := int64(0)
		if b.Bytes > 0 {
			for _, q := range placed {
				if q.Bytes == 0 || q.Last < b.First || b.Last < q.First {
					continue // not alive at the same time: may share memory
				}
				if off+b.Bytes <= q.Offset {
					break // fits in the gap before q
				}
				off = max(off, alignUp(q.Offset+q.Bytes, align))
			}
		}
		b.Offset = off
		k := sort.Search(len(placed), func(i int) bool { return placed[i].Offset > off })
		placed = append(placed, nil)
		copy(placed[k+1:], placed[k:])
		placed[k] = b
		p.PlannedPeak = max(p.PlannedPeak, off+b.Bytes)
	}
}

func alignUp(x, a int64) int64 { return (x + a - 1) / a * a }

// findSaved collects the forward buffers that backward nodes read.
func (p *MemPlan) findSaved(shapes map[*ir.Value][]int) {
	if p.ForwardEnd < 0 {
		return
	}
	readers := map[*Buffer][]string{}
	var order []*Buffer
	for i := p.ForwardEnd; i < len(p.Graph.Nodes); i++ {
		n := p.Graph.Nodes[i]
		for _, in := range n.Inputs {
			b := p.bufOf[in]
			if b == nil || b.Node >= p.ForwardEnd {
				continue
			}
			rs := readers[b]
			if len(rs) > 0 && rs[len(rs)-1] == n.Name {
				continue // a node reading one value twice
			}
			if rs == nil {
				order = append(order, b)
			}
			readers[b] = append(rs, n.Name)
		}
	}
	// Largest first; equal sizes in definition order, so reports are stable.
	sort.Slice(order, func(i, j int) bool { return order[i].ID < order[j].ID })
	for _, b := range order {
		n := p.Graph.Nodes[b.Node]
		p.Saved = append(p.Saved, Saved{Node: n.Name, Op: savedOp(n), Value: b.Value.Name,
			Shape: shapes[b.Value], DType: b.Value.DType, Bytes: b.Bytes, Readers: readers[b]})
		p.SavedActivationBytes += b.Bytes
	}
	sort.SliceStable(p.Saved, func(i, j int) bool { return p.Saved[i].Bytes > p.Saved[j].Bytes })
}

// savedOp names what made a kept buffer: its op, or for a stash
// (passes.Stash: a Cast to bfloat16 or a QuantizeRows of a forward value)
// the op of the value it narrows, marked "→bf16" or "→i8".
func savedOp(n *ir.Node) string {
	if src := n.In(0); src != nil && src.Producer != nil {
		switch {
		case n.Op == "Cast" && n.Outputs[0].DType == ir.BFloat16:
			return src.Producer.Key() + "→bf16"
		case n.Op == "QuantizeRows" && n.Domain == "ai.crsc":
			return src.Producer.Key() + "→i8"
		}
	}
	return n.Key()
}

// NodeSlots returns where node i's outputs go: one slot per output that
// owns a buffer (views have none), in output order.
func (p *MemPlan) NodeSlots(i int) []Slot { return p.slots[i] }

// BufferOf returns the buffer holding v (nil for graph inputs,
// initializers and views of them).
func (p *MemPlan) BufferOf(v *ir.Value) *Buffer { return p.bufOf[v] }

// Timeline returns, per node, the bytes of the buffers alive while it runs:
// those produced up to it and read by it or later (its inputs and outputs
// included). Its maximum is LowerBound.
func (p *MemPlan) Timeline() []int64 { return append([]int64{}, p.timeline...) }

// Fragmentation is PlannedPeak / LowerBound (1 when the packing is perfect).
func (p *MemPlan) Fragmentation() float64 {
	if p.LowerBound == 0 {
		return 1
	}
	return float64(p.PlannedPeak) / float64(p.LowerBound)
}

// Nodes is the number of nodes the plan covers (that of the graph when it
// was planned).
func (p *MemPlan) Nodes() int { return len(p.slots) }
