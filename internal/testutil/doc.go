// Package testutil holds the setup that tests in several packages repeat:
// loading a model for the CPU backend, with its inputs' shapes bound from
// a reference set, from tensors, or as given.
package testutil
