package main

// The gRPC service is written by hand, with well-known message types, so
// that building needs no protoc and no generated code. Its .proto would be:
//
//	syntax = "proto3";
//	package saferollout.drainapp.v1;
//	import "google/protobuf/struct.proto";
//	import "google/protobuf/wrappers.proto";
//
//	service DrainApp {
//	  // Echo answers "echo: <value> from <hostname> mode=<mode>".
//	  rpc Echo(google.protobuf.StringValue) returns (google.protobuf.StringValue);
//	  // Ticks sends `count` messages (default 5), one every `interval`
//	  // (default "1s"); request e.g. {"count": 3, "interval": "200ms"}.
//	  rpc Ticks(google.protobuf.Struct) returns (stream google.protobuf.StringValue);
//	}
//
// Try it: grpcurl -plaintext -d '"hi"' localhost:9090 saferollout.drainapp.v1.DrainApp/Echo
//
// The same port serves grpc.health.v1.Health (for "" and for
// saferollout.drainapp.v1.DrainApp) and server reflection.

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

const (
	drainAppServiceName = "saferollout.drainapp.v1.DrainApp"
	drainAppProtoFile   = "saferollout/drainapp/v1/drainapp.proto"
)

// drainAppServer is what the handlers below need; *App implements it.
type drainAppServer interface {
	echo(context.Context, *wrapperspb.StringValue) (*wrapperspb.StringValue, error)
	ticks(*structpb.Struct, grpc.ServerStream) error
}

// drainAppServiceDesc is what protoc-gen-go-grpc would have generated.
var drainAppServiceDesc = grpc.ServiceDesc{
	ServiceName: drainAppServiceName,
	HandlerType: (*drainAppServer)(nil),
	Methods: []grpc.MethodDesc{{
		MethodName: "Echo",
		Handler: func(srv any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
			in := new(wrapperspb.StringValue)
			if err := dec(in); err != nil {
				return nil, err
			}
			call := func(ctx context.Context, req any) (any, error) {
				return srv.(drainAppServer).echo(ctx, req.(*wrapperspb.StringValue))
			}
			if interceptor == nil {
				return call(ctx, in)
			}
			return interceptor(ctx, in, &grpc.UnaryServerInfo{Server: srv, FullMethod: "/" + drainAppServiceName + "/Echo"}, call)
		},
	}},
	Streams: []grpc.StreamDesc{{
		StreamName:    "Ticks",
		ServerStreams: true,
		Handler: func(srv any, stream grpc.ServerStream) error {
			in := new(structpb.Struct)
			if err := stream.RecvMsg(in); err != nil {
				return err
			}
			return srv.(drainAppServer).ticks(in, stream)
		},
	}},
	Metadata: drainAppProtoFile,
}

// init registers the service's descriptor, so that reflection can describe
// it (grpcurl needs that to encode requests).
func init() {
	m := func(name, in, out string, stream bool) *descriptorpb.MethodDescriptorProto {
		return &descriptorpb.MethodDescriptorProto{Name: &name, InputType: &in, OutputType: &out, ServerStreaming: &stream}
	}
	file := &descriptorpb.FileDescriptorProto{
		Name:       proto.String(drainAppProtoFile),
		Package:    proto.String("saferollout.drainapp.v1"),
		Dependency: []string{"google/protobuf/struct.proto", "google/protobuf/wrappers.proto"},
		Syntax:     proto.String("proto3"),
		Service: []*descriptorpb.ServiceDescriptorProto{{
			Name: proto.String("DrainApp"),
			Method: []*descriptorpb.MethodDescriptorProto{
				m("Echo", ".google.protobuf.StringValue", ".google.protobuf.StringValue", false),
				m("Ticks", ".google.protobuf.Struct", ".google.protobuf.StringValue", true),
			},
		}},
	}
	fd, err := protodesc.NewFile(file, protoregistry.GlobalFiles)
	if err == nil {
		err = protoregistry.GlobalFiles.RegisterFile(fd)
	}
	if err != nil {
		panic(err)
	}
}

func (a *App) echo(_ context.Context, in *wrapperspb.StringValue) (*wrapperspb.StringValue, error) {
	a.inFlight.Add(1)
	defer a.inFlight.Add(-1)
	return wrapperspb.String(fmt.Sprintf("echo: %s from %s mode=%s", in.GetValue(), a.cfg.Hostname, a.cfg.Mode)), nil
}

// ticks is a long-lived stream: the in-flight work that GracefulStop waits for.
func (a *App) ticks(in *structpb.Struct, stream grpc.ServerStream) error {
	a.inFlight.Add(1)
	defer a.inFlight.Add(-1)

	count, interval, err := tickArgs(in)
	if err != nil {
		return status.Error(codes.InvalidArgument, err.Error())
	}
	for i := 1; i <= count; i++ {
		if !sleep(stream.Context(), interval) {
			return status.FromContextError(stream.Context().Err()).Err()
		}
		msg := fmt.Sprintf("tick %d/%d from %s mode=%s", i, count, a.cfg.Hostname, a.cfg.Mode)
		if err := stream.SendMsg(wrapperspb.String(msg)); err != nil {
			return err
		}
	}
	return nil
}

func tickArgs(in *structpb.Struct) (count int, interval time.Duration, err error) {
	count, interval = 5, time.Second
	fields := in.GetFields()
	if v, ok := fields["count"]; ok {
		n := v.GetNumberValue()
		if n < 1 || n > 10000 || n != math.Trunc(n) {
			return 0, 0, errors.New("count must be a whole number from 1 to 10000")
		}
		count = int(n)
	}
	if v, ok := fields["interval"]; ok {
		interval, err = time.ParseDuration(v.GetStringValue())
		if err != nil || interval < 0 {
			return 0, 0, fmt.Errorf("interval must be a duration such as \"200ms\", got %q", v.GetStringValue())
		}
	}
	return count, interval, nil
}
