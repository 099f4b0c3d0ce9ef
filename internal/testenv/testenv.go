// Package testenv decides what a test does when something it needs from
// outside the repository (../shared, a Debian package, a library) is
// absent: CI provides every such input, so there a missing one fails the
// test; on a user's machine the test skips.
package testenv

import (
	"os"
	"testing"
)

// Missing ends the test because what is absent (err says why): a failure
// on CI (CI set), a skip elsewhere.
func Missing(t testing.TB, what string, err error) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("%s is missing on CI: %v", what, err)
	}
	t.Skipf("%s not available: %v", what, err)
}

// Load returns load(path) for a file from outside the repository: the
// test ends through NeedFile when the file is absent, and fails when load
// does.
func Load[T any](t testing.TB, path string, load func(string) (T, error)) T {
	t.Helper()
	NeedFile(t, path)
	v, err := load(path)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// NeedFile ends the test through Missing unless path (a file or folder)
// exists.
func NeedFile(t testing.TB, path string) {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		Missing(t, path, err)
	}
}
