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
// export, warmed up, then every level. Each run measures every mode twice,
// in mirrored order (A B C, then C B A), and merges each mode's two passes
// level by level (report.Merge): a drift of the machine over the run
// weighs on every mode alike, and each figure rests on twice the
// requests. Which mode goes first turns from run to run. The suite is
// left as it started.
//
// Why: with one pass of 8 s levels the throughput A/B of no exporter
// against compiled out read from −11 to +10 % between runs of the same
// builds, when the difference to resolve is 2 % (docs/perf-log.md, step
// 12).
func (b *bench) tracingModes(ctx context.Context, conc, run int) error {
	order := make([]traceMode, len(traceModes))
	for i := range traceModes {
		order[i] = traceModes[(i+run-1)%len(traceModes)]
	}
	passes := map[string][]report.Variant{}
	for pass := range 2 {
		for i := range order {
			m := order[i]
			if pass == 1 {
				m = order[len(order)-1-i]
			}
			v, err := b.tracingMode(ctx, conc, m, pass+1)
			if err != nil {
				return err
			}
			passes[m.name] = append(passes[m.name], v)
		}
	}
	for _, m := range order {
		p := passes[m.name]
		v := report.Variant{Name: m.name, Title: m.title}
		for i := range p[0].Levels {
			v.Levels = append(v.Levels, report.Merge(p[0].Levels[i], p[1].Levels[i]))
		}
		fmt.Printf("  %-20s both passes:\n", v.Name)
		for _, l := range v.Levels {
			fmt.Printf("  %-20s", v.Name)
			printLevel(l)
		}
		b.cur.tracing = append(b.cur.tracing, v)
	}
	fmt.Println("  restoring the tracing processes as they started …")
	return b.s.Swap(ctx, suite.Traced, b.s.Bin)
}

// tracingMode is one pass of mode m: the swap, the warm-up, every level.
func (b *bench) tracingMode(ctx context.Context, conc int, m traceMode, pass int) (report.Variant, error) {
	fmt.Printf("\n%s (pass %d of 2) — %s\n", m.name, pass, m.title)
	if err := b.s.Swap(ctx, suite.Traced, m.bin(b), m.env(b)...); err != nil {
		return report.Variant{}, fmt.Errorf("%s: %w", m.name, err)
	}
	t := b.httpTarget(b.s.APIURL()+"/register", conc)
	defer t.close()
	if err := b.prime(ctx, t.do); err != nil {
		return report.Variant{}, fmt.Errorf("%s: %w", m.name, err)
	}
	w := load.Run(ctx, b.o.warmupConc, b.o.warmup, t.do)
	fmt.Printf("  warm-up %s at C=%d: %.0f/s, non-2xx %d\n", b.o.warmup, b.o.warmupConc, w.RPS(), w.NotOK())
	v := report.Variant{Name: m.name, Title: m.title}
	for _, c := range b.o.sweep.Levels {
		l, err := b.level(ctx, c, b.o.dur, t.do)
		if err != nil {
			return report.Variant{}, err
		}
		v.Levels = append(v.Levels, l)
		fmt.Printf("  %-20s", v.Name)
		printLevel(l)
	}
	return v, nil
}
