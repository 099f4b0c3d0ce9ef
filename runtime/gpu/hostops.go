package gpu

import (
	"fmt"

	"crsc/compiler/ir"
	"crsc/runtime/cpu"
)

// hostKernel runs an op whose inputs are a few scalars or none (Constant,
// Range) with its CPU kernel and uploads the result. That is the fallback
// path, but chosen: a GPU kernel would cost a launch to compute a handful
// of numbers that are known on the host anyway. It is counted in
// Stats.HostOps, not Stats.Fallbacks, which lists what lacks a kernel.
func hostKernel(c *ctx, n *ir.Node, ins []*ir.Tensor) ([]*ir.Tensor, error) {
	k, ok := cpu.Lookup(n.Domain, n.Op)
	if !ok {
		return nil, fmt.Errorf("node %q: no CPU kernel for %s", n.Name, kernelKey(n.Domain, n.Op))
	}
	host, err := eachTensor(ins, c.host)
	if err != nil {
		return nil, err
	}
	outs, err := k(c.b.cpu, n, host)
	if err != nil {
		return nil, err
	}
	c.b.countHostOp(kernelKey(n.Domain, n.Op))
	return c.fromHost(outs...)
}
