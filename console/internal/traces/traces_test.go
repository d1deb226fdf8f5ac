package traces

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.4.0"
	"go.opentelemetry.io/otel/trace"
	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	common "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// TestReceivesWhatTheOTelExporterSends: spans exported by the
// OpenTelemetry SDK's own OTLP/HTTP exporter (gzip and not) arrive in the
// store with their parents, services, kinds, errors and attributes.
func TestReceivesWhatTheOTelExporterSends(t *testing.T) {
	store := NewStore()
	srv := httptest.NewServer(Receiver(store))
	defer srv.Close()
	for _, compression := range []otlptracehttp.Compression{otlptracehttp.NoCompression, otlptracehttp.GzipCompression} {
		exp, err := otlptracehttp.New(context.Background(), otlptracehttp.WithEndpoint(strings.TrimPrefix(srv.URL, "http://")),
			otlptracehttp.WithInsecure(), otlptracehttp.WithCompression(compression))
		require.NoError(t, err)
		tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp),
			sdktrace.WithResource(resource.NewSchemaless(semconv.ServiceNameKey.String("gateway"))))
		ctx, root := tp.Tracer("t").Start(context.Background(), "POST /register", trace.WithSpanKind(trace.SpanKindServer))
		_, child := tp.Tracer("t").Start(ctx, "dtm.Submit", trace.WithSpanKind(trace.SpanKindClient),
			trace.WithAttributes(attribute.String("saga.gid", "register-x")))
		child.SetStatus(codes.Error, "Aborted")
		child.End()
		root.End()
		require.NoError(t, tp.Shutdown(context.Background()))

		id := root.SpanContext().TraceID().String()
		got, ok := store.Get(id)
		require.True(t, ok, "compression %v", compression)
		require.Len(t, got.Spans, 2)
		require.Equal(t, "POST /register", got.Spans[0].Name)
		require.Equal(t, "server", got.Spans[0].Kind)
		require.Equal(t, "gateway", got.Spans[0].Service)
		require.Empty(t, got.Spans[0].ParentID)
		require.Equal(t, got.Spans[0].SpanID, got.Spans[1].ParentID)
		require.True(t, got.Spans[1].Error)
		require.Equal(t, "Aborted", got.Spans[1].Status)
		require.Equal(t, "register-x", got.Spans[1].Attrs["saga.gid"])
		require.False(t, got.Spans[1].End.Before(got.Spans[1].Start))
	}
}

func TestBounds(t *testing.T) {
	s := NewStore()
	s.max = 3
	span := func(trace, id int) Span {
		return Span{TraceID: fmt.Sprintf("%032x", trace), SpanID: fmt.Sprintf("%016x", id), Start: time.Unix(int64(id), 0)}
	}
	for tr := 1; tr <= 4; tr++ {
		s.Add(request(t, []Span{span(tr, 1)}))
	}
	require.Equal(t, 3, s.Len())
	_, ok := s.Get(fmt.Sprintf("%032x", 1))
	require.False(t, ok, "the least recently updated trace went")
	var many []Span
	for i := range MaxSpans + 5 {
		many = append(many, span(9, i+1))
	}
	s.Add(request(t, append(many, span(9, 1)))) // and one resent
	got, ok := s.Get(fmt.Sprintf("%032x", 9))
	require.True(t, ok)
	require.Len(t, got.Spans, MaxSpans)
	require.Equal(t, 5, got.Dropped)
}

func TestRefusesWhatIsNotAnExport(t *testing.T) {
	srv := httptest.NewServer(Receiver(NewStore()))
	defer srv.Close()
	for _, c := range []struct{ ct, body string }{
		{"application/x-protobuf", "\xff\xff\xff"}, {"application/json", "{"}, {"text/plain", "hi"},
	} {
		resp, err := http.Post(srv.URL+"/v1/traces", c.ct, bytes.NewBufferString(c.body))
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusBadRequest, resp.StatusCode, c.ct)
	}
	resp, err := http.Post(srv.URL+"/v1/traces", "application/json", bytes.NewBufferString(strings.Repeat(" ", MaxBody+10)))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
}

// request is an export request carrying spans (one resource per span, named
// by its service), through protobuf's encoding and back, as the receiver
// gets it.
func request(t testing.TB, spans []Span) *coltrace.ExportTraceServiceRequest {
	t.Helper()
	req := &coltrace.ExportTraceServiceRequest{}
	hexID := func(h string) []byte {
		b, err := hex.DecodeString(h)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, sp := range spans {
		p := &tracepb.Span{
			TraceId: hexID(sp.TraceID), SpanId: hexID(sp.SpanID), Name: sp.Name, Kind: tracepb.Span_SPAN_KIND_SERVER,
			StartTimeUnixNano: uint64(sp.Start.UnixNano()), EndTimeUnixNano: uint64(sp.End.UnixNano()),
		}
		if sp.ParentID != "" {
			p.ParentSpanId = hexID(sp.ParentID)
		}
		for k, v := range sp.Attrs {
			p.Attributes = append(p.Attributes, &common.KeyValue{Key: k, Value: &common.AnyValue{Value: &common.AnyValue_StringValue{StringValue: v}}})
		}
		req.ResourceSpans = append(req.ResourceSpans, &tracepb.ResourceSpans{
			Resource: &resourcepb.Resource{Attributes: []*common.KeyValue{
				{Key: "service.name", Value: &common.AnyValue{Value: &common.AnyValue_StringValue{StringValue: sp.Service}}}}},
			ScopeSpans: []*tracepb.ScopeSpans{{Spans: []*tracepb.Span{p}}},
		})
	}
	data, err := proto.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	out := &coltrace.ExportTraceServiceRequest{}
	if err := proto.Unmarshal(data, out); err != nil {
		t.Fatal(err)
	}
	return out
}
