package study

import (
	"os"
	"testing"
	"fmt"
)

func TestTmpFull(t *testing.T) {
	c := DefaultConfig()
	c.Data = "../../shared/data/sst2/train.tsv"
	c.Progress = os.Stdout
	r, err := Run(c)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Println(r.TrainSeconds, r.StudySeconds)
	for _, row := range r.Summary {
		fmt.Printf("%-18s %.1f %-6s wta %.4f crs %.4f topk %.4f  ratio %.3f cond %d/%d\n", row.Group, row.Keep, row.Source, row.Error["wta"], row.Error["crs"], row.Error["topk"], row.WTAOverCRS, row.Condition, row.Cases)
	}
	for _, cs := range r.Violations(0.02) {
		fmt.Printf("VIOL %s step %d keep %.1f %s c*=%d Pc=%.3f wta %.4f (exp %.4f) crs %.4f (exp %.4f)\n", cs.Layer, cs.Step, cs.Keep, cs.Source, cs.CStar, cs.PCStar, cs.Errors["wta"].RMS, cs.Errors["wta"].Expected, cs.Errors["crs"].RMS, cs.Errors["crs"].Expected)
	}
	for _, cs := range r.Cases[:24] {
		fmt.Printf("%s step %d keep %.1f %-6s k=%d c*=%d Pc=%.3f", cs.Layer, cs.Step, cs.Keep, cs.Source, cs.K, cs.CStar, cs.PCStar)
		for _, e := range Estimators {
			x := cs.Errors[e]
			fmt.Printf("  %s %.4f/%.4f m%.4f", e, x.RMS, x.Expected, x.OfMean)
		}
		fmt.Println()
	}
}
