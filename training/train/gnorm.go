package train

import (
	"fmt"
	"sort"

	"crsc/compiler/ir"
	"crsc/compiler/passes"
)

// gnorms keeps the ‖G_i‖ estimates the WTA-CRS sampler weights rows by
// (--gnorm ema or cache). The training graph takes ĝ for each sampled
// layer as input gnorm/<layer> [N = batch·seq] and returns the rows' true
// norms of this step as gnorm_out/<layer>.
//
//   - ema: per (layer, token position), a running mean across steps of
//     the mean over the batch's real rows (the layer's padding mask says
//     which): a padding row's G is 0 and would drag the estimate down at
//     positions that are often padding. A position no real row has
//     reached yet reads the mean of the seen positions (1 before any).
//   - cache: per (example, position, layer), the value from the example's
//     previous visit; unseen examples fall back to the ema.
type gnorms struct {
	mode   string
	decay  float64
	seqOf  map[string]int // layer → rows per example (T5: src_len or tgt_len)
	layers []passes.LayerDecision
	ema    map[string][]float32         // layer → [seq]; nil entry: no estimate yet (ĝ = 1)
	seen   map[string][]bool            // layer → [seq]: ema[p] holds an estimate
	cache  map[string]map[int][]float32 // layer → example index → [seq]
}

func newGNorms(mode string, decay float64, batch, seq int, layers []passes.LayerDecision) *gnorms {
	g := &gnorms{mode: mode, decay: decay, seqOf: map[string]int{}, ema: map[string][]float32{}, seen: map[string][]bool{}, cache: map[string]map[int][]float32{}}
	for _, d := range layers {
		if d.GNormInput != "" {
			g.layers = append(g.layers, d)
			g.cache[d.GNormInput] = map[int][]float32{}
			// A layer's rows are batch × its own sequence: a T5 decoder
			// layer has tgt_len rows per example, not the source's.
			g.seqOf[d.GNormInput] = seq
			if d.Rows > 0 && d.Rows%batch == 0 {
				g.seqOf[d.GNormInput] = d.Rows / batch
			}
		}
	}
	return g
}

// feed adds ĝ for every sampled layer to feeds, for a batch whose row r
// holds example rows[r].
func (g *gnorms) feed(feeds map[string]*ir.Tensor, rows []int) {
	for _, d := range g.layers {
		seq := g.seqOf[d.GNormInput]
		t := ir.NewTensor(ir.Float32, len(rows)*seq)
		ema, seen := g.ema[d.GNormInput], g.seen[d.GNormInput]
		unseen := unseenValue(ema, seen)
		for r, ex := range rows {
			var cached []float32
			if g.mode == "cache" {
				cached = g.cache[d.GNormInput][ex]
			}
			for p := 0; p < seq; p++ {
				v := float32(1)
				switch {
				case cached != nil:
					v = cached[p]
				case ema != nil && seen[p]:
					v = ema[p]
				case ema != nil:
					v = unseen
				}
				t.F32[r*seq+p] = v
			}
		}
		feeds[d.GNormInput] = t
	}
}

// unseenValue is ĝ at a position without an estimate: the mean of the
// seen positions' estimates, or 1 before any position has one.
func unseenValue(ema []float32, seen []bool) float32 {
	var sum float64
	n := 0
	for p, ok := range seen {
		if ok {
			sum += float64(ema[p])
			n++
		}
	}
	if n == 0 {
		return 1
	}
	return float32(sum / float64(n))
}

// realRow reports whether row i of a padding mask (feeds' attention_mask
// or decoder_attention_mask) is a token; without a usable mask every row
// counts.
func realRow(mask *ir.Tensor, i, n int) bool {
	switch {
	case mask == nil:
		return true
	case len(mask.I64) == n:
		return mask.I64[i] != 0
	case len(mask.I32) == n:
		return mask.I32[i] != 0
	case len(mask.F32) == n:
		return mask.F32[i] != 0
	}
	return true
}

