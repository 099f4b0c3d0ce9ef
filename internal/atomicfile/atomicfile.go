package atomicfile

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// WrapForTest, when set by a test, wraps the temporary file's writer so the
// test can make a write fail partway through.
var WrapForTest func(io.Writer) io.Writer

// TempPrefix starts the names of the temporary files: "." + the target's
// name + TempPrefix. A temporary file left by a killed write can be
// recognised (and removed) by it.
const TempPrefix = ".tmp-"

// Write replaces path with what write produces (buffered). A write that
// fails leaves any previous file untouched and no temporary file behind.
func Write(path string, write func(io.Writer) error) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+TempPrefix+"*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	var w io.Writer = f
	if WrapForTest != nil {
		w = WrapForTest(w)
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	if err := write(bw); err != nil {
		return fmt.Errorf("writing %s: %v", tmp, err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("writing %s: %v", tmp, err)
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	// CreateTemp makes the file private (0600); these are ordinary data.
	if err := os.Chmod(tmp, 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	return syncDir(dir)
}

// WriteBytes replaces path with data.
func WriteBytes(path string, data []byte) error {
	return Write(path, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// RemoveStale deletes the temporary files that killed writes left in dir
// (names "." + target + TempPrefix + …) and returns their names.
func RemoveStale(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var removed []string
	for _, e := range entries {
		if n := e.Name(); !e.IsDir() && strings.HasPrefix(n, ".") && strings.Contains(n, TempPrefix) {
			if err := os.Remove(filepath.Join(dir, n)); err != nil {
				return removed, err
			}
			removed = append(removed, n)
		}
	}
	return removed, nil
}

// syncDir makes a rename in dir durable. Filesystems that cannot sync a
// directory say EINVAL; there is nothing more to do on those.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOTSUP) {
		return fmt.Errorf("syncing directory %s: %v", dir, err)
	}
	return nil
}
