package memplan

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"crsc/compiler/ir"
)

// RematPrefix starts the name of every node that recomputes a forward
// value in backward (passes.Remat): the plan lists them as "recomputed",
// what backward gets instead of keeping the value.
const RematPrefix = ir.BackwardPrefix + "remat/"

// Recomputed is one forward value that backward recomputes instead of
// keeping.
type Recomputed struct {
	Node  string // the backward node that recomputes it
	Op    string
	Value string
	Shape []int
	Bytes int64 // what keeping it would have cost
}

// findRecomputed lists the recomputing nodes, largest first.
func (p *MemPlan) findRecomputed(shapes map[*ir.Value][]int) {
	for _, b := range p.Buffers {
		n := p.Graph.Nodes[b.Node]
		if !strings.HasPrefix(n.Name, RematPrefix) {
			continue
		}
		p.Recomputed = append(p.Recomputed, Recomputed{Node: n.Name, Op: n.Key(), Value: b.Value.Name, Shape: shapes[b.Value], Bytes: b.Bytes})
		p.RecomputedBytes += b.Bytes
	}
	sort.SliceStable(p.Recomputed, func(i, j int) bool { return p.Recomputed[i].Bytes > p.Recomputed[j].Bytes })
}

// reportRecomputed writes the recomputed values (the top largest; all
// when top <= 0).
func (p *MemPlan) reportRecomputed(w io.Writer, top int) {
	if len(p.Recomputed) == 0 {
		return
	}
	rs := p.Recomputed
	if top > 0 && top < len(rs) {
		rs = rs[:top]
	}
	fmt.Fprintf(w, "recomputed in backward, not kept (%d tensors, %s):\n", len(p.Recomputed), FormatBytes(p.RecomputedBytes))
	for _, r := range rs {
		fmt.Fprintf(w, "  %10s  %-5s %-18s %-22s %s\n", FormatBytes(r.Bytes), "recomputed", fmt.Sprint(r.Shape), r.Op, clip(r.Node, 60))
	}
}
