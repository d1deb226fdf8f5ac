//go:build !notrace

package tracing

// Compiled says whether tracing is built in. It is, unless the binary was
// built with the notrace tag (bench -trace-off builds one): then every span
// this package starts is a no-op, envconf.Telemetry keeps go-zero's agent
// off, and the suite turns go-zero's trace middlewares off (the gateway's
// routes, its RPC clients, the branch services' server). Built in, the
// middlewares still run only while a process exports (Middlewares). What
// cannot be taken out that way is go-zero's SQL spans in the user
// service's model, which start on OpenTelemetry's no-op tracer either way.
const Compiled = true
