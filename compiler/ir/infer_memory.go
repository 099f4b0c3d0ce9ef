package ir

import "fmt"

// memoryInferRules are the shape rules of the memory-saving rewrite ops
// (kernels and full contracts in runtime/cpu/memory.go).
func memoryInferRules() map[string]InferFunc {
	return map[string]InferFunc{
		"ai.crsc.BitMask":                          inferBitMask,
		"ai.crsc.ReluGrad":                         inferReluGrad,
		"ai.crsc.DropoutMaskGrad":                  sameAsInput0,
		"ai.crsc.LayerNormalizationGradFromOutput": inferNormGradFromOutput(true),
		"ai.crsc.RMSNormalization":                 inferRMSNorm,
		"ai.crsc.RMSNormalizationGradFromOutput":   inferNormGradFromOutput(false),
	}
}

// bitMaskLen is the length of BitMask's output for an input of n elements:
// ceil(n/32) when n is a known number, else an unknown dim (a symbolic
// count such as batch*seq*3072 need not be a multiple of 32).
func bitMaskLen(s Shape) Dim {
	n := s.NumElements()
	if !n.IsFixed() {
		return UnknownDim
	}
	return Fixed((n.Size + 31) / 32)
}

// inferBitMask: BitMask(X) is Int32 [ceil(numel(X)/32)], always rank 1.
func inferBitMask(n *Node) error {
	x := n.In(0)
	if x == nil {
		return fmt.Errorf("BitMask needs input X")
	}
	d := UnknownDim
	if x.HasShape {
		d = bitMaskLen(x.Shape)
	}
	n.Outputs[0].SetType(Int32, Shape{d})
	return nil
}

// inferReluGrad: ReluGrad(dY, bits) has dY's type and shape; bits must be
// Int32 and, when both lengths are known, as long as BitMask of dY.
func inferReluGrad(n *Node) error {
	dy, bits := n.In(0), n.In(1)
	if dy == nil || bits == nil {
		return fmt.Errorf("ReluGrad needs inputs dY and bits")
	}
	if bits.DType != Int32 {
		return fmt.Errorf("bits must be int32 (BitMask output), got %v", bits.DType)
	}
	if dy.HasShape && bits.HasShape {
		want := bitMaskLen(dy.Shape)
		if len(bits.Shape) != 1 || (want.IsFixed() && bits.Shape[0].IsFixed() && bits.Shape[0] != want) {
			return fmt.Errorf("bits shape %v, want [%v] for dY %v", bits.Shape, want, dy.Shape)
		}
	}
	return sameAsInput0(n)
}

// inferRMSNorm: RMSNormalization(X, scale; axis) → Y like X, and inv_rms
// of X's dtype with shape X.shape[:axis] + ones (as the kernel writes it).
func inferRMSNorm(n *Node) error {
	if err := sameAsInput0(n); err != nil {
		return err
	}
	x := n.In(0)
	var stat Shape
	if x.HasShape {
		axis, err := normAxis(n.Attrs.Int("axis", -1), len(x.Shape))
		if err != nil {
			return err
		}
		stat = x.Shape.Clone()
		for i := axis; i < len(stat); i++ {
			stat[i] = Fixed(1)
		}
	}
	if len(n.Outputs) > 1 && n.Outputs[1] != nil {
		n.Outputs[1].DType = x.DType
		if stat != nil {
			n.Outputs[1].SetType(x.DType, stat)
		}
	}
	return nil
}

// inferNormGradFromOutput: LayerNormalizationGradFromOutput(dY, Y, scale,
// bias?, inv_std_dev) → (dX, dScale, dBias) and
// RMSNormalizationGradFromOutput(dY, Y, scale, inv_rms) → (dX, dScale):
// dX like Y, dScale like scale, dBias like bias (like scale when bias is
// omitted). As with LayerNormalizationGrad, InferNode runs a rule only
// when output 0 (dX) is present.
func inferNormGradFromOutput(centered bool) InferFunc {
	return func(n *Node) error {
		y, scale := n.In(1), n.In(2)
		if n.In(0) == nil || y == nil || scale == nil {
			return fmt.Errorf("%s needs inputs dY, Y and scale", n.Op)
		}
		srcs := []*Value{y, scale}
		if centered {
			bias := n.In(3)
			if bias == nil {
				bias = scale
			}
			srcs = append(srcs, bias)
		}
		for i, src := range srcs {
			if i >= len(n.Outputs) || n.Outputs[i] == nil {
				continue
			}
			n.Outputs[i].DType = y.DType
			if src.HasShape {
				n.Outputs[i].SetType(y.DType, src.Shape.Clone())
			}
		}
		if y.HasShape {
			if _, err := normAxis(n.Attrs.Int("axis", -1), len(y.Shape)); err != nil {
				return err
			}
		}
		return nil
	}
}
