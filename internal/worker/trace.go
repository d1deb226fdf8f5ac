package worker

import (
	"context"

	"github.com/hibiken/asynq"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"sagasuite/internal/tracing"
)

// Traced is the asynq middleware that puts each task's work in the trace
// the relay published it under (its headers, internal/tracing): a consumer
// span named by the task type, with the task's id and retry count, marked
// as an error when the work fails. A task without trace headers (published
// before tracing, or with tracing off) starts a trace of its own.
func Traced(next asynq.Handler) asynq.Handler {
	return asynq.HandlerFunc(func(ctx context.Context, t *asynq.Task) error {
		attrs := []attribute.KeyValue{}
		if id, ok := asynq.GetTaskID(ctx); ok {
			attrs = append(attrs, attribute.String("task.id", id))
		}
		if n, ok := asynq.GetRetryCount(ctx); ok {
			attrs = append(attrs, attribute.Int("task.retry", n))
		}
		ctx, span := tracing.Start(tracing.FromHeaders(ctx, t.Headers()), t.Type(), trace.SpanKindConsumer, attrs...)
		defer span.End()
		err := next.ProcessTask(ctx, t)
		if err != nil {
			span.SetStatus(codes.Error, err.Error())
		}
		return err
	})
}
