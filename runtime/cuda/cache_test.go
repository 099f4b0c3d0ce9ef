package cuda

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func TestCacheKeyDistinguishesParts(t *testing.T) {
	// Length prefixes keep ("ab","c") and ("a","bc") apart.
	if cacheKey("ab", "c") == cacheKey("a", "bc") {
		t.Error("cacheKey ignores part boundaries")
	}
	if cacheKey("x", "sm_80") == cacheKey("x", "sm_90") {
		t.Error("cacheKey ignores the architecture")
	}
	if k := cacheKey("x"); len(k) != 64 {
		t.Errorf("key %q is not hex sha256", k)
	}
}

func TestCache(t *testing.T) {
	tests := []struct {
		name   string
		damage func(path string) // applied to the entry after put
		hit    bool
	}{
		{"hit", nil, true},
		{"missing", func(p string) { os.Remove(p) }, false},
		{"truncated", func(p string) {
			b, _ := os.ReadFile(p)
			os.WriteFile(p, b[:len(b)-3], 0o644)
		}, false},
		{"flipped byte", func(p string) {
			b, _ := os.ReadFile(p)
			b[len(b)-1] ^= 0xff
			os.WriteFile(p, b, 0o644)
		}, false},
		{"shorter than a checksum", func(p string) { os.WriteFile(p, []byte("x"), 0o644) }, false},
		{"unreadable (a directory)", func(p string) { os.Remove(p); os.Mkdir(p, 0o755) }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := codeCache{filepath.Join(t.TempDir(), "a", "b")} // put creates it
			key := cacheKey("src", "sm_90")
			data := []byte("\x7fELF compiled code")
			if _, ok := c.get(key); ok {
				t.Fatal("hit before put")
			}
			if err := c.put(key, data); err != nil {
				t.Fatal(err)
			}
			if tc.damage != nil {
				tc.damage(c.path(key))
			}
			got, ok := c.get(key)
			if ok != tc.hit || (ok && !bytes.Equal(got, data)) {
				t.Fatalf("get = %q, %v; want hit=%v", got, ok, tc.hit)
			}
			// A miss is repaired by the next put (the recompile), except
			// where the entry's name is taken by a directory.
			if !tc.hit && tc.name != "unreadable (a directory)" {
				if err := c.put(key, data); err != nil {
					t.Fatal(err)
				}
				if got, ok := c.get(key); !ok || !bytes.Equal(got, data) {
					t.Fatal("re-put did not repair the entry")
				}
			}
			// No temporary files are left behind.
			ents, _ := os.ReadDir(c.dir)
			for _, e := range ents {
				if filepath.Ext(e.Name()) != "" || len(e.Name()) != 64 {
					t.Errorf("stray file %s", e.Name())
				}
			}
		})
	}
}

func TestCacheDisabledAndOverride(t *testing.T) {
	var off codeCache
	if _, ok := off.get("k"); ok {
		t.Error("zero cache hit")
	}
	if off.put("k", []byte("x")) == nil {
		t.Error("zero cache accepted a put")
	}
	dir := t.TempDir()
	t.Setenv("CRSC_CACHE_DIR", dir)
	if got := defaultCache().dir; got != dir {
		t.Errorf("CRSC_CACHE_DIR ignored: %s", got)
	}
}
