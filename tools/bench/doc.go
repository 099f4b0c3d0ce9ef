// Package bench times crsc on preset architectures (forward passes and
// training steps) and reports step time, throughput, peak memory and where
// the time goes; `crsc bench` prints it. Comparisons with other systems run
// from scripts/bench-*.sh, which alternate crsc and the peer in one run.
package bench
