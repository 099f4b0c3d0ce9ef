package checkpoint

import (
	"crsc/compiler/ir"
)

// The safetensors dtype names this package reads and writes.
var dtypeNames = map[ir.DType]string{
	ir.Float32: "F32", ir.Float64: "F64", ir.Int64: "I64", ir.Int32: "I32",
	ir.Bool: "BOOL", ir.Float16: "F16", ir.Int8: "I8", ir.Uint8: "U8",
}

var dtypesByName = func() map[string]ir.DType {
	m := map[string]ir.DType{}
	for dt, name := range dtypeNames {
		m[name] = dt
	}
	return m
}()
