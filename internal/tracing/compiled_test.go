package tracing

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// TestStartAsCompiled: with tracing built in, Start records a child of
// ctx's span; built with the notrace tag (make test runs this package
// both ways), it records nothing, leaves ctx as it was, and ending what it
// returned ends no one's span.
func TestStartAsCompiled(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	prev := otel.GetTracerProvider()
	otel.SetTracerProvider(tp)
	t.Cleanup(func() { otel.SetTracerProvider(prev) })
	ctx, parent := tp.Tracer("t").Start(context.Background(), "parent")

	child, span := Start(ctx, "child", trace.SpanKindInternal)
	span.End()
	if Compiled {
		require.Len(t, rec.Ended(), 1)
		require.Equal(t, parent.SpanContext().SpanID(), rec.Ended()[0].Parent().SpanID())
		require.NotEqual(t, parent.SpanContext().SpanID(), trace.SpanContextFromContext(child).SpanID())
	} else {
		require.False(t, span.SpanContext().IsValid())
		require.Empty(t, rec.Ended(), "no span recorded")
		require.Equal(t, ctx, child)
		require.True(t, parent.IsRecording(), "the parent is not ended by the no-op span")
	}
	parent.End()
}
