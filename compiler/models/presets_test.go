package models

import (
	"fmt"
	"math"
	goruntime "runtime"
	"strings"
	"testing"
	"time"

	"crsc/compiler/ir"
	"crsc/compiler/passes"
)

// Published parameter counts (Hugging Face model cards / the T5 paper;
// BERT with a 2-label classification head).
var publishedParams = map[string]float64{
	"bert-base":  109.5e6,
	"bert-large": 335.1e6,
	"t5-small":   60.5e6,
	"t5-base":    222.9e6,
	"t5-large":   737.7e6,
	"t5-3b":      2.85e9,
}

// paramCount sums the elements of float initializers: the parameters,
// leaving out int buffers (position_ids) and scalar constants.
func paramCount(g *ir.Graph) int64 {
	var n int64
	for _, v := range g.Inits {
		if v.Init.DType.IsFloat() && v.Init.Len() > 1 {
			n += int64(v.Init.Len())
		}
	}
	return n
}

// TestPresetsAbstract builds every preset without weights: it must be
// fast, allocate next to nothing, and have the published parameter count.
func TestPresetsAbstract(t *testing.T) {
	for _, name := range PresetNames() {
		var before, after goruntime.MemStats
		goruntime.GC()
		goruntime.ReadMemStats(&before)
		start := time.Now()
		g, err := Preset(name, BuildOptions{Abstract: true})
		took := time.Since(start)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		goruntime.GC()
		goruntime.ReadMemStats(&after)
		grew := int64(after.HeapAlloc) - int64(before.HeapAlloc)
		goruntime.KeepAlive(g)

		n := paramCount(g)
		want, published := publishedParams[name] // bert-tiny is a toy: none
		t.Logf("%-10s %6.1fM parameters (published %6.1fM), %d nodes, %.0f MB of weights not allocated, heap +%.1f MB, %v",
			name, float64(n)/1e6, want/1e6, len(g.Nodes), float64(4*n)/1e6, float64(grew)/1e6, took.Round(time.Millisecond))
		if published && math.Abs(float64(n)-want) > 0.01*want {
			t.Errorf("%s: %d parameters, published %.0f", name, n, want)
		}
		for _, v := range g.Inits {
			if v.Init.DType.IsFloat() && v.Init.Len() > 1 && !v.Init.Abstract {
				t.Errorf("%s: parameter %s is not abstract", name, v.Name)
			}
		}
		if grew > 100<<20 {
			t.Errorf("%s: building grew the heap by %d MB", name, grew>>20)
		}
		if took > 5*time.Second {
			t.Errorf("%s: building took %v", name, took)
		}
	}
}

// TestPresetsLoadStatic: with the input shapes bound, passes.Load
// (constant folding of every shape subgraph included) leaves every value of
// every preset with a static shape, which is what memory planning needs.
func TestPresetsLoadStatic(t *testing.T) {
	for _, name := range PresetNames() {
		t.Run(name, func(t *testing.T) {
			g, err := Preset(name, BuildOptions{Abstract: true})
			if err != nil {
				t.Fatal(err)
			}
			shapes := map[string]ir.Shape{"input_ids": ir.StaticShape(100, 128)}
			if strings.HasPrefix(name, "t5") {
				shapes["decoder_input_ids"] = ir.StaticShape(100, 128)
			}
			if err := passes.Run(g, passes.Load, &passes.Config{Shapes: shapes}); err != nil {
				t.Fatal(err)
			}
			for _, v := range g.Values() {
				if !v.HasShape || !v.Shape.IsStatic() {
					t.Errorf("%s: shape %v is not static", v.Name, v.Shape)
				}
			}
			if strings.HasPrefix(name, "t5") {
				vocab := int64(32128)
				if got, want := g.Outputs[1].Shape, ir.StaticShape(100, 128, int(vocab)); !got.Equal(want) {
					t.Errorf("logits %v, want %v", got, want)
				}
				if got := g.Outputs[0].Shape; len(got) != 0 {
					t.Errorf("loss %v, want a scalar", got)
				}
			}
		})
	}
}

func TestPresetUnknown(t *testing.T) {
	_, err := Preset("gpt-2", BuildOptions{})
	if err == nil || !strings.Contains(err.Error(), "t5-3b") || !strings.Contains(err.Error(), "bert-base") {
		t.Errorf("Preset(gpt-2) error %v should list the known names", err)
	}
	if got := fmt.Sprint(PresetNames()); got != "[bert-tiny bert-base bert-large t5-small t5-base t5-large t5-3b]" {
		t.Errorf("PresetNames() = %s", got)
	}
}
