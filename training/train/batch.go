package train

import (
	"fmt"
	"math/rand"
	"slices"
	"unsafe"

	"crsc/compiler/ir"
	"crsc/training/data"
	"crsc/training/tokenize"
)

// encoded is a tokenized data set, stored compactly: each example's
// tokens unpadded, as int32, packed into one slice; batches are padded
// when they are made. Row i belongs to examples[i] (kept without their
// text, which nothing reads after tokenizing).
type encoded struct {
	examples []data.Example
	ids      []int32 // every example's tokens, concatenated
	start    []int32 // example i's tokens are ids[start[i]:start[i+1]]
	segB     []int32 // position of example i's first token of type 1 (its length when none)
	pad      int64   // the id padded positions get
	maxLen   int
	// targets[c] is class c's label sequence for a text-to-text model
	// (label word pieces, </s>, then -100 up to the target length); nil
	// for a classifier.
	targets [][]int64
}

func newEncoded(examples []data.Example, maxLen int, pad int64, targets [][]int64) *encoded {
	e := &encoded{examples: make([]data.Example, len(examples)), start: make([]int32, 1, len(examples)+1),
		segB: make([]int32, 0, len(examples)), maxLen: maxLen, pad: pad, targets: targets}
	for i, ex := range examples {
		ex.TextA, ex.TextB = "", ""
		e.examples[i] = ex
	}
	return e
}

// add packs one example's encoding (padded to maxLen, mask 1 on its
// tokens, then 0).
func (e *encoded) add(ids, mask, types []int64) {
	n := 0
	for n < len(mask) && mask[n] != 0 {
		n++
	}
	b := n
	for j := 0; j < n; j++ {
		e.ids = append(e.ids, int32(ids[j]))
		if types != nil && types[j] != 0 && b == n {
			b = j
		}
	}
	e.start = append(e.start, int32(len(e.ids)))
	e.segB = append(e.segB, int32(b))
}

// length is example i's token count.
func (e *encoded) length(i int) int { return int(e.start[i+1] - e.start[i]) }

// Bytes is the memory the tokenized set holds.
func (e *encoded) Bytes() int64 {
	return int64(4*(len(e.ids)+len(e.start)+len(e.segB))) + int64(len(e.examples))*int64(unsafe.Sizeof(data.Example{}))
}

func encode(tok *tokenize.WordPiece, examples []data.Example, maxLen int) *encoded {
	e := newEncoded(examples, maxLen, int64(tok.PAD), nil)
	for _, ex := range examples {
		enc := tok.Encode(ex.TextA, ex.TextB, maxLen)
		e.add(enc.IDs, enc.Mask, enc.Types)
	}
	return e
}

// encodeT5 tokenizes examples as a text-to-text model reads them: the
// task's input text (prefix and field names) truncated to maxLen with
// </s>, and the label words as targets.
func encodeT5(tok *tokenize.Unigram, task *data.Task, examples []data.Example, maxLen int, targets [][]int64) *encoded {
	e := newEncoded(examples, maxLen, int64(tok.PAD), targets)
	for _, ex := range examples {
		ids, mask, _ := tok.EncodeText(task.TextInput(ex.TextA, ex.TextB), maxLen)
		e.add(ids, mask, nil)
	}
	return e
}

// labelTargets returns each class's label sequence: the pieces of its
// word, then </s>, padded with -100 (ignored by the loss) to tgtLen; and
// the length the longest one needs. tgtLen 0 means that length.
func labelTargets(tok *tokenize.Unigram, task *data.Task, tgtLen int) ([][]int64, int, error) {
	if task.Regression || len(task.Words) != task.NumClasses() {
		return nil, 0, fmt.Errorf("task %s has no label words: a text-to-text model cannot be trained on it", task.Name)
	}
	seqs := make([][]int, len(task.Words))
	need := 0
	for c, w := range task.Words {
		seqs[c] = append(tok.IDs(w), tok.EOS)
		need = max(need, len(seqs[c]))
	}
	for c := range seqs {
		for d := range c {
			if slices.Equal(seqs[c], seqs[d]) {
				return nil, 0, fmt.Errorf("task %s: label words %q and %q tokenize alike", task.Name, task.Words[d], task.Words[c])
			}
		}
	}
	if tgtLen == 0 {
		tgtLen = need
	}
	if tgtLen < need {
		return nil, 0, fmt.Errorf("--tgt-len %d: task %s's longest label needs %d (its pieces and </s>)", tgtLen, task.Name, need)
	}
	out := make([][]int64, len(seqs))
	for c, s := range seqs {
		out[c] = make([]int64, tgtLen)
		for i := range out[c] {
			out[c][i] = -100
			if i < len(s) {
				out[c][i] = int64(s[i])
			}
		}
	}
	return out, tgtLen, nil
}

