package cuda

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
)

// Compiled kernels are cached on disk because NVRTC takes a noticeable
// fraction of a second per module and a run compiles dozens of them. An
// entry is named by the hash of everything that affects the output, so a
// changed kernel, GPU, compiler or option simply misses; nothing is ever
// invalidated. Each file holds the sha256 of its payload before the payload,
// so a truncated or damaged entry is noticed and recompiled, never loaded.

// codeCache is a directory of compiled code; the zero value caches nothing.
type codeCache struct{ dir string }

// defaultCache is CRSC_CACHE_DIR, else <user cache dir>/crsc/cuda. With
// neither available (no HOME) caching is silently off.
func defaultCache() codeCache {
	if d := os.Getenv("CRSC_CACHE_DIR"); d != "" {
		return codeCache{d}
	}
	if d, err := os.UserCacheDir(); err == nil {
		return codeCache{filepath.Join(d, "crsc", "cuda")}
	}
	return codeCache{}
}

// cacheKey hashes its parts, each length-prefixed so that no two different
// part lists can produce the same byte stream.
func cacheKey(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		var n [8]byte
		binary.LittleEndian.PutUint64(n[:], uint64(len(p)))
		h.Write(n[:])
		h.Write([]byte(p))
	}
	return hex.EncodeToString(h.Sum(nil))
}

func (c codeCache) path(key string) string { return filepath.Join(c.dir, key) }

// get returns the entry for key, or false if it is missing or damaged.
func (c codeCache) get(key string) ([]byte, bool) {
	if c.dir == "" {
		return nil, false
	}
	b, err := os.ReadFile(c.path(key))
	if err != nil || len(b) < sha256.Size {
		return nil, false
	}
	sum, payload := b[:sha256.Size], b[sha256.Size:]
	if got := sha256.Sum256(payload); !bytes.Equal(sum, got[:]) {
		return nil, false
	}
	return payload, true
}

// put stores data under key atomically: write a temporary file in the same
// directory, then rename it over the entry, so concurrent processes never
// see half a file. Errors are returned for logging; callers ignore them,
// since a cache that cannot be written only costs compile time.
func (c codeCache) put(key string, data []byte) error {
	if c.dir == "" {
		return errors.New("no cache directory")
	}
	if err := os.MkdirAll(c.dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(c.dir, key+".tmp*")
	if err != nil {
		return err
	}
	sum := sha256.Sum256(data)
	_, werr := f.Write(append(sum[:], data...))
	cerr := f.Close()
	if err := errors.Join(werr, cerr); err != nil {
		os.Remove(f.Name())
		return err
	}
	if err := os.Rename(f.Name(), c.path(key)); err != nil {
		os.Remove(f.Name())
		return err
	}
	return nil
}

// remove drops a bad entry (one the driver refused to load).
func (c codeCache) remove(key string) {
	if c.dir != "" {
		os.Remove(c.path(key))
	}
}
