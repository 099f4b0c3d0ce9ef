// Package rawdata decodes a tensor's elements from the little-endian bytes
// that ONNX raw_data, .npy files and checkpoints all store them as, and
// encodes them back, so the three readers and writers share one mapping
// from dtype to bytes.
package rawdata