// update folds one step's measured norms into the estimates: per
// position, the mean over the real rows of the batch (feeds holds the
// padding masks); a position with no real row keeps its estimate.
func (g *gnorms) update(out, feeds map[string]*ir.Tensor, rows []int) error {
	for _, d := range g.layers {
		seq := g.seqOf[d.GNormInput]
		got := out[d.GNormOutput]
		if got == nil || len(got.F32) != len(rows)*seq {
			return fmt.Errorf("training graph: output %q missing or not [%d]", d.GNormOutput, len(rows)*seq)
		}
		var mask *ir.Tensor
		if d.PaddingMask != "" {
			mask = feeds[d.PaddingMask]
		}
		sum, count := make([]float64, seq), make([]int, seq)
		for r := range rows {
			for p := 0; p < seq; p++ {
				if i := r*seq + p; realRow(mask, i, len(rows)*seq) {
					sum[p] += float64(got.F32[i])
					count[p]++
				}
			}
		}
		ema, seen := g.ema[d.GNormInput], g.seen[d.GNormInput]
		if ema == nil {
			ema, seen = make([]float32, seq), make([]bool, seq)
			g.ema[d.GNormInput], g.seen[d.GNormInput] = ema, seen
		}
		for p := range ema {
			if count[p] == 0 {
				continue
			}
			mean := float32(sum[p] / float64(count[p]))
			if seen[p] {
				ema[p] = float32(g.decay)*ema[p] + float32(1-g.decay)*mean
			} else {
				ema[p], seen[p] = mean, true
			}
		}
		if g.mode == "cache" {
			for r, ex := range rows {
				g.cache[d.GNormInput][ex] = append([]float32(nil), got.F32[r*seq:(r+1)*seq]...)
			}
		}
	}
	return nil
}

// CacheBytes is the memory the cache's values take.
func (g *gnorms) CacheBytes() int64 {
	var n int64
	for name, m := range g.cache {
		n += int64(len(m)) * int64(g.seqOf[name]) * 4
	}
	return n
}

// state returns the estimates as checkpoint tensors.
func (g *gnorms) state() map[string]*ir.Tensor {
	s := map[string]*ir.Tensor{}
	for name, ema := range g.ema {
		s["gnorm_ema/"+name] = ir.FromFloat32([]int{len(ema)}, append([]float32(nil), ema...))
		seen := make([]int64, len(ema))
		for p, ok := range g.seen[name] {
			if ok {
				seen[p] = 1
			}
		}
		s["gnorm_seen/"+name] = ir.FromInt64([]int{len(seen)}, seen)
	}
	for name, m := range g.cache {
		if len(m) == 0 {
			continue
		}
		keys := make([]int64, 0, len(m))
		for k := range m {
			keys = append(keys, int64(k))
		}
		sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
		seq := g.seqOf[name]
		vals := make([]float32, 0, len(keys)*seq)
		for _, k := range keys {
			vals = append(vals, m[int(k)]...)
		}
		s["gnorm_cache_keys/"+name] = ir.FromInt64([]int{len(keys)}, keys)
		s["gnorm_cache/"+name] = ir.FromFloat32([]int{len(keys), seq}, vals)
	}
	return s
}

// load restores what state returned.
func (g *gnorms) load(s map[string]*ir.Tensor) error {
	for _, d := range g.layers {
		name := d.GNormInput
		seq := g.seqOf[name]
		if t := s["gnorm_ema/"+name]; t != nil {
			if len(t.F32) != seq {
				return fmt.Errorf("checkpoint: gnorm_ema/%s has %d entries, want %d", name, len(t.F32), seq)
			}
			g.ema[name] = append([]float32(nil), t.F32...)
			// A checkpoint from before gnorm_seen had every position seen.
			seen := make([]bool, seq)
			st := s["gnorm_seen/"+name]
			if st != nil && len(st.I64) != seq {
				return fmt.Errorf("checkpoint: gnorm_seen/%s has %d entries, want %d", name, len(st.I64), seq)
			}
			for p := range seen {
				seen[p] = st == nil || st.I64[p] != 0
			}
			g.seen[name] = seen
		}
		keys, vals := s["gnorm_cache_keys/"+name], s["gnorm_cache/"+name]
		if keys == nil || vals == nil {
			continue
		}
		if len(vals.F32) != len(keys.I64)*seq {
			return fmt.Errorf("checkpoint: gnorm_cache/%s does not match its keys", name)
		}
		for i, k := range keys.I64 {
			g.cache[name][int(k)] = append([]float32(nil), vals.F32[i*seq:(i+1)*seq]...)
		}
	}
	return nil
}
