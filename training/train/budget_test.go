package train

import (
	"bytes"
	"strings"
	"testing"

	"crsc/tools/planning"
)

// TestMemoryBudget: --memory-budget trains with the first strategy of the
// ladder whose planned total (with the process's overhead) fits, and
// refuses a budget nothing meets, naming what each strategy needs and the
// least budget it could meet.
func TestMemoryBudget(t *testing.T) {
	run := func(budget int64) (string, error) {
		c := tinyConfig(t, "exact", "none")
		c.MaxSteps, c.NoExport, c.MemoryBudget = 2, true, budget
		var out bytes.Buffer
		c.Progress = &out
		_, err := Run(c)
		return out.String(), err
	}
	_, err := run(1)
	if err == nil || !strings.Contains(err.Error(), "no strategy fits batch 8") || !strings.Contains(err.Error(), "give at least") {
		t.Fatalf("a 1-byte budget: got %v", err)
	}
	// "(tried exact 64.73 MiB, exact + recompute 64.71 MiB, …)": what each
	// strategy needs, in ladder order.
	msg := err.Error()
	list := msg[strings.Index(msg, "(tried ")+len("(tried ") : strings.Index(msg, "): give")]
	type need struct {
		name  string
		bytes int64
	}
	var needs []need
	for _, item := range strings.Split(list, ", ") {
		fields := strings.Fields(item)
		size := strings.Join(fields[len(fields)-2:], " ")
		needs = append(needs, need{strings.Join(fields[:len(fields)-2], " "), mustBytes(t, size)})
	}
	if len(needs) != len(planning.Strategies()) {
		t.Fatalf("tried %d strategies, the ladder has %d: %s", len(needs), len(planning.Strategies()), list)
	}
	for _, budget := range []int64{needs[0].bytes, needs[len(needs)/2].bytes, needs[len(needs)-1].bytes} {
		want := ""
		for _, n := range needs {
			if n.bytes <= budget {
				want = n.name
				break
			}
		}
		out, err := run(budget)
		if err != nil {
			t.Fatalf("budget %d: %v", budget, err)
		}
		if !strings.Contains(out, "→ "+want+":") {
			t.Errorf("budget %d: want %q chosen in\n%s", budget, want, out)
		}
	}
}

// mustBytes parses a size as FormatBytes writes it (to 0.01 MiB), plus
// the half unit it may have rounded off.
func mustBytes(t *testing.T, s string) int64 {
	t.Helper()
	v, err := planning.ParseBytes(s)
	if err != nil {
		t.Fatal(err)
	}
	return v + 5243
}
