package train

import (
	"fmt"
	"sort"

	"crsc/ir"
	"crsc/passes"
)

// gnorms keeps the ‖G_i‖ estimates the WTA-CRS sampler weights rows by
// (--gnorm ema or cache). The training graph takes ĝ for each sampled
// layer as input gnorm/<layer> [N = batch·seq] and returns the rows' true
// norms of this step as gnorm_out/<layer>.
//
//   - ema: per (layer, token position), a running mean across steps.
//   - cache: per (example, position, layer), the value from the example's
//     previous visit; unseen examples fall back to the ema.
type gnorms struct {
	mode   string
	decay  float64
	seqOf  map[string]int // layer → rows per example (T5: src_len or tgt_len)
	layers []passes.LayerDecision
	ema    map[string][]float32         // layer → [seq]; nil entry: no estimate yet (ĝ = 1)
	cache  map[string]map[int][]float32 // layer → example index → [seq]
}

func newGNorms(mode string, decay float64, batch, seq int, layers []passes.LayerDecision) *gnorms {
	g := &gnorms{mode: mode, decay: decay, seqOf: map[string]int{}, ema: map[string][]float32{}, cache: map[string]map[int][]float32{}}
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
		ema := g.ema[d.GNormInput]
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
				case ema != nil:
					v = ema[p]
				}
				t.F32[r*seq+p] = v
			}
		}
		feeds[d.GNormInput] = t
	}
}

// update folds one step's measured norms into the estimates.
func (g *gnorms) update(out map[string]*ir.Tensor, rows []int) error {
	for _, d := range g.layers {
		seq := g.seqOf[d.GNormInput]
		got := out[d.GNormOutput]
		if got == nil || len(got.F32) != len(rows)*seq {
			return fmt.Errorf("training graph: output %q missing or not [%d]", d.GNormOutput, len(rows)*seq)
		}
		mean := make([]float32, seq)
		for r := range rows {
			for p := 0; p < seq; p++ {
				mean[p] += got.F32[r*seq+p] / float32(len(rows))
			}
		}
		ema := g.ema[d.GNormInput]
		if ema == nil {
			g.ema[d.GNormInput] = mean
		} else {
			for p := range ema {
				ema[p] = float32(g.decay)*ema[p] + float32(1-g.decay)*mean[p]
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
