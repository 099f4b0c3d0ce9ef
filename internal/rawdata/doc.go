// Package rawdata decodes a tensor's elements from the little-endian bytes
// that ONNX raw_data, .npy files and checkpoints all store them as, so the
// three readers share one mapping from dtype to bytes.
package rawdata
