package gpu

// nnKernels maps "Op" (default domain) or "domain.Op" to a GPU kernel for
// the neural-network and training ops; registry.go consults it after
// coreKernels. Each kernel matches the runtime/cpu kernel of the same op
// and sends the inputs it has no code for back to it (errFallback).
var nnKernels = map[string]kernel{
	// Forward ops (nn.go, nn_loss.go).
	"Softmax":                    nnSoftmax(false),
	"LogSoftmax":                 nnSoftmax(true),
	"LayerNormalization":         nnLayerNorm,
	"ai.crsc.LayerNormalization": nnLayerNorm, // the fused spelling (cpu fused.go)
	"ai.crsc.RMSNormalization":   nnRMSNorm,
	"Gelu":                       nnGelu,
	"com.microsoft.Gelu":         nnGelu,
	"Dropout":                    nnDropout,
	"SoftmaxCrossEntropyLoss":    nnSCELoss,

	// Gradient helpers (cpu grad.go; grad.go, grad_norm.go, nn*.go here).
	"ai.crsc.SumTo":                       nnSumTo,
	"ai.crsc.GatherGrad":                  nnGatherGrad,
	"ai.crsc.SliceGrad":                   nnSliceGrad,
	"ai.crsc.DropoutGrad":                 nnDropoutGrad,
	"ai.crsc.LayerNormalizationGrad":      nnLayerNormGrad,
	"ai.crsc.SoftmaxCrossEntropyLossGrad": nnSCELossGrad,
	"ai.crsc.GeluGrad":                    nnGeluGrad,

	// Memory-saving rewrites (cpu memory.go).
	"ai.crsc.BitMask":                          nnBitMask,
	"ai.crsc.ReluGrad":                         nnReluGrad,
	"ai.crsc.DropoutMaskGrad":                  nnDropoutMaskGrad,
	"ai.crsc.LayerNormalizationGradFromOutput": nnLayerNormGradFromOutput,
	"ai.crsc.RMSNormalizationGradFromOutput":   nnRMSNormGradFromOutput,

	// WTA-CRS sampling (cpu sample.go; sample.go here).
	"ai.crsc.RowNorms":   nnRowNorms,
	"ai.crsc.SampleRows": nnSampleRows,
	"ai.crsc.GatherRows": nnGatherRows,

	// 8-bit stashes (cpu quant.go; quant.go here).
	"ai.crsc.QuantizeRows":   nnQuantizeRows,
	"ai.crsc.DequantizeRows": nnDequantizeRows,
}

// nnCases returns the Check cases of the nnKernels (cases.go appends them
// to Cases()); they are built in nn_cases.go.
func nnCases() []Case {
	var cs []Case
	for _, f := range []func() []Case{
		nnSoftmaxCases, nnNormCases, nnNormGradCases, nnGeluCases, nnDropoutCases,
		nnMaskCases, nnLossCases, nnGradCases, nnSampleCases,
	} {
		cs = append(cs, f()...)
	}
	return cs
}
