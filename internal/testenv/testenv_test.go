package testenv

import (
	"errors"
	"testing"
)

// fakeT ends a test as testing.T does, but by a panic that ended recovers.
type fakeT struct{ testing.TB }

func (fakeT) Helper()               {}
func (fakeT) Fatalf(string, ...any) { panic("fail") }
func (fakeT) Skipf(string, ...any)  { panic("skip") }
func (fakeT) Fatal(...any)          { panic("fail") }

// ended says how f ended the test: "fail", "skip", or "" if it went on.
func ended(f func(testing.TB)) (how string) {
	defer func() {
		if r := recover(); r != nil {
			how = r.(string)
		}
	}()
	f(fakeT{})
	return ""
}

func TestMissing(t *testing.T) {
	for ci, want := range map[string]string{"": "skip", "1": "fail"} {
		t.Setenv("CI", ci)
		if got := ended(func(t testing.TB) { Missing(t, "x", errors.New("gone")) }); got != want {
			t.Errorf("CI=%q: %q, want %q", ci, got, want)
		}
	}
}

func TestNeedFile(t *testing.T) {
	t.Setenv("CI", "")
	for path, want := range map[string]string{"testenv.go": "", "no such file": "skip"} {
		if got := ended(func(t testing.TB) { NeedFile(t, path) }); got != want {
			t.Errorf("%s: %q, want %q", path, got, want)
		}
	}
}

func TestLoad(t *testing.T) {
	t.Setenv("CI", "")
	read := func(p string) (string, error) {
		if p == "testenv.go" {
			return "read", nil
		}
		return "", errors.New("unreadable")
	}
	var got string
	if how := ended(func(t testing.TB) { got = Load(t, "testenv.go", read) }); how != "" || got != "read" {
		t.Errorf("existing file: ended %q, got %q", how, got)
	}
	if how := ended(func(t testing.TB) { Load(t, "no such file", read) }); how != "skip" {
		t.Errorf("missing file: ended %q, want a skip", how)
	}
	if how := ended(func(t testing.TB) { Load(t, "testenv_test.go", read) }); how != "fail" {
		t.Errorf("a load error: ended %q, want a failure", how)
	}
}
