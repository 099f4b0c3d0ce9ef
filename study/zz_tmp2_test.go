package study

import (
	"fmt"
	"testing"
)

func TestTmpSmall(t *testing.T) {
	c := DefaultConfig()
	c.Data = "../../shared/data/sst2/train.tsv"
	c.Examples, c.Steps, c.Snapshot, c.Repeats, c.TopKRepeats = 128, 8, 2, 60, 3
	r, err := Run(c)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Println(r.TrainSeconds, r.StudySeconds)
	for _, cs := range r.Cases {
		w, c := cs.Errors["wta"], cs.Errors["crs"]
		if cs.Condition && w.Expected > c.Expected {
			fmt.Printf("EXPVIOL %s %d %.1f %s c*=%d %.5f %.5f\n", cs.Layer, cs.Step, cs.Keep, cs.Source, cs.CStar, w.Expected, c.Expected)
		}
	}
	fmt.Println(len(r.Violations(0.02)))
}
