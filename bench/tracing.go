package main

import (
	"context"
	"fmt"

	"sagasuite/bench/load"
	"sagasuite/bench/report"
	"sagasuite/internal/suite"
)

// traceMode is a way the tracing processes run: which build, which
// export.
type traceMode struct {
	name, title string
	bin         func(*bench) string
	env         func(*bench) []string
}

var traceModes = []traceMode{
	{"trace-compiled-out", "POST /register, tracing compiled out (the notrace build: no spans, go-zero's trace middlewares off)",
		func(b *bench) string { return b.s.BinNoTrace }, func(*bench) []string { return []string{"TRACE_ENDPOINT="} }},
	{"trace-no-exporter", "POST /register, tracing built in, no exporter (as shipped: go-zero's agent off, spans on OpenTelemetry's no-op tracer)",
		func(b *bench) string { return b.s.Bin }, func(*bench) []string { return []string{"TRACE_ENDPOINT="} }},
	{"trace-otlp", "POST /register, tracing on: every span exported over OTLP/HTTP to the console's receiver, sampling 1",
		func(b *bench) string { return b.s.Bin },
		func(b *bench) []string {
			return []string{"TRACE_ENDPOINT=" + b.s.TraceEndpoint(), "TRACE_BATCHER=otlphttp"}
		}},
}

// tracingModes measures POST /register in each tracing mode: the tracing
// processes (suite.Traced) restarted from the mode's build with its
// export, warmed up, then every level. The modes take turns first from
// run to run, so that a drift over the run does not always favour the
// same one. The suite is left as it started.
func (b *bench) tracingModes(ctx context.Context, conc, run int) error {
	for i := range traceModes {
		m := traceModes[(i+run-1)%len(traceModes)]
		fmt.Printf("\n%s — %s\n", m.name, m.title)
		if err := b.s.Swap(ctx, suite.Traced, m.bin(b), m.env(b)...); err != nil {
			return fmt.Errorf("%s: %w", m.name, err)
		}
		t := b.httpTarget(b.s.APIURL()+"/register", conc)
		if err := b.prime(ctx, t.do); err != nil {
			t.close()
			return fmt.Errorf("%s: %w", m.name, err)
		}
		w := load.Run(ctx, b.o.warmupConc, b.o.warmup, t.do)
		fmt.Printf("  warm-up %s at C=%d: %.0f/s, non-2xx %d\n", b.o.warmup, b.o.warmupConc, w.RPS(), w.NotOK())
		v := report.Variant{Name: m.name, Title: m.title}
		for _, c := range b.o.sweep.Levels {
			l, err := b.level(ctx, c, b.o.dur, t.do)
			if err != nil {
				t.close()
				return err
			}
			v.Levels = append(v.Levels, l)
			fmt.Printf("  %-20s", v.Name)
			printLevel(l)
		}
		t.close()
		b.cur.tracing = append(b.cur.tracing, v)
	}
	fmt.Println("  restoring the tracing processes as they started …")
	return b.s.Swap(ctx, suite.Traced, b.s.Bin)
}
