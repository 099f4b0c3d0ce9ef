package memplan

import (
	"fmt"
	"sort"
)

// PeakGroup is the buffers alive at the busiest moment that share a
// producing op, a shape and a phase ("forward" or "backward").
type PeakGroup struct {
	Phase string
	Op    string
	Shape []int
	Count int
	Bytes int64
}

// AtPeak returns the node index where the most bytes are alive (the
// moment LowerBound measures) and what is alive then, grouped and largest
// first: the place to look when a configuration does not fit.
func (p *MemPlan) AtPeak() (node int, groups []PeakGroup) {
	for i, live := range p.timeline {
		if live > p.timeline[node] {
			node = i
		}
	}
	byKey := map[string]*PeakGroup{}
	var order []string
	for _, b := range p.Buffers {
		if b.First > node || b.Last < node {
			continue
		}
		phase := "forward"
		if p.ForwardEnd >= 0 && b.Node > p.ForwardEnd {
			phase = "backward"
		}
		shape := b.Value.Shape
		dims := make([]int, len(shape))
		for i, d := range shape {
			dims[i] = int(d.Size)
		}
		op := savedOp(p.Graph.Nodes[b.Node])
		key := fmt.Sprint(phase, op, dims)
		grp := byKey[key]
		if grp == nil {
			grp = &PeakGroup{Phase: phase, Op: op, Shape: dims}
			byKey[key] = grp
			order = append(order, key)
		}
		grp.Count++
		grp.Bytes += b.Bytes
	}
	for _, k := range order {
		groups = append(groups, *byKey[k])
	}
	sort.SliceStable(groups, func(i, j int) bool { return groups[i].Bytes > groups[j].Bytes })
	return node, groups
}
