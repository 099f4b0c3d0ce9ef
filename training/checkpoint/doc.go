// Package checkpoint reads and writes tensors in the Hugging Face
// safetensors format, so crsc checkpoints open in the Python tooling users
// already have and Hugging Face weights load into crsc.
//
// Save replaces the file atomically: a crash mid-save leaves the previous
// checkpoint in place, and records a CRC32C of every tensor's bytes in
// the metadata. Load trusts nothing in the file, verifies those checksums
// (files without them, older ones or Hugging Face's, load unverified) and
// reports a corrupt or truncated file as a one-line error naming it and,
// where it can, the tensor. CheckFinite and CheckFiniteParams find NaNs
// and infinities for callers that know which tensors must be finite.
package checkpoint
