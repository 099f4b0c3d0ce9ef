package gpu

import (
	"fmt"
	"math/bits"
	"sync"
	"unsafe"

	"crsc/compiler/ir"
	"crsc/compiler/memplan"
	"crsc/runtime/cuda"
)

// buffer is one device allocation: a pool block, or the planned arena.
// Pool blocks are reference counted because several tensors may share one
// (a Reshape output views its input's storage); the arena is not, as the
// memory plan already decided when each of its bytes is reused.
type buffer struct {
	ptr   cuda.Ptr
	size  int64 // bytes reserved (the size class for pool blocks)
	arena bool
	refs  int
}

// devData is the ir.DeviceData of this backend's tensors: where in a
// buffer the tensor's elements start and how many bytes they take.
type devData struct {
	buf   *buffer // nil for an empty tensor
	off   int64
	bytes int64
}

func (d *devData) DeviceBytes() int64 { return d.bytes }

// dataOf returns t's device storage, or nil for a host tensor. A device
// tensor from another backend is a bug the caller cannot recover from.
func dataOf(t *ir.Tensor) *devData {
	if t == nil || t.Device == nil {
		return nil
	}
	d, ok := t.Device.(*devData)
	if !ok {
		panic(fmt.Sprintf("tensor %v%v lives on another device backend (%T)", t.DType, t.Shape, t.Device))
	}
	return d
}

// elemSize is the device bytes per element of dt: that of its storage type.
func elemSize(dt ir.DType) int64 { return int64(dt.Storage().Size()) }

// storageBytes is the device bytes of a tensor of dt and shape (bfloat16
// packed two to a word, as on the host).
func storageBytes(dt ir.DType, shape []int) int64 {
	return dt.StorageBytes(ir.NumElements(shape))
}

// minClass is the smallest pool block: tiny tensors (scalars, shapes) are
// common, and giving them one class keeps them reusable across sizes.
const minClass = 512

// sizeClass rounds n up to a pool size class: four classes per power of
// two, so a block wastes at most a quarter of its size, yet tensors of
// nearby sizes (a batch's varying sequence lengths) share free lists.
func sizeClass(n int64) int64 {
	if n <= minClass {
		return minClass
	}
	p := int64(1) << (63 - bits.LeadingZeros64(uint64(n)))
	step := p / 4
	return (n + step - 1) / step * step
}

// memory owns the device memory of one Backend.
type memory struct {
	dev cuda.Device
	mu  sync.Mutex

	free map[int64][]cuda.Ptr // size class → idle pool blocks
	live map[*buffer]bool     // pool blocks handed out (freed by close)
	// held is the bytes the pool holds from the device (in use or idle);
	// inUse the bytes of blocks handed out. poolHigh and peak are their
	// maxima (peak adds the arena and the launch metadata).
	held, inUse, poolHigh, peak int64

	// The planned arena and the slots of the node now running.
	arena   *buffer
	plan    *memplan.MemPlan
	slots   []memplan.Slot
	claimed []bool

	// uploads maps a host tensor (graph input, weight) to its device copy
	// for the current run; each copy holds one reference of its block.
	uploads     map[*ir.Tensor]*ir.Tensor
	uploadBytes int64
	// keepUploads (Options.KeepUploads) carries uploads over to the next
	// run; used marks those the current run read, the ones to carry.
	keepUploads bool
	used        map[*ir.Tensor]bool
	// resident maps host tensors made resident (Backend.Resident: a
	// training run's parameters and moments) to their device copies, which
	// every run reads and no run drops; the host tensor is stale until
	// Download.
	resident map[*ir.Tensor]*ir.Tensor

	// toDevice and toHost count the bytes copied each way (the engine
	// reports them per step).
	bytesIn, bytesOut int64

	// metas caches small int64 arrays (shapes and strides of launches) on
	// the device by content, for the backend's lifetime: a training loop
	// launches the same shapes every step, so steady state copies nothing.
	metas     map[string]cuda.Ptr
	metaBytes int64
}

func newMemory(dev cuda.Device, keepUploads bool) *memory {
	return &memory{dev: dev, free: map[int64][]cuda.Ptr{}, live: map[*buffer]bool{},
		uploads: map[*ir.Tensor]*ir.Tensor{}, metas: map[string]cuda.Ptr{},
		keepUploads: keepUploads, used: map[*ir.Tensor]bool{}, resident: map[*ir.Tensor]*ir.Tensor{}}
}

