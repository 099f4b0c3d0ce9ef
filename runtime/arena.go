package runtime

import (
	"fmt"
	"sync"
	"unsafe"

	"crsc/compiler/ir"
	"crsc/compiler/memplan"
)

// Arena is the memory a planned run (Options.Plan) places node outputs in.
// By default Execute allocates a fresh one per call, so the tensors it
// returns stay valid for as long as the caller holds them. Passing an Arena
// in Options reuses it across calls instead (no per-step allocation or GC
// work), at a price: the next run that uses it overwrites the outputs of
// the previous one, and two runs must never share it at the same time.
type Arena struct {
	mem []byte // aligned to arenaAlign; len is the usable size
}

// arenaAlign is the alignment of the arena start; plan offsets are
// multiples of the plan's Align, so buffers inherit it (64 is a cache line).
const arenaAlign = 64

// Reserve makes the arena at least size bytes (allocating it anew when it
// grows: reserve the largest size first).
func (a *Arena) Reserve(size int64) {
	if int64(len(a.mem)) >= size {
		return
	}
	raw := make([]byte, size+arenaAlign)
	skip := 0
	if r := uintptr(unsafe.Pointer(unsafe.SliceData(raw))) % arenaAlign; r != 0 {
		skip = int(arenaAlign - r)
	}
	a.mem = raw[skip : skip+int(size) : skip+int(size)]
}

// Bytes is the arena's size.
func (a *Arena) Bytes() int64 { return int64(len(a.mem)) }

// planAlloc is the cpu.Allocator of a planned run. Before each node the
// executor loads the node's planned output slots; kernels then ask for
// their outputs in order and get the first free slot of the same dtype and
// element count, as a tensor viewing the arena. Everything else (scratch,
// outputs the plan did not foresee) comes from the Go heap and is recorded
// so the executor can account for it.
type planAlloc struct {
	mu        sync.Mutex // kernels may allocate from worker goroutines
	mem       []byte
	slots     []memplan.Slot
	claimed   []bool
	fallback  map[unsafe.Pointer]int64 // heap tensors handed out during this node
	highWater int64
}

func newPlanAlloc(mem []byte) *planAlloc {
	return &planAlloc{mem: mem, fallback: map[unsafe.Pointer]int64{}}
}

// startNode loads node's slots and forgets the previous node's fallbacks.
func (a *planAlloc) startNode(slots []memplan.Slot) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.slots = slots
	a.claimed = a.claimed[:0]
	for range slots {
		a.claimed = append(a.claimed, false)
	}
	clear(a.fallback)
}

func (a *planAlloc) Output(dt ir.DType, shape []int) *ir.Tensor { return a.output(dt, shape, true) }

// OutputUninit is Output without clearing a planned slot (cpu.UninitAllocator).
func (a *planAlloc) OutputUninit(dt ir.DType, shape []int) *ir.Tensor {
	return a.output(dt, shape, false)
}

func (a *planAlloc) output(dt ir.DType, shape []int, zero bool) *ir.Tensor {
	n := ir.NumElements(shape)
	a.mu.Lock()
	defer a.mu.Unlock()
	for k, s := range a.slots {
		if a.claimed[k] || s.DType != dt || s.Elems != n || n == 0 {
			continue
		}
		a.claimed[k] = true
		a.highWater = max(a.highWater, s.Offset+s.Bytes)
		t := arenaTensor(a.mem[s.Offset:s.Offset+s.Bytes], dt, shape)
		if zero {
			// The slot may hold a dead tensor's data; kernels expect zeros.
			clear(a.mem[s.Offset : s.Offset+s.Bytes])
		}
		return t
	}
	return a.heap(dt, shape)
}

func (a *planAlloc) Scratch(dt ir.DType, shape []int) *ir.Tensor {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.heap(dt, shape)
}

