package emu

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
)

// cxxFlags build every shared object. Hidden visibility keeps a kernel named
// like a symbol of another loaded library (OpenBLAS's saxpy, say) bound to
// its own definition; -z defs turns an undefined symbol (a misspelt
// built-in, a raw "extern __shared__") into a compile error rather than a
// dlopen failure; -fno-math-errno lets sqrtf and friends inline.
var cxxFlags = []string{"-std=c++20", "-O2", "-shared", "-fPIC", "-fvisibility=hidden",
	"-fno-semantic-interposition", "-fno-math-errno", "-w", "-Wl,-z,defs"}

// buildVersion is part of every cache key; bump it when emu.h, runtime.inc
// or the generated thunks change in a way the hashed text does not show.
const buildVersion = "crsc-emu-4"

// toolchain is the C++ compiler and the cache it builds into.
type toolchain struct {
	cxx      string // path of g++
	version  string // its full --version output, for cache keys
	cacheDir string
}

// findToolchain locates g++ (or $CRSC_EMU_CXX) once per process.
var findToolchain = sync.OnceValues(func() (*toolchain, error) {
	name := cxxName()
	path, err := exec.LookPath(name)
	if err != nil {
		return nil, fmt.Errorf("emu: C++ compiler %q not found (the CPU emulator compiles kernels with g++): %v", name, err)
	}
	out, err := exec.Command(path, "--version").Output()
	if err != nil {
		return nil, fmt.Errorf("emu: %s --version: %v", path, err)
	}
	return &toolchain{cxx: path, version: string(out), cacheDir: cacheDir()}, nil
})

// cxxName is the compiler to use: $CRSC_EMU_CXX, else g++.
func cxxName() string {
	if name := os.Getenv("CRSC_EMU_CXX"); name != "" {
		return name
	}
	return "g++"
}

// cacheDir is $CRSC_CACHE_DIR/emu, else the user cache dir's crsc/emu.
func cacheDir() string {
	if d := os.Getenv("CRSC_CACHE_DIR"); d != "" {
		return filepath.Join(d, "emu")
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "crsc", "emu")
	}
	return filepath.Join(os.TempDir(), "crsc-cache", "emu")
}

// key hashes everything that determines a shared object's contents.
func (tc *toolchain) key(parts ...string) string {
	h := sha256.New()
	for _, p := range append([]string{buildVersion, tc.version, strings.Join(cxxFlags, " ")}, parts...) {
		fmt.Fprintf(h, "%d:%s", len(p), p)
	}
	return hex.EncodeToString(h.Sum(nil))[:32]
}

// sharedObject returns the path of the cached object for key, building it
// from the C++ text that gen returns when it is not cached. Files are
// written under a temporary name and renamed, so concurrent builds and
// interrupted ones never leave a partial object behind.
func (tc *toolchain) sharedObject(name, key string, gen func() (string, error)) (string, error) {
	so := filepath.Join(tc.cacheDir, key+".so")
	if _, err := os.Stat(so); err == nil {
		return so, nil
	}
	text, err := gen()
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(tc.cacheDir, 0o755); err != nil {
		return "", fmt.Errorf("emu: cache: %v", err)
	}
	tmp, err := os.MkdirTemp(tc.cacheDir, "build-")
	if err != nil {
		return "", fmt.Errorf("emu: cache: %v", err)
	}
	defer os.RemoveAll(tmp)
	src := filepath.Join(tmp, sanitize(name)+".cc")
	if err := os.WriteFile(src, []byte(text), 0o644); err != nil {
		return "", fmt.Errorf("emu: cache: %v", err)
	}
	out := filepath.Join(tmp, "out.so")
	args := append(append([]string{}, cxxFlags...), "-o", out, src)
	if msg, err := tc.run(args...); err != nil {
		return "", fmt.Errorf("emu: compile %s: %s", name, msg)
	}
	if err := os.Rename(out, so); err != nil {
		return "", fmt.Errorf("emu: cache: %v", err)
	}
	return so, nil
}

// preprocess runs the preprocessor alone over text with extra flags.
func (tc *toolchain) preprocess(name, text string, flags ...string) (string, error) {
	args := append([]string{"-std=c++20", "-E", "-x", "c++"}, flags...)
	cmd := exec.Command(tc.cxx, append(args, "-")...)
	cmd.Stdin = strings.NewReader(text)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("emu: compile %s: %s", name, firstLines(stderr.String(), err))
	}
	return stdout.String(), nil
}

// run runs the compiler and returns the start of its output on failure.
func (tc *toolchain) run(args ...string) (string, error) {
	cmd := exec.Command(tc.cxx, args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return firstLines(string(out), err), err
	}
	return "", nil
}

// firstLines keeps compiler output readable inside one error message.
func firstLines(out string, err error) string {
	out = strings.TrimSpace(out)
	if out == "" {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.String()
		}
		return err.Error()
	}
	lines := strings.Split(out, "\n")
	const max = 20
	if len(lines) > max {
		lines = append(lines[:max], fmt.Sprintf("... (%d more lines)", len(lines)-max))
	}
	return strings.Join(lines, "\n")
}

// sanitize makes a module name usable as a file name.
func sanitize(name string) string {
	s := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' {
			return r
		}
		return '_'
	}, name)
	if s == "" {
		s = "module"
	}
	return s
}