// notePeak updates the device-bytes peak; m.mu is held.
func (m *memory) notePeak() {
	total := m.held + m.metaBytes
	if m.arena != nil {
		total += m.arena.size
	}
	m.peak = max(m.peak, total)
	m.poolHigh = max(m.poolHigh, m.inUse)
}

// setPlan makes p the plan of the next runs, with an arena of at least
// reserve bytes (and of p's size): an arena large enough already is
// reused, so one backend serves several graphs (one per padded length)
// with one arena sized for the largest.
func (m *memory) setPlan(p *memplan.MemPlan, reserve int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.plan = p
	if p == nil {
		return nil
	}
	size := max(p.PlannedPeak, reserve)
	if size == 0 || (m.arena != nil && m.arena.size >= size) {
		return nil
	}
	if m.arena != nil {
		if err := m.dev.Free(m.arena.ptr); err != nil {
			return err
		}
		m.arena = nil
	}
	ptr, err := m.devAlloc(size)
	if err != nil {
		return fmt.Errorf("planned arena of %d bytes: %w", size, err)
	}
	m.arena = &buffer{ptr: ptr, size: size, arena: true}
	m.notePeak()
	return nil
}

// makeResident uploads host tensor h once and keeps it for the backend's
// lifetime (a second call is a no-op).
func (m *memory) makeResident(h *ir.Tensor) (*ir.Tensor, error) {
	m.mu.Lock()
	d, ok := m.resident[h]
	m.mu.Unlock()
	if ok {
		return d, nil
	}
	return m.pooledCopy(h, func(d *ir.Tensor) { m.resident[h] = d })
}

// devAlloc allocates from the device; when it is full, the idle pool
// blocks are returned first and the allocation retried. m.mu is held.
func (m *memory) devAlloc(size int64) (cuda.Ptr, error) {
	p, err := m.dev.Alloc(size)
	if err == nil {
		return p, nil
	}
	if m.trim() == 0 {
		return 0, err
	}
	return m.dev.Alloc(size)
}

// trim frees every idle pool block and returns the bytes freed; m.mu is held.
func (m *memory) trim() int64 {
	var freed int64
	for class, ptrs := range m.free {
		for _, p := range ptrs {
			if m.dev.Free(p) == nil {
				freed += class
			}
		}
		delete(m.free, class)
	}
	m.held -= freed
	return freed
}

// startNode loads node i's planned slots (none without a plan).
func (m *memory) startNode(i int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.slots, m.claimed = nil, m.claimed[:0]
	if m.plan == nil || m.arena == nil || i < 0 || i >= m.plan.Nodes() {
		return
	}
	m.slots = m.plan.NodeSlots(i)
	for range m.slots {
		m.claimed = append(m.claimed, false)
	}
}

// endNode forgets the slots: a kernel run outside the executor (no
// StartNode before it) must not write into the last node's slots. It is
// also where an overgrown metadata cache is dropped (a workload with
// ever-new shapes): between nodes no kernel holds a metadata pointer.
func (m *memory) endNode() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.slots, m.claimed = nil, m.claimed[:0]
	if len(m.metas) <= maxMetas {
		return nil
	}
	// Queued launches may still read the arrays.
	if err := m.dev.Synchronize(); err != nil {
		return err
	}
	for _, p := range m.metas {
		m.dev.Free(p)
	}
	clear(m.metas)
	m.metaBytes = 0
	return nil
}

// unclaim returns the running node's slots to unclaimed (a kernel that
// gave up, before the CPU fallback asks for the same outputs).
func (m *memory) unclaim() {
	m.mu.Lock()
	clear(m.claimed)
	m.mu.Unlock()
}

// output returns a device tensor for a kernel output: the first unclaimed
// planned slot of the running node with the same dtype and element count
// (as runtime/arena.go places CPU outputs), else a pool block.
func (m *memory) output(dt ir.DType, shape []int) (*ir.Tensor, error) {
	n := ir.NumElements(shape)
	// A packed dtype's slot is planned as the int32 words it is stored in
	// (memplan.slotOf), so a CPU fallback's Int8Rows output finds it too.
	sdt, sn := dt, n
	if dt.Packed() {
		sdt, sn = dt.Storage(), dt.StorageLen(n)
	}
	m.mu.Lock()
	for k, s := range m.slots {
		if m.claimed[k] || s.DType != sdt || s.Elems != sn || n == 0 {
			continue
		}
		m.claimed[k] = true
		m.mu.Unlock()
		return m.arenaTensor(s, dt, shape), nil
	}
	m.mu.Unlock()
	return m.pooled(dt, shape)
}

