package atomicfile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// failAfter fails every write once n bytes have gone through: a full disk.
type failAfter struct {
	w io.Writer
	n int
}

func (f *failAfter) Write(p []byte) (int, error) {
	if len(p) > f.n {
		return 0, errors.New("no space left on device")
	}
	f.n -= len(p)
	return f.w.Write(p)
}

// TestFailedWriteKeepsTheOldFile: a write that fails partway leaves the
// previous file whole and no temporary file; a good one replaces it.
func TestFailedWriteKeepsTheOldFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "model.onnx")
	if err := WriteBytes(path, []byte("good model")); err != nil {
		t.Fatal(err)
	}
	WrapForTest = func(w io.Writer) io.Writer { return &failAfter{w: w, n: 10} }
	big := make([]byte, 4<<20) // more than the buffer: the failure reaches the file
	err := WriteBytes(path, big)
	WrapForTest = nil
	if err == nil {
		t.Fatal("a write to a full disk succeeded")
	}
	if b, _ := os.ReadFile(path); string(b) != "good model" {
		t.Fatalf("the previous file is now %d bytes", len(b))
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".*")); len(left) != 0 {
		t.Fatalf("temporary files left: %v", left)
	}
	if err := WriteBytes(path, []byte("better")); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != "better" {
		t.Fatalf("file holds %q", b)
	}
}

// TestRemoveStale removes what killed writes leave, and nothing else.
func TestRemoveStale(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{".checkpoint.safetensors" + TempPrefix + "123", "notes.txt", ".hidden"} {
		if err := os.WriteFile(filepath.Join(dir, n), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	removed, err := RemoveStale(dir)
	if err != nil || len(removed) != 1 {
		t.Fatalf("removed %v, %v", removed, err)
	}
	for _, n := range []string{"notes.txt", ".hidden"} {
		if _, err := os.Stat(filepath.Join(dir, n)); err != nil {
			t.Fatalf("%s was removed", n)
		}
	}
}
