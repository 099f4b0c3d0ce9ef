package train

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"

	"crsc/compiler/memplan"
	"crsc/compiler/passes"
	"crsc/tools/planning"
)

// MemoryLimitEnv overrides the memory a run may use (a size such as 8GiB):
// tests check admission with it, and a user can leave room for other jobs.
const MemoryLimitEnv = "CRSC_MEMORY_LIMIT"

// Budget is a run's planned memory, by part. Total is what must fit in the
// machine (or the device) before anything big is allocated.
type Budget struct {
	Params       int64 `json:"params_bytes"`      // every initializer of the training graph (trained or frozen)
	Optimizer    int64 `json:"optimizer_bytes"`   // AdamW's two moments per trained parameter
	Accumulators int64 `json:"accumulator_bytes"` // gradient sums across micro-batches (--grad-accum > 1)
	Arena        int64 `json:"arena_bytes"`       // every node output of the largest graph, gradients included
	Inputs       int64 `json:"inputs_bytes"`      // one batch
	Data         int64 `json:"data_bytes"`        // the tokenized train and eval sets (host)
	Total        int64 `json:"total_bytes"`
}

func (b *Budget) sum() {
	b.Total = b.Params + b.Optimizer + b.Accumulators + b.Arena + b.Inputs + b.Data
}

func (b Budget) String() string {
	return fmt.Sprintf("%s (parameters %s, AdamW state %s, arena %s, data %s%s)", memplan.FormatBytes(b.Total),
		memplan.FormatBytes(b.Params), memplan.FormatBytes(b.Optimizer), memplan.FormatBytes(b.Arena), memplan.FormatBytes(b.Data),
		map[bool]string{true: ", accumulators " + memplan.FormatBytes(b.Accumulators)}[b.Accumulators > 0])
}

// budget is the plan total of the run as set up.
func (t *trainer) planBudget(arena int64, p *memplan.MemPlan, trained []passes.ParamGrad) Budget {
	b := Budget{Params: p.ParamsBytes + p.ConstBytes, Arena: arena, Inputs: p.InputsBytes, Data: t.trainSet.Bytes()}
	for _, s := range t.moreEval {
		b.Data += s.set.Bytes()
	}
	if t.evalSet != nil {
		b.Data += t.evalSet.Bytes()
	}
	for _, pg := range trained {
		b.Optimizer += 2 * pg.Param.Init.Bytes()
		if t.cfg.Accum > 1 {
			b.Accumulators += pg.Param.Init.Bytes()
		}
	}
	b.sum()
	return b
}

// memoryLimit is what the run may use and where that number comes from:
// CRSC_MEMORY_LIMIT, else the least of the cgroup's limit and what the
// machine has available now (MemAvailable) plus what this process holds
// already (the loaded model counts in the plan).
func memoryLimit() (int64, string, error) {
	if s := os.Getenv(MemoryLimitEnv); s != "" {
		v, err := planning.ParseBytes(s)
		if err != nil {
			return 0, "", fmt.Errorf("%s: %v", MemoryLimitEnv, err)
		}
		return v, MemoryLimitEnv, nil
	}
	limit, from := int64(0), ""
	if avail := meminfo("MemAvailable:"); avail > 0 {
		limit, from = avail+currentRSS(), "available memory"
	}
	for _, f := range []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"} {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		v, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		if err == nil && v > 0 && v < 1<<60 && (limit == 0 || v < limit) {
			limit, from = v, "the cgroup limit"
		}
		break
	}
	return limit, from, nil
}

// meminfo reads one /proc/meminfo field in bytes (0 if absent).
func meminfo(key string) int64 {
	return procField("/proc/meminfo", key)
}

// currentRSS is the process's resident set now (VmRSS).
func currentRSS() int64 { return procField("/proc/self/status", "VmRSS:") }

func procField(path, key string) int64 {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), key); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb * 1024
		}
	}
	return 0
}

// admit refuses a run whose plan cannot fit, before its optimizer state
// and arena are allocated, naming both numbers and the largest --batch
// (and a sampling setting) that would fit.
func (t *trainer) admit(b Budget) error {
	limit, from, err := t.memoryLimit()
	if err != nil || limit == 0 || b.Total <= limit {
		return err
	}
	fixed := b.Total - b.Arena - b.Inputs
	msg := fmt.Sprintf("this run needs %s but %s is %s", b, from, memplan.FormatBytes(limit))
	if fixed >= limit {
		return fmt.Errorf("%s: even the parameters, optimizer state and data do not fit (try --lora)", msg)
	}
	best, err := t.largestBatch(t.spec, limit-fixed)
	if err != nil {
		return fmt.Errorf("%s", msg)
	}
	if best == 0 {
		msg += fmt.Sprintf("; not even --batch 1 fits at --max-len %d", t.cfg.MaxLen)
	} else {
		msg += fmt.Sprintf("; the largest --batch that fits is %d", best)
	}
	if !t.spec.Sampling.Enabled() || !t.spec.Sampling.Attention {
		s := t.spec
		s.Sampling = passes.SamplingSpec{Estimator: "wta", Keep: 0.3, MinRows: 10, GNorm: t.spec.Sampling.GNorm, Layers: "auto", Attention: true}
		if s.Sampling.GNorm == "" {
			s.Sampling.GNorm = "none"
		}
		if wb, err := t.largestBatch(s, limit-fixed); err == nil && wb > best {
			msg += fmt.Sprintf(" (with --keep 0.3 --attention: %d)", wb)
		}
	}
	return fmt.Errorf("%s", msg)
}

