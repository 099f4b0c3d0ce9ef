package train

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"crsc/training/data"
)

// TestAdmissionRefusesUpFront: a run whose plan exceeds the memory limit
// fails before training, naming both numbers and the largest batch that
// fits — which then runs.
func TestAdmissionRefusesUpFront(t *testing.T) {
	c := tinyConfig(t, "exact", "none")
	c.Batch = 32
	c.TrainExamples = data.Synthetic(96, 1)
	probe := c
	probe.Defaults()
	tr, err := setup(&probe)
	if err != nil {
		t.Fatal(err)
	}
	tr.sess.Close()
	total := tr.budget.Total
	// Room for the parameters, optimizer state and data, not the arena.
	limit := total - tr.budget.Arena/2
	t.Setenv(MemoryLimitEnv, strconv.FormatInt(limit, 10))
	_, err = Run(c)
	if err == nil {
		t.Fatal("a run over the memory limit started")
	}
	msg := err.Error()
	for _, want := range []string{"this run needs", MemoryLimitEnv, "the largest --batch that fits is"} {
		if !strings.Contains(msg, want) {
			t.Fatalf("message %q lacks %q", msg, want)
		}
	}
	if _, err := os.Stat(filepath.Join(c.Out, CheckpointFile)); err == nil {
		t.Fatal("the refused run wrote a checkpoint")
	}
	m := regexp.MustCompile(`largest --batch that fits is (\d+)`).FindStringSubmatch(msg)
	best, _ := strconv.Atoi(m[1])
	if best < 1 || best >= c.Batch {
		t.Fatalf("largest batch %d (configured %d): %s", best, c.Batch, msg)
	}
	c.Batch, c.Out, c.MaxSteps = best, t.TempDir(), 2
	if _, err := Run(c); err != nil {
		t.Fatalf("the suggested --batch %d does not run: %v", best, err)
	}
}

// TestRunMatchesItsPlan: the engine runs the step in its planned arena
// (nothing placed outside it), the budget counts the packed data set, and
// gradient accumulation reuses one set of accumulators.
func TestRunMatchesItsPlan(t *testing.T) {
	c := tinyConfig(t, "wta", "none")
	c.Accum, c.StaticPadding, c.MaxSteps = 2, true, 3
	res, err := Run(c)
	if err != nil {
		t.Fatal(err)
	}
	m, b := res.Memory, res.Budget
	if m.Unplanned != 0 {
		t.Errorf("%d bytes of node outputs missed their planned slot", m.Unplanned)
	}
	if m.ArenaHighWater > m.ArenaBytes || m.ArenaHighWater < m.ArenaBytes/2 {
		t.Errorf("arena high-water %d of %d planned", m.ArenaHighWater, m.ArenaBytes)
	}
	if b.Data <= 0 || b.Accumulators != m.AccumulatorBytes || b.Accumulators == 0 {
		t.Errorf("budget %+v, accumulators measured %d", b, m.AccumulatorBytes)
	}
	report, err := os.ReadFile(filepath.Join(c.Out, MemoryFile))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(report), "measured: arena high-water") {
		t.Errorf("memory.txt has no measured line:\n%s", report)
	}
}

// TestPackedData: a packed example comes back as the tokenizer padded it.
func TestPackedData(t *testing.T) {
	c := tinyConfig(t, "exact", "none")
	ex := []data.Example{{TextA: "good movie", TextB: "fine"}, {TextA: "bad"}}
	set := encode(c.Tokenizer, ex, 12)
	b := set.makeBatch([]int{0, 1}, false)
	for r, e := range ex {
		enc := c.Tokenizer.Encode(e.TextA, e.TextB, 12)
		for j := 0; j < 12; j++ {
			if b.ids.I64[r*12+j] != enc.IDs[j] || b.mask.I64[r*12+j] != enc.Mask[j] || b.types.I64[r*12+j] != enc.Types[j] {
				t.Fatalf("row %d position %d: ids/mask/types %d/%d/%d, tokenizer %d/%d/%d", r, j,
					b.ids.I64[r*12+j], b.mask.I64[r*12+j], b.types.I64[r*12+j], enc.IDs[j], enc.Mask[j], enc.Types[j])
			}
		}
	}
	if set.examples[0].TextA != "" {
		t.Error("the packed set keeps the text")
	}
}
