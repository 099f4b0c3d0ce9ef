// Package tbevents writes and reads TensorBoard event files
// (events.out.tfevents.*) holding scalar summaries, without TensorFlow.
//
// No maintained Go writer exists, and only a few fields of two protos are
// needed, so they are encoded by hand with protowire:
//
//	Event   { double wall_time = 1; int64 step = 2;
//	          string file_version = 3; Summary summary = 5; }
//	Summary { repeated Value value = 1; }
//	Value   { string tag = 1; float simple_value = 2; }
//
// A file is a sequence of TFRecords, each
//
//	uint64 length (little-endian), uint32 masked CRC32C of the length,
//	data, uint32 masked CRC32C of the data
//
// with mask(crc) = ((crc >> 15) | (crc << 17)) + 0xa282ead8. The first
// record is an Event with file_version "brain.Event:2"; each later one has
// the scalars of one step. Read parses such a file back (and checks every
// CRC): the tests use it, and so can a tool that wants the scalars.
package tbevents
