package tbevents

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"
	"sort"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
)

// FileVersion is the first record's file_version: TensorBoard reads files
// that start with it.
const FileVersion = "brain.Event:2"

// FileName is the conventional name of an event file:
// events.out.tfevents.<unix seconds>.<host>.
func FileName(t time.Time, host string) string {
	return fmt.Sprintf("events.out.tfevents.%d.%s", t.Unix(), host)
}

// Event is one record: the file-version record (FileVersion set) or the
// scalars of one step.
type Event struct {
	WallTime    float64 // seconds since the Unix epoch
	Step        int64
	FileVersion string
	Scalars     map[string]float32 // tag → simple_value
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func maskedCRC(b []byte) uint32 {
	c := crc32.Checksum(b, castagnoli)
	return ((c >> 15) | (c << 17)) + 0xa282ead8
}

// Writer writes records to w.
type Writer struct {
	w   io.Writer
	err error
}

// NewWriter starts an event file on w with the file-version record.
func NewWriter(w io.Writer, wallTime float64) *Writer {
	ew := &Writer{w: w}
	ew.Write(Event{WallTime: wallTime, FileVersion: FileVersion})
	return ew
}

// Scalars writes one step's scalars (in tag order, so that the bytes do
// not depend on map order).
func (w *Writer) Scalars(wallTime float64, step int64, scalars map[string]float32) error {
	return w.Write(Event{WallTime: wallTime, Step: step, Scalars: scalars})
}

// Write writes one record; after a failed write every later one fails too.
func (w *Writer) Write(e Event) error {
	if w.err != nil {
		return w.err
	}
	data := encodeEvent(e)
	var head [12]byte
	binary.LittleEndian.PutUint64(head[:8], uint64(len(data)))
	binary.LittleEndian.PutUint32(head[8:], maskedCRC(head[:8]))
	var tail [4]byte
	binary.LittleEndian.PutUint32(tail[:], maskedCRC(data))
	for _, b := range [][]byte{head[:], data, tail[:]} {
		if _, w.err = w.w.Write(b); w.err != nil {
			return w.err
		}
	}
	return nil
}

func encodeEvent(e Event) []byte {
	var b []byte
	b = protowire.AppendTag(b, 1, protowire.Fixed64Type)
	b = protowire.AppendFixed64(b, math.Float64bits(e.WallTime))
	if e.Step != 0 {
		b = protowire.AppendTag(b, 2, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(e.Step))
	}
	if e.FileVersion != "" {
		b = protowire.AppendTag(b, 3, protowire.BytesType)
		b = protowire.AppendString(b, e.FileVersion)
	}
	if len(e.Scalars) > 0 {
		tags := make([]string, 0, len(e.Scalars))
		for tag := range e.Scalars {
			tags = append(tags, tag)
		}
		sort.Strings(tags)
		var summary []byte
		for _, tag := range tags {
			var v []byte
			v = protowire.AppendTag(v, 1, protowire.BytesType)
			v = protowire.AppendString(v, tag)
			v = protowire.AppendTag(v, 2, protowire.Fixed32Type)
			v = protowire.AppendFixed32(v, math.Float32bits(e.Scalars[tag]))
			summary = protowire.AppendTag(summary, 1, protowire.BytesType)
			summary = protowire.AppendBytes(summary, v)
		}
		b = protowire.AppendTag(b, 5, protowire.BytesType)
		b = protowire.AppendBytes(b, summary)
	}
	return b
}

// ReadFile reads every record of an event file.
func ReadFile(path string) ([]Event, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return Read(f)
}

// Read parses records until the end of r, checking both CRCs of each.
func Read(r io.Reader) ([]Event, error) {
	var events []Event
	for i := 0; ; i++ {
		var head [12]byte
		if _, err := io.ReadFull(r, head[:]); err == io.EOF {
			return events, nil
		} else if err != nil {
			return events, fmt.Errorf("record %d: %v", i, err)
		}
		if binary.LittleEndian.Uint32(head[8:]) != maskedCRC(head[:8]) {
			return events, fmt.Errorf("record %d: the length's CRC does not match", i)
		}
		n := binary.LittleEndian.Uint64(head[:8])
		if n > 1<<30 {
			return events, fmt.Errorf("record %d: length %d", i, n)
		}
		data := make([]byte, n+4)
		if _, err := io.ReadFull(r, data); err != nil {
			return events, fmt.Errorf("record %d: %v", i, err)
		}
		if binary.LittleEndian.Uint32(data[n:]) != maskedCRC(data[:n]) {
			return events, fmt.Errorf("record %d: the data's CRC does not match", i)
		}
		e, err := decodeEvent(data[:n])
		if err != nil {
			return events, fmt.Errorf("record %d: %v", i, err)
		}
		events = append(events, e)
	}
}

var errMalformed = errors.New("malformed protobuf")

// fields calls fn for each field of a message; fn gets the raw value
// (the varint or fixed bits, or the bytes) and returns an error to stop.
func fields(b []byte, fn func(num protowire.Number, typ protowire.Type, v uint64, bytes []byte) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return errMalformed
		}
		b = b[n:]
		var v uint64
		var bs []byte
		switch typ {
		case protowire.VarintType:
			v, n = protowire.ConsumeVarint(b)
		case protowire.Fixed64Type:
			v, n = protowire.ConsumeFixed64(b)
		case protowire.Fixed32Type:
			var v32 uint32
			v32, n = protowire.ConsumeFixed32(b)
			v = uint64(v32)
		case protowire.BytesType:
			bs, n = protowire.ConsumeBytes(b)
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return errMalformed
		}
		b = b[n:]
		if err := fn(num, typ, v, bs); err != nil {
			return err
		}
	}
	return nil
}

func decodeEvent(b []byte) (Event, error) {
	var e Event
	err := fields(b, func(num protowire.Number, typ protowire.Type, v uint64, bs []byte) error {
		switch {
		case num == 1 && typ == protowire.Fixed64Type:
			e.WallTime = math.Float64frombits(v)
		case num == 2 && typ == protowire.VarintType:
			e.Step = int64(v)
		case num == 3 && typ == protowire.BytesType:
			e.FileVersion = string(bs)
		case num == 5 && typ == protowire.BytesType:
			return fields(bs, func(num protowire.Number, typ protowire.Type, _ uint64, value []byte) error {
				if num != 1 || typ != protowire.BytesType {
					return nil
				}
				var tag string
				var x float32
				var have bool
				err := fields(value, func(num protowire.Number, typ protowire.Type, v uint64, bs []byte) error {
					switch {
					case num == 1 && typ == protowire.BytesType:
						tag = string(bs)
					case num == 2 && typ == protowire.Fixed32Type:
						x, have = math.Float32frombits(uint32(v)), true
					}
					return nil
				})
				if err != nil {
					return err
				}
				if have {
					if e.Scalars == nil {
						e.Scalars = map[string]float32{}
					}
					e.Scalars[tag] = x
				}
				return nil
			})
		}
		return nil
	})
	return e, err
}
