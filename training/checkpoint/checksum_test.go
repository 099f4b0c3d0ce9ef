package checkpoint

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"crsc/compiler/ir"
)

func TestCRC32CKnownAnswer(t *testing.T) {
	// The check value of CRC-32C (RFC 3720, appendix B.4).
	if got := crc32.Checksum([]byte("123456789"), castagnoli); got != 0xe3069283 {
		t.Fatalf("CRC32C(123456789) = %08x", got)
	}
}

// TestChecksumCatchesEveryFlippedByte corrupts each byte of the data
// region in turn: each must fail with a one-line error naming the file and
// the tensor whose bytes changed.
func TestChecksumCatchesEveryFlippedByte(t *testing.T) {
	var b bytes.Buffer
	if err := encode(&b, allDTypes(), map[string]string{"format": "pt"}); err != nil {
		t.Fatal(err)
	}
	valid := b.Bytes()
	entries, _, err := parseHeader(valid[8 : 8+binary.LittleEndian.Uint64(valid)])
	if err != nil {
		t.Fatal(err)
	}
	dataStart := 8 + int(binary.LittleEndian.Uint64(valid))
	path := filepath.Join(t.TempDir(), "ckpt.safetensors")
	for _, e := range entries {
		for off := e.begin; off < e.end; off++ {
			bad := append([]byte(nil), valid...)
			bad[dataStart+int(off)] ^= 0x10
			if err := os.WriteFile(path, bad, 0o644); err != nil {
				t.Fatal(err)
			}
			_, _, err := Load(path)
			want := "checkpoint " + path + `: tensor "` + e.name + `": checksum mismatch`
			if err == nil || !strings.HasPrefix(err.Error(), want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("byte %d of %s flipped: err = %v, want %q…", off, e.name, err, want)
			}
		}
	}
}

func TestChecksumMetadata(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ok.safetensors")
	w := ir.FromFloat32([]int{2}, []float32{1, 2})
	if err := Save(path, map[string]*ir.Tensor{"w": w}, map[string]string{"step": "3"}); err != nil {
		t.Fatal(err)
	}
	tensors, meta, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(meta) != 1 || meta["step"] != "3" || !sameTensor(tensors["w"], w) {
		t.Fatalf("loaded %v, metadata %v: want w and only the caller's metadata", tensors, meta)
	}

	eight := make([]byte, 8)
	sum := formatChecksum(crc32.Checksum(eight, castagnoli))
	f32 := func(meta string) []byte {
		return withHeader(`{"__metadata__":{`+meta+`},"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, eight)
	}
	for _, c := range []struct {
		name string
		data []byte
		want string // "" when the file must load
	}{
		{"valid", f32(`"crc32c/w":"` + sum + `"`), ""},
		{"no checksums (older files, other tools)", f32(`"format":"pt"`), ""},
		{"wrong sum", f32(`"crc32c/w":"00000000"`), `tensor "w": checksum mismatch: its bytes have CRC32C ` + sum + `, the metadata records 00000000`},
		{"not hex", f32(`"crc32c/w":"zzzzzzzz"`), `metadata "crc32c/w" is "zzzzzzzz", want a CRC32C as 8 lowercase hex digits`},
		{"upper case", f32(`"crc32c/w":"` + strings.ToUpper("abcdef01") + `"`), "8 lowercase hex digits"},
		{"short", f32(`"crc32c/w":"1234"`), "8 lowercase hex digits"},
		{"signed", f32(`"crc32c/w":"+1234567"`), "8 lowercase hex digits"},
		{"missing one", withHeader(`{"__metadata__":{"crc32c/a":"`+sum+`"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[0],"data_offsets":[8,8]}}`, eight), `tensor "b" has no checksum`},
		{"sum of no tensor", f32(`"crc32c/w":"` + sum + `","crc32c/v":"` + sum + `"`), `metadata "crc32c/v" is the checksum of a tensor "v" the file does not have`},
		{"invalid UTF-8", withHeader("{\"__metadata__\":{\"k\":\"\xff\"}}", nil), "not valid UTF-8"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := filepath.Join(dir, "x.safetensors")
			if err := os.WriteFile(p, c.data, 0o644); err != nil {
				t.Fatal(err)
			}
			_, meta, err := Load(p)
			if c.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				for k := range meta {
					if strings.HasPrefix(k, ChecksumPrefix) {
						t.Fatalf("Load returned checksum key %q", k)
					}
				}
				return
			}
			if err == nil || !strings.HasPrefix(err.Error(), "checkpoint "+p+": ") || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("err = %v, want one line naming the file and containing %q", err, c.want)
			}
		})
	}

	err = Save(path, map[string]*ir.Tensor{"w": w}, map[string]string{"crc32c/w": "00000000"})
	if err == nil || !strings.Contains(err.Error(), `metadata key "crc32c/w": keys starting with "crc32c/" are reserved`) {
		t.Fatalf("Save with a reserved key: %v", err)
	}
}

func TestCheckFinite(t *testing.T) {
	nan, inf := float32(math.NaN()), float32(math.Inf(-1))
	f16 := ir.NewTensor(ir.Float16, 2)
	f16.F32[1] = float32(math.Inf(1))
	for _, c := range []struct {
		name        string
		tensors     map[string]*ir.Tensor
		all, params string // "" for no error
	}{
		{"finite", map[string]*ir.Tensor{"param/w": ir.FromFloat32([]int{2}, []float32{1, -math.MaxFloat32}), "step": ir.FromInt64([]int{}, []int64{3})}, "", ""},
		{"nan in a parameter", map[string]*ir.Tensor{"param/w": ir.FromFloat32([]int{2, 3}, []float32{0, 0, 0, 0, 0, nan})},
			`tensor "param/w": element 5 (index [1 2] of shape [2 3]) is NaN`, `tensor "param/w": element 5`},
		{"first by name", map[string]*ir.Tensor{"param/b": ir.FromFloat32([]int{1}, []float32{inf}), "param/a": ir.FromFloat32([]int{2}, []float32{1, nan})},
			`tensor "param/a": element 1 (index [1] of shape [2]) is NaN`, `tensor "param/a"`},
		{"optimizer state only", map[string]*ir.Tensor{"optim/m": ir.FromFloat32([]int{1}, []float32{inf}), "param/w": ir.FromFloat32([]int{1}, []float32{1})},
			`tensor "optim/m": element 0 (index [0] of shape [1]) is -Inf`, ""},
		{"f16 and f64", map[string]*ir.Tensor{"h": f16, "d": {DType: ir.Float64, Shape: []int{}, F64: []float64{math.NaN()}}},
			`tensor "d": element 0 (index [] of shape []) is NaN`, ""},
		{"empty and nil", map[string]*ir.Tensor{"param/e": ir.NewTensor(ir.Float32, 0, 4), "param/n": nil}, "", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, check := range []struct {
				fn   func(map[string]*ir.Tensor) error
				want string
			}{{CheckFinite, c.all}, {CheckFiniteParams, c.params}} {
				err := check.fn(c.tensors)
				if check.want == "" {
					if err != nil {
						t.Fatalf("unexpected error %v", err)
					}
				} else if err == nil || !strings.Contains(err.Error(), check.want) {
					t.Fatalf("err = %v, want %q", err, check.want)
				}
			}
		})
	}
}