// arenaTensor is a tensor in slot s of the arena.
func (m *memory) arenaTensor(s memplan.Slot, dt ir.DType, shape []int) *ir.Tensor {
	return &ir.Tensor{DType: dt, Shape: append([]int{}, shape...),
		Device: &devData{buf: m.arena, off: s.Offset, bytes: storageBytes(dt, shape)}}
}

// pooled returns a tensor in a fresh pool block (one reference).
func (m *memory) pooled(dt ir.DType, shape []int) (*ir.Tensor, error) {
	if dt.Storage().Size() == 0 {
		return nil, fmt.Errorf("no device storage for dtype %v", dt)
	}
	size := storageBytes(dt, shape)
	t := &ir.Tensor{DType: dt, Shape: append([]int{}, shape...), Device: &devData{bytes: size}}
	if size == 0 {
		return t, nil
	}
	buf, err := m.block(size)
	if err != nil {
		return nil, err
	}
	t.Device.(*devData).buf = buf
	return t, nil
}

// block takes a pool block of at least size bytes.
func (m *memory) block(size int64) (*buffer, error) {
	class := sizeClass(size)
	m.mu.Lock()
	defer m.mu.Unlock()
	var p cuda.Ptr
	if idle := m.free[class]; len(idle) > 0 {
		p = idle[len(idle)-1]
		m.free[class] = idle[:len(idle)-1]
	} else {
		var err error
		if p, err = m.devAlloc(class); err != nil {
			return nil, fmt.Errorf("device allocation of %d bytes (%d in use): %w", class, m.inUse, err)
		}
		m.held += class
	}
	m.inUse += class
	m.notePeak()
	b := &buffer{ptr: p, size: class, refs: 1}
	m.live[b] = true
	return b, nil
}

// retain adds a reference to t's block (a new view of it).
func (m *memory) retain(t *ir.Tensor) {
	d := dataOf(t)
	if d == nil || d.buf == nil || d.buf.arena {
		return
	}
	m.mu.Lock()
	d.buf.refs++
	m.mu.Unlock()
}

