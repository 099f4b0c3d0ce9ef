package runtime_test

import (
	"cmp"
	"fmt"
	"maps"
	"math/rand"
	"slices"
	"strings"
	"testing"
	"time"

	"crsc/compiler/ir"
	"crsc/compiler/models"
	"crsc/compiler/passes"
	"crsc/runtime"
	"crsc/runtime/engine"
)

// bertBase builds the BERT-base classifier graph in the IR, bound to
// batch×seq and folded, with random inputs (no padding).
func bertBase(b *testing.B, batch, seq int) (*ir.Graph, map[string]*ir.Tensor) {
	b.Helper()
	g, err := models.BuildBert(models.BertBase, 1)
	if err != nil {
		b.Fatal(err)
	}
	r := rand.New(rand.NewSource(1))
	ids, mask, types := make([]int64, batch*seq), make([]int64, batch*seq), make([]int64, batch*seq)
	for i := range ids {
		ids[i], mask[i] = int64(r.Intn(models.BertBase.Vocab)), 1
	}
	inputs := map[string]*ir.Tensor{
		"input_ids":      ir.FromInt64([]int{batch, seq}, ids),
		"attention_mask": ir.FromInt64([]int{batch, seq}, mask),
		"token_type_ids": ir.FromInt64([]int{batch, seq}, types),
	}
	shapes := map[string]ir.Shape{"input_ids": ir.StaticShape(batch, seq)}
	if err := passes.Run(g, passes.Load, &passes.Config{Shapes: shapes, Supports: runtime.CPU(runtime.Options{}).Supports}); err != nil {
		b.Fatal(err)
	}
	return g, inputs
}

// forwardRunner binds g to a CPU engine session with the given threads
// and returns a function that runs one forward pass on inputs, the way
// `crsc run` does: lowered (transposes folded into the GEMMs, biases added
// in them), node outputs in one planned arena. It lowers g in place, so
// export g first if a peer should read it as built.
func forwardRunner(b *testing.B, g *ir.Graph, inputs map[string]*ir.Tensor, threads int) (run func() map[string]*ir.Tensor, profile func() *runtime.Profile) {
	b.Helper()
	sess, err := engine.New(nil, threads)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(sess.Close)
	p := runtime.NewProfile()
	run = func() map[string]*ir.Tensor {
		out, err := sess.Run(g, inputs, 0)
		if err != nil {
			b.Fatal(err)
		}
		return out
	}
	profile = func() *runtime.Profile { sess.SetProfile(p); return p }
	return run, profile
}

// BenchmarkBertBaseForwardCrsc times crsc alone; the ort-tagged
// BenchmarkBertBaseForward compares with ONNX Runtime in the same run.
// With -v it prints where the time went, per op.
func BenchmarkBertBaseForwardCrsc(b *testing.B) {
	g, inputs := bertBase(b, 8, 128)
	run, profile := forwardRunner(b, g, inputs, 2)
	run() // binds, plans and warms the arena
	var p *runtime.Profile
	if testing.Verbose() {
		p = profile()
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		run()
	}
	b.StopTimer()
	if p != nil {
		b.Logf("per op, %d passes:\n%s", b.N, profileTable(p, b.N))
	}
}

// profileTable lists p's ops by time, per pass, most first.
func profileTable(p *runtime.Profile, passes int) string {
	ops := slices.SortedFunc(maps.Keys(p.Time), func(x, y string) int { return cmp.Compare(p.Time[y], p.Time[x]) })
	var total time.Duration
	for _, op := range ops {
		total += p.Time[op]
	}
	var sb strings.Builder
	for _, op := range ops {
		t := p.Time[op] / time.Duration(passes)
		fmt.Fprintf(&sb, "%-28s %4d× %8.1f ms %5.1f%%\n", op, p.Count[op]/passes, float64(t.Microseconds())/1e3, 100*float64(p.Time[op])/float64(total))
	}
	return sb.String()
}
