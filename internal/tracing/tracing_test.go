package tracing

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

func TestHeadersRoundTrip(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	ctx, span := tp.Tracer("t").Start(context.Background(), "root")
	defer span.End()

	h := Headers(ctx)
	require.Len(t, h[Header], 55)
	require.Equal(t, span.SpanContext().TraceID().String(), TraceIDOf(h[Header]))
	require.Equal(t, span.SpanContext().TraceID().String(), TraceID(ctx))
	back := trace.SpanContextFromContext(FromParent(context.Background(), Parent(ctx)))
	require.True(t, back.IsRemote())
	require.Equal(t, span.SpanContext().SpanID(), back.SpanID())

	require.Empty(t, Headers(context.Background()), "no span, no headers")
	require.Empty(t, Parent(context.Background()))
}

// TestHostileTraceparents: anything but a well-formed traceparent names no
// parent, so a span started from it begins a fresh trace.
func TestHostileTraceparents(t *testing.T) {
	for _, tp := range []string{
		"", "garbage", "00-00000000000000000000000000000000-0000000000000000-01",
		"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		"00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01", "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0g",
		"00-4bf92f3577b34da6a3ce929d0e0e4736\n-00f067aa0ba902b7-01",
	} {
		require.Empty(t, TraceIDOf(tp), "%q", tp)
		require.False(t, trace.SpanContextFromContext(FromParent(context.Background(), tp)).IsValid(), "%q", tp)
	}
	require.Equal(t, "4bf92f3577b34da6a3ce929d0e0e4736", TraceIDOf("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"))
}
