// Package tracing carries a registration's W3C trace context across the
// hops go-zero does not trace for us: DTM (the saga's BranchHeaders, which
// DTM stores with the transaction and sends as gRPC metadata on every
// branch call, retries and compensations included, where go-zero's server
// interceptor picks it up), the outbox (a column written with the row) and
// asynq (task headers). Only the trace context travels (traceparent and
// tracestate), never baggage: a header an outside caller sent must not
// reach DTM's store or the queue.
package tracing

import (
	"context"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// Header is the W3C header that names a span: version-traceid-spanid-flags.
const Header = "traceparent"

// TracerName names the spans the suite starts itself (go-zero names its
// own "go-zero").
const TracerName = "sagasuite"

var w3c = propagation.TraceContext{}

// noSpan is OpenTelemetry's no-op span (a context with no span gives it).
var noSpan = trace.SpanFromContext(context.Background())

// Headers is the trace context of ctx's span as W3C headers; empty when
// ctx has no valid span (tracing off, or nothing started).
func Headers(ctx context.Context) map[string]string {
	c := propagation.MapCarrier{}
	w3c.Inject(ctx, c)
	return c
}

// Parent is the traceparent of ctx's span, "" when it has none.
func Parent(ctx context.Context) string { return Headers(ctx)[Header] }

// FromHeaders is ctx with the remote span of headers as its parent. A
// missing or malformed traceparent leaves ctx as it is: whatever starts a
// span from it starts a fresh trace.
func FromHeaders(ctx context.Context, headers map[string]string) context.Context {
	return w3c.Extract(ctx, propagation.MapCarrier(headers))
}

// FromParent is FromHeaders of a stored traceparent.
func FromParent(ctx context.Context, traceparent string) context.Context {
	if traceparent == "" {
		return ctx
	}
	return FromHeaders(ctx, map[string]string{Header: traceparent})
}

// Start starts a span of the suite's own named name.
// Without tracing compiled in it returns ctx and a span that does nothing.
func Start(ctx context.Context, name string, kind trace.SpanKind, attrs ...attribute.KeyValue) (context.Context, trace.Span) {
	if !Compiled {
		return ctx, noSpan
	}
	return otel.Tracer(TracerName).Start(ctx, name, trace.WithSpanKind(kind), trace.WithAttributes(attrs...))
}

// TraceID is the trace id of ctx's span in hex, "" when it has none.
func TraceID(ctx context.Context) string {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() {
		return ""
	}
	return sc.TraceID().String()
}

// TraceIDOf is the trace id a traceparent names, "" when it is not a
// well-formed one (version 00: 00-<32 hex>-<16 hex>-<2 hex>, ids not all
// zero).
func TraceIDOf(traceparent string) string {
	ctx := FromParent(context.Background(), traceparent)
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() {
		return ""
	}
	return sc.TraceID().String()
}

// Middlewares says whether go-zero's trace middlewares (the gateway's
// routes and RPC clients, the branch services' servers) should run for a
// process whose go-zero Telemetry config, after envconf.Telemetry, is
// disabled or not: only when tracing is compiled in and go-zero's agent
// exports. Without an exporter the agent is off and OpenTelemetry's global
// tracer is a no-op: the middlewares would build each request's span
// attributes, wrap its writer and propagate an invalid span context, for
// spans that are never recorded and trace ids that are never made.
func Middlewares(telemetryDisabled bool) bool { return Compiled && !telemetryDisabled }