// heap allocates on the Go heap and records it; a.mu is held.
func (a *planAlloc) heap(dt ir.DType, shape []int) *ir.Tensor {
	t := ir.NewTensor(dt, shape...)
	if p := bufferOf(t); p != nil {
		a.fallback[p] = storageBytes(t)
	}
	return t
}

// workspace is the bytes of heap tensors handed out during the node that
// are not among outs (those are outputs, accounted as unplanned).
func (a *planAlloc) workspace(outs []*ir.Tensor) int64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, t := range outs {
		if t != nil {
			delete(a.fallback, bufferOf(t))
		}
	}
	var sum int64
	for _, b := range a.fallback {
		sum += b
	}
	return sum
}

// allocated reports whether the allocator handed out p during this node.
func (a *planAlloc) allocated(p unsafe.Pointer) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	_, ok := a.fallback[p]
	return ok
}

// adopt copies t into slot (an output the kernel did not allocate there)
// and returns the arena copy.
func (a *planAlloc) adopt(slot memplan.Slot, t *ir.Tensor) *ir.Tensor {
	a.mu.Lock()
	a.highWater = max(a.highWater, slot.Offset+slot.Bytes)
	a.mu.Unlock()
	c := arenaTensor(a.mem[slot.Offset:slot.Offset+slot.Bytes], t.DType, t.Shape)
	copyData(c, t)
	return c
}

// copyData copies src's elements into dst, a tensor of the same dtype and
// size; only the slice of src's storage type is non-empty, so the rest
// copy nothing.
func copyData(dst, src *ir.Tensor) {
	copy(dst.F32, src.F32)
	copy(dst.F64, src.F64)
	copy(dst.I64, src.I64)
	copy(dst.I32, src.I32)
	copy(dst.Bool, src.Bool)
}

// contains reports whether p points into the arena.
func (a *planAlloc) contains(p unsafe.Pointer) bool {
	if p == nil || len(a.mem) == 0 {
		return false
	}
	lo := uintptr(unsafe.Pointer(unsafe.SliceData(a.mem)))
	return uintptr(p) >= lo && uintptr(p) < lo+uintptr(len(a.mem))
}

// at is the address of arena byte off.
func (a *planAlloc) at(off int64) unsafe.Pointer {
	return unsafe.Add(unsafe.Pointer(unsafe.SliceData(a.mem)), off)
}

// arenaTensor returns a zeroed tensor whose typed slice views buf. The
// arena is a []byte (no pointers inside), and every element type a tensor
// holds is pointer-free, so the garbage collector needs nothing more; the
// typed slices keep the whole arena alive while any tensor references it.
func arenaTensor(buf []byte, dt ir.DType, shape []int) *ir.Tensor {
	t := &ir.Tensor{DType: dt, Shape: append([]int{}, shape...)}
	n := ir.NumElements(shape)
	p := unsafe.Pointer(unsafe.SliceData(buf))
	switch dt.Storage() {
	case ir.Float32:
		t.F32 = unsafe.Slice((*float32)(p), n)
	case ir.Float64:
		t.F64 = unsafe.Slice((*float64)(p), n)
	case ir.Int64:
		t.I64 = unsafe.Slice((*int64)(p), n)
	case ir.Int32:
		t.I32 = unsafe.Slice((*int32)(p), n)
	case ir.Bool:
		t.Bool = unsafe.Slice((*bool)(p), n)
	default:
		panic(fmt.Sprintf("arena tensor of unsupported dtype %v", dt))
	}
	return t
}

// storageBytes is the memory t's data takes (float16 and int8 are stored
// widened, so this is what the process holds, not Tensor.Bytes).
func storageBytes(t *ir.Tensor) int64 { return int64(t.Len()) * int64(t.DType.Storage().Size()) }

// heapCopy returns a copy of t on the Go heap.
func heapCopy(t *ir.Tensor) *ir.Tensor {
	c := ir.NewTensor(t.DType, t.Shape...)
	copyData(c, t)
	return c
}
