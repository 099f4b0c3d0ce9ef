package tbevents

import (
	"bytes"
	"encoding/binary"
	"math"
	"reflect"
	"strings"
	"testing"
)

// TestRoundTrip: what Writer writes, Read returns, field for field.
func TestRoundTrip(t *testing.T) {
	var b bytes.Buffer
	w := NewWriter(&b, 1700000000.25)
	steps := []Event{
		{WallTime: 1700000001.5, Step: 1, Scalars: map[string]float32{"train/loss": 0.69, "train/lr": 1e-3}},
		{WallTime: 1700000002.5, Step: 2, Scalars: map[string]float32{"eval/accuracy": 0.75}},
		{WallTime: 1700000003.5, Step: 1 << 40, Scalars: map[string]float32{"nan": float32(math.Inf(1))}},
	}
	for _, e := range steps {
		if err := w.Scalars(e.WallTime, e.Step, e.Scalars); err != nil {
			t.Fatal(err)
		}
	}
	got, err := Read(bytes.NewReader(b.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	want := append([]Event{{WallTime: 1700000000.25, FileVersion: FileVersion}}, steps...)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("read back\n%+v\nwant\n%+v", got, want)
	}
}

// TestKnownBytes: the file-version record is framed and encoded as
// TensorFlow's own writer does it (a CRC32C or masking error, or a wrong
// wire type, would show here).
func TestKnownBytes(t *testing.T) {
	var b bytes.Buffer
	NewWriter(&b, 0)
	// The 12 bytes every TensorFlow event file starts with: length 24 and
	// its masked CRC32C.
	if head := []byte{0x18, 0, 0, 0, 0, 0, 0, 0, 0xa3, 0x7f, 0x4b, 0x22}; !bytes.Equal(b.Bytes()[:12], head) {
		t.Errorf("header % x, want % x", b.Bytes()[:12], head)
	}
	// Event{wall_time: 0, file_version: "brain.Event:2"}:
	// 09 <8 zero bytes> 1a 0d "brain.Event:2"
	data := append([]byte{0x09, 0, 0, 0, 0, 0, 0, 0, 0, 0x1a, 0x0d}, "brain.Event:2"...)
	if got := b.Bytes()[12 : 12+len(data)]; !bytes.Equal(got, data) {
		t.Errorf("event bytes % x, want % x", got, data)
	}
	if n := binary.LittleEndian.Uint64(b.Bytes()); n != uint64(len(data)) {
		t.Errorf("length %d, want %d", n, len(data))
	}
	// CRC32C("123456789") is 0xe3069283, the standard check value.
	c := maskedCRC([]byte("123456789"))
	crc := uint32(0xe3069283)
	if want := ((crc >> 15) | (crc << 17)) + 0xa282ead8; c != want {
		t.Errorf("masked crc %#x, want %#x", c, want)
	}
}

// TestCorrupt: a flipped byte or a cut file is an error naming the record.
func TestCorrupt(t *testing.T) {
	var b bytes.Buffer
	w := NewWriter(&b, 1)
	w.Scalars(2, 3, map[string]float32{"x": 1})
	good := b.Bytes()
	for _, c := range []struct {
		name string
		data func() []byte
		want string
	}{
		{"length crc", func() []byte { d := bytes.Clone(good); d[9] ^= 1; return d }, "record 0: the length's CRC"},
		{"data crc", func() []byte { d := bytes.Clone(good); d[len(d)-6] ^= 1; return d }, "record 1: the data's CRC"},
		{"cut", func() []byte { return good[:len(good)-2] }, "record 1:"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := Read(bytes.NewReader(c.data())); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got %v, want %q", err, c.want)
			}
		})
	}
}
