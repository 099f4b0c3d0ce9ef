package onnx

import (
	"strconv"

	"google.golang.org/protobuf/proto"

	pb "crsc/compiler/onnx/onnxpb"
)

func decodeProto(data []byte) (*pb.ModelProto, error) {
	var m pb.ModelProto
	err := proto.Unmarshal(data, &m)
	return &m, err
}

func encodeProto(m *pb.ModelProto) ([]byte, error) {
	return proto.MarshalOptions{Deterministic: true}.Marshal(m)
}

// setExternal marks tp's data as stored in file at [offset, offset+length).
func setExternal(tp *pb.TensorProto, file string, offset, length int64) {
	loc := pb.TensorProto_EXTERNAL
	tp.DataLocation = &loc
	tp.ExternalData = []*pb.StringStringEntryProto{
		{Key: proto.String("location"), Value: proto.String(file)},
		{Key: proto.String("offset"), Value: proto.String(strconv.FormatInt(offset, 10))},
		{Key: proto.String("length"), Value: proto.String(strconv.FormatInt(length, 10))},
	}
}
