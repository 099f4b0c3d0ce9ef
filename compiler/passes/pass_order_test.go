package passes

import "testing"

// TestPassOrder: every ordering constraint holds in the pipeline that has
// both passes and names passes that exist; no pass name is in both
// pipelines (inspect --after finds a pass by its name).
func TestPassOrder(t *testing.T) {
	pipelines := [][]Pass{Load, TrainingPipeline, Lowering}
	owner := map[string]int{}
	for k, pl := range pipelines {
		for _, p := range pl {
			if o, ok := owner[p.Name]; ok && o != k {
				t.Errorf("pass %q is in both pipelines", p.Name)
			}
			owner[p.Name] = k
		}
	}
	// first is a pass's first position (infer-shapes runs twice in Load).
	first := func(name string) int {
		for i, p := range pipelines[owner[name]] {
			if p.Name == name {
				return i
			}
		}
		return -1
	}
	for _, c := range passOrder {
		_, okA := owner[c.a]
		_, okB := owner[c.b]
		switch {
		case !okA || !okB:
			t.Errorf("constraint %s < %s names a pass that does not exist", c.a, c.b)
		case owner[c.a] != owner[c.b]:
			t.Errorf("constraint %s < %s spans two pipelines", c.a, c.b)
		case first(c.a) >= first(c.b):
			t.Errorf("%s must run before %s (%s)", c.a, c.b, c.why)
		}
	}
}
