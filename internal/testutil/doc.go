// Package testutil holds the setup that tests in several packages repeat:
// loading a tiny reference export with its inputs bound.
package testutil
