package train

import (
	"math/rand"

	"crsc/data"
	"crsc/ir"
	"crsc/tokenize"
)

// encoded is a tokenized data set: row i of each slice belongs to
// examples[i].
type encoded struct {
	examples []data.Example
	enc      []tokenize.Encoding
	tokens   int // non-pad tokens, for throughput
	maxLen   int
}

func encode(tok *tokenize.WordPiece, examples []data.Example, maxLen int) *encoded {
	e := &encoded{examples: examples, enc: make([]tokenize.Encoding, len(examples)), maxLen: maxLen}
	for i, ex := range examples {
		e.enc[i] = tok.Encode(ex.TextA, ex.TextB, maxLen)
	}
	return e
}

// batch is one fixed-size batch. rows[i] is the example index of row i, or
// -1 for a padding row (evaluation's last batch).
type batch struct {
	ids, mask, types *ir.Tensor
	labels           *ir.Tensor // int64 [B] (classification) or f32 [B,1] (regression)
	rows             []int
	tokens           int
}

// makeBatch stacks the given examples (by index; -1 pads) into tensors.
func (e *encoded) makeBatch(rows []int, regression bool) *batch {
	n, L := len(rows), e.maxLen
	b := &batch{ids: ir.NewTensor(ir.Int64, n, L), mask: ir.NewTensor(ir.Int64, n, L), types: ir.NewTensor(ir.Int64, n, L), rows: rows}
	if regression {
		b.labels = ir.NewTensor(ir.Float32, n, 1)
	} else {
		b.labels = ir.NewTensor(ir.Int64, n)
	}
	for r, idx := range rows {
		if idx < 0 {
			if !regression {
				b.labels.I64[r] = -100 // ignored by the loss
			}
			continue
		}
		enc := e.enc[idx]
		copy(b.ids.I64[r*L:], enc.IDs)
		copy(b.mask.I64[r*L:], enc.Mask)
		copy(b.types.I64[r*L:], enc.Types)
		for _, m := range enc.Mask {
			b.tokens += int(m)
		}
		if regression {
			b.labels.F32[r] = float32(e.examples[idx].Target)
		} else {
			b.labels.I64[r] = int64(e.examples[idx].Class)
		}
	}
	return b
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