// memoryLimit is the host's limit on the CPU, the device's free memory on
// a GPU.
func (t *trainer) memoryLimit() (int64, string, error) {
	if d := t.cfg.Device; d != nil && d.GPU != nil && os.Getenv(MemoryLimitEnv) == "" {
		free, _, err := d.GPU.MemInfo()
		if err != nil {
			return 0, "", fmt.Errorf("device memory: %v", err)
		}
		return free, "the device's free memory", nil
	}
	return memoryLimit()
}

// largestBatch finds, by bisection over compiled and planned training
// graphs (the planner crsc plan --budget uses), the largest batch below
// the configured one whose arena and inputs fit in room bytes (0: none).
func (t *trainer) largestBatch(spec passes.TrainingSpec, room int64) (int, error) {
	fits := func(batch int) (bool, error) {
		fwd, err := t.m.load(t.m.inputShapes(batch, t.cfg.MaxLen))
		if err != nil {
			return false, err
		}
		g, _, _, err := t.buildWith(fwd, spec)
		if err != nil {
			return false, err
		}
		p, err := memplan.Plan(g, memplan.Options{ForwardEnd: memplan.ForwardEnd(g)})
		if err != nil {
			return false, err
		}
		return p.PlannedPeak+p.InputsBytes <= room, nil
	}
	lo, hi := 0, t.cfg.Batch // fits(lo) (0 trivially), !fits(hi) unless the spec differs
	if ok, err := fits(hi); err != nil || ok {
		return hi, err
	}
	for hi-lo > 1 {
		mid := (lo + hi) / 2
		ok, err := fits(mid)
		if err != nil {
			return 0, err
		}
		if ok {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo, nil
}

// processOverhead is what the process holds beside the plan's buffers
// (the Go runtime, the binary, graphs, the tokenizer, a step's small
// garbage): the heap limit bind sets allows 5 % + 16 MiB, and the binary
// and runtime take about 48 MiB more.
func processOverhead(total int64) int64 { return total/20 + 64<<20 }

// fitMemoryBudget is --memory-budget: it plans the run with each strategy
// of the ladder (cheapest first: exact, recomputation, bf16 then 8-bit stashes kind by
// kind, WTA-CRS at keep 0.3 then 0.1) and keeps the first whose planned
// total and the process's overhead fit the budget, saying what it tried
// and what the choice gives up; it refuses the run, naming the least
// budget that would do, when none fits.
func (t *trainer) fitMemoryBudget() error {
	c := t.cfg
	budget := c.MemoryBudget
	var tried []string
	var least int64
	for _, s := range planning.Strategies() {
		spec := s.Spec(c.Spec)
		g, _, compiled, err := t.buildWith(t.m.forward, t.withLoss(spec))
		if err != nil {
			return fmt.Errorf("--memory-budget: %s: %v", s.Name, err)
		}
		p, err := memplan.Plan(g, memplan.Options{ForwardEnd: memplan.ForwardEnd(g)})
		if err != nil {
			return err
		}
		b := t.planBudget(p.PlannedPeak, p, compiled.Trained)
		need := b.Total + processOverhead(b.Total)
		least = need
		tried = append(tried, fmt.Sprintf("%s %s", s.Name, memplan.FormatBytes(need)))
		if need <= budget {
			c.Spec = spec
			if c.Progress != nil {
				fmt.Fprintf(c.Progress, "memory budget %s: %s → %s: %s\n", memplan.FormatBytes(budget), strings.Join(tried, ", "), s.Name, s.Cost)
			}
			return nil
		}
	}
	more := ""
	if c.Spec.LoRA.Rank == 0 {
		more = ", or --lora R"
	}
	return fmt.Errorf("--memory-budget %s: no strategy fits batch %d (tried %s): give at least %s, a smaller --batch%s",
		memplan.FormatBytes(budget), c.Batch, strings.Join(tried, ", "), memplan.FormatBytes(least), more)
}
