// Package checkpoint reads and writes tensors in the Hugging Face
// safetensors format, so crsc checkpoints open in the Python tooling users
// already have and Hugging Face weights load into crsc.
//
// Save replaces the file atomically: a crash mid-save leaves the previous
// checkpoint in place. Load trusts nothing in the file and reports a
// corrupt or truncated one as a one-line error naming it.
package checkpoint
