//go:build ort

package runtime_test

import (
	"path/filepath"
	"testing"
	"time"

	"crsc/compiler/onnx"
	"crsc/internal/ortoracle"
)

// BenchmarkBertBaseForward runs a BERT-base-shaped classifier forward pass
// (12 layers, hidden 768, batch 8 × 128) in crsc and in ONNX Runtime 1.30
// (all graph optimizations, 2 intra-op threads), alternating the two in every
// iteration so both see the same machine state, and reports each one's time
// per pass and the ratio crsc/ORT (target ≤ 1.0). crsc runs as `crsc run`
// does, through the engine.
//
//	go test -tags ort -run '^$' -bench BertBaseForward -benchtime 5x ./runtime
func BenchmarkBertBaseForward(b *testing.B) {
	g, inputs := bertBase(b, 8, 128)
	path := filepath.Join(b.TempDir(), "bert_base.onnx")
	if err := onnx.Save(g, path); err != nil {
		b.Fatal(err)
	}
	sess, err := ortoracle.NewSession(path, 2)
	if err != nil {
		b.Fatal(err)
	}
	defer sess.Close()
	// One warm-up run each, and a parity check while we are at it.
	want, err := sess.Run(inputs)
	if err != nil {
		b.Fatal(err)
	}
	run, _ := forwardRunner(b, g, inputs, 2) // after the export: it lowers g
	got := run()
	if d, err := compare(got["logits"], want["logits"]); err != nil || d > parityTol {
		b.Fatalf("crsc and ORT disagree on BERT-base: %v %v", d, err)
	}
	var crscTime, ortTime time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		run()
		crscTime += time.Since(start)
		start = time.Now()
		if _, err := sess.Run(inputs); err != nil {
			b.Fatal(err)
		}
		ortTime += time.Since(start)
	}
	b.ReportMetric(float64(crscTime.Milliseconds())/float64(b.N), "crsc-ms/pass")
	b.ReportMetric(float64(ortTime.Milliseconds())/float64(b.N), "ort-ms/pass")
	b.ReportMetric(float64(crscTime)/float64(ortTime), "crsc/ort")
}