// shiftRight is Hugging Face's T5 _shift_right: the decoder input at t is
// the label at t-1, starting from the pad id (T5's decoder_start_token_id),
// with the ignored -100 positions read as pad.
func shiftRight(labels []int64, pad int64, dst []int64) {
	dst[0] = pad
	for i := 1; i < len(dst); i++ {
		dst[i] = labels[i-1]
		if dst[i] == -100 {
			dst[i] = pad
		}
	}
}

// batch is one fixed-size batch. rows[i] is the example index of row i, or
// -1 for a padding row (evaluation's last batch).
type batch struct {
	ids, mask, types *ir.Tensor
	labels           *ir.Tensor // int64 [B] (classification), f32 [B,1] (regression), int64 [B,tgt] (T5)
	decIDs           *ir.Tensor // T5: labels shifted right
	rows             []int
	tokens           int
}

// makeBatch stacks the given examples (by index; -1 pads) into tensors.
func (e *encoded) makeBatch(rows []int, regression bool) *batch {
	return e.makeBatchAs(rows, regression, -1, e.maxLen)
}

// makeBatchAs is makeBatch with, for a text-to-text model, every row's
// targets set to class as (-1: each example's own class; padding rows get
// class 0's, so that no row's loss is all ignored), padded to L columns
// (at least the batch's longest example: padding is at the end).
func (e *encoded) makeBatchAs(rows []int, regression bool, as, L int) *batch {
	n := len(rows)
	b := &batch{ids: ir.NewTensor(ir.Int64, n, L), mask: ir.NewTensor(ir.Int64, n, L), types: ir.NewTensor(ir.Int64, n, L), rows: rows}
	if e.targets != nil {
		T := len(e.targets[0])
		b.labels, b.decIDs = ir.NewTensor(ir.Int64, n, T), ir.NewTensor(ir.Int64, n, T)
		for r, idx := range rows {
			c := as
			if c < 0 {
				c = 0
				if idx >= 0 {
					c = e.examples[idx].Class
				}
			}
			copy(b.labels.I64[r*T:], e.targets[c])
			shiftRight(e.targets[c], 0, b.decIDs.I64[r*T:(r+1)*T])
			if idx >= 0 {
				for _, v := range e.targets[c] {
					if v != -100 {
						b.tokens++
					}
				}
			}
		}
	}
	switch {
	case e.targets != nil:
	case regression:
		b.labels = ir.NewTensor(ir.Float32, n, 1)
	default:
		b.labels = ir.NewTensor(ir.Int64, n)
	}
	for r, idx := range rows {
		if idx < 0 {
			if !regression && e.targets == nil {
				b.labels.I64[r] = -100 // ignored by the loss
			}
			continue
		}
		ids := e.ids[e.start[idx]:e.start[idx+1]]
		row, mask, types := b.ids.I64[r*L:(r+1)*L], b.mask.I64[r*L:(r+1)*L], b.types.I64[r*L:(r+1)*L]
		for j := range row {
			row[j] = e.pad
		}
		for j, id := range ids {
			row[j], mask[j] = int64(id), 1
			if j >= int(e.segB[idx]) {
				types[j] = 1
			}
		}
		b.tokens += len(ids)
		switch {
		case e.targets != nil:
		case regression:
			b.labels.F32[r] = float32(e.examples[idx].Target)
		default:
			b.labels.I64[r] = int64(e.examples[idx].Class)
		}
	}
	return b
}

// PadMultiple rounds dynamically padded lengths up, so that a data set
// needs a handful of compiled training graphs, not one per length.
const PadMultiple = 8

// paddedLen is the length a batch of rows is padded to: its longest
// example (counted by attention mask), rounded up to PadMultiple, at most
// maxLen.
func (e *encoded) paddedLen(rows []int) int {
	longest := 1
	for _, idx := range rows {
		if idx < 0 {
			continue
		}
		longest = max(longest, e.length(idx))
	}
	return min(e.maxLen, (longest+PadMultiple-1)/PadMultiple*PadMultiple)
}

// epochOrder is the shuffled example order of an epoch: a function of the
// seed and the epoch only, so a resumed run sees the same order.
func epochOrder(n int, seed int64, epoch int) []int {
	r := rand.New(rand.NewSource(seed*1_000_003 + int64(epoch)*7_919 + 1))
	return r.Perm(n)
}

// trainBatches is the number of full batches per epoch (the last partial
// batch is dropped in training: the graph's batch size is static).
func trainBatches(n, batchSize int) int { return n / batchSize }

// evalBatches splits 0..n-1 into batches, padding the last with -1 rows.
func evalBatches(n, batchSize int) [][]int {
	var out [][]int
	for start := 0; start < n; start += batchSize {
		rows := make([]int, batchSize)
		for i := range rows {
			rows[i] = -1
			if start+i < n {
				rows[i] = start + i
			}
		}
		out = append(out, rows)
	}
	return out
}