// release drops one reference to t's block, returning the block to its
// free list when it was the last. Host tensors and arena tensors are left
// alone (the arena's bytes are reused as the plan says).
func (m *memory) release(t *ir.Tensor) {
	d := dataOf(t)
	if d == nil || d.buf == nil || d.buf.arena {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	b := d.buf
	if b.refs <= 0 {
		return // released twice: keep the block out of the free list twice
	}
	if b.refs--; b.refs == 0 {
		m.free[b.size] = append(m.free[b.size], b.ptr)
		m.inUse -= b.size
		delete(m.live, b)
	}
}

// view returns a tensor sharing t's storage under another shape; it holds
// its own reference, released by its own Release.
func (m *memory) view(t *ir.Tensor, shape []int) *ir.Tensor {
	d := dataOf(t)
	m.retain(t)
	nd := *d
	return &ir.Tensor{DType: t.DType, Shape: append([]int{}, shape...), Device: &nd}
}

// upload returns the device copy of host tensor t for this run, copying
// it on first use.
func (m *memory) upload(t *ir.Tensor) (*ir.Tensor, error) {
	m.mu.Lock()
	if d, ok := m.resident[t]; ok {
		m.mu.Unlock()
		return d, nil
	}
	d, ok := m.uploads[t]
	m.used[t] = true
	m.mu.Unlock()
	if ok {
		return d, nil
	}
	if err := t.CheckData(); err != nil {
		return nil, err
	}
	return m.pooledCopy(t, func(d *ir.Tensor) {
		m.uploads[t] = d
		m.uploadBytes += dataOf(d).bytes
	})
}

// endRun drops the run's references to its uploads.
func (m *memory) endRun() {
	m.mu.Lock()
	var drop []*ir.Tensor
	for h, d := range m.uploads {
		if !m.keepUploads || !m.used[h] {
			drop = append(drop, d)
			delete(m.uploads, h)
		}
	}
	clear(m.used)
	m.mu.Unlock()
	for _, d := range drop {
		m.release(d)
	}
}

// pooledCopy returns a new pool tensor holding a copy of host tensor h,
// which keep records (called with m.mu held) once the copy is done.
func (m *memory) pooledCopy(h *ir.Tensor, keep func(d *ir.Tensor)) (*ir.Tensor, error) {
	d, err := m.pooled(h.DType, h.Shape)
	if err != nil {
		return nil, err
	}
	if err := m.copyIn(d, h); err != nil {
		m.release(d)
		return nil, err
	}
	m.mu.Lock()
	keep(d)
	m.mu.Unlock()
	return d, nil
}

// copyIn copies host tensor h into device tensor d (same storage type
// and element count).
func (m *memory) copyIn(d, h *ir.Tensor) error {
	dd := dataOf(d)
	b := hostBytes(h)
	if int64(len(b)) != dd.bytes {
		return fmt.Errorf("copy of %d host bytes into a %d-byte device tensor", len(b), dd.bytes)
	}
	if len(b) == 0 {
		return nil
	}
	m.mu.Lock()
	m.bytesIn += int64(len(b))
	m.mu.Unlock()
	return m.dev.CopyToDevice(dd.buf.ptr+cuda.Ptr(dd.off), b)
}

// toHost returns a host copy of device tensor t.
func (m *memory) toHost(t *ir.Tensor) (*ir.Tensor, error) {
	d := dataOf(t)
	if d == nil {
		return t, nil
	}
	h := ir.NewTensor(t.DType, t.Shape...)
	b := hostBytes(h)
	if int64(len(b)) != d.bytes {
		return nil, fmt.Errorf("device tensor %v%v holds %d bytes, want %d", t.DType, t.Shape, d.bytes, len(b))
	}
	if len(b) == 0 {
		return h, nil
	}
	if err := m.dev.CopyToHost(b, d.buf.ptr+cuda.Ptr(d.off)); err != nil {
		return nil, err
	}
	m.mu.Lock()
	m.bytesOut += int64(len(b))
	m.mu.Unlock()
	if t.DType == ir.Bool {
		// A kernel bug writing 2 into a bool byte would make an invalid Go
		// bool; normalizing costs nothing next to the copy.
		for i, v := range b {
			if v > 1 {
				b[i] = 1
			}
		}
	}
	return h, nil
}

// hostBytes views h's storage slice as bytes (no copy).
func hostBytes(h *ir.Tensor) []byte {
	var p unsafe.Pointer
	var n int
	switch h.DType.Storage() {
	case ir.Float32:
		p, n = unsafe.Pointer(unsafe.SliceData(h.F32)), len(h.F32)*4
	case ir.Float64:
		p, n = unsafe.Pointer(unsafe.SliceData(h.F64)), len(h.F64)*8
	case ir.Int64:
		p, n = unsafe.Pointer(unsafe.SliceData(h.I64)), len(h.I64)*8
	case ir.Int32:
		p, n = unsafe.Pointer(unsafe.SliceData(h.I32)), len(h.I32)*4
	case ir.Bool:
		p, n = unsafe.Pointer(unsafe.SliceData(h.Bool)), len(h.Bool)
	}
	if n == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(p), n)
}

// meta returns a device copy of vals, cached by content. The pointer is
// valid until the node ends (endNode may drop the cache).
func (m *memory) meta(vals []int64) (cuda.Ptr, error) {
	if len(vals) == 0 {
		vals = []int64{0}
	}
	b := unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(vals))), len(vals)*8)
	key := string(b)
	m.mu.Lock()
	defer m.mu.Unlock()
	if p, ok := m.metas[key]; ok {
		return p, nil
	}
	p, err := m.devAlloc(int64(len(b)))
	if err != nil {
		return 0, err
	}
	if err := m.dev.CopyToDevice(p, b); err != nil {
		m.dev.Free(p)
		return 0, err
	}
	m.metas[key] = p
	m.metaBytes += int64(len(b))
	m.notePeak()
	return p, nil
}

// maxMetas bounds the metadata cache.
const maxMetas = 4096

// close frees everything this memory allocated.
func (m *memory) close() error {
	m.keepUploads = false // everything goes now
	m.endRun()
	clear(m.resident) // their blocks are live: freed below
	m.mu.Lock()
	defer m.mu.Unlock()
	var first error
	keep := func(err error) {
		if first == nil {
			first = err
		}
	}
	m.trim()
	// Blocks still referenced (tensors the caller kept) die with the
	// backend: their tensors must not be used after Close.
	for b := range m.live {
		keep(m.dev.Free(b.ptr))
		b.refs = 0
	}
	clear(m.live)
	m.held, m.inUse = 0, 0
	for _, p := range m.metas {
		keep(m.dev.Free(p))
	}
	clear(m.metas)
	if m.arena != nil {
		keep(m.dev.Free(m.arena.ptr))
		m.arena = nil
	}
	return first
}
