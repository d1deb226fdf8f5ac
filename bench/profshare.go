package main

import (
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"strings"
	"time"

	"sagasuite/internal/suite"
)

// tracingCode matches the functions (and inlined calls) that are
// tracing's own work in the shipped build: OpenTelemetry's (the no-op
// tracer's spans, the W3C propagator, semconv's attributes, logx reading
// a span's ids), go-zero's core/trace helpers and internal/tracing. The
// middlewares that call them are not matched: their frames sit under the
// whole request.
const tracingCode = `^go\.opentelemetry\.io/|^github\.com/zeromicro/go-zero/core/trace\.|^sagasuite/internal/tracing\.`

// profileShare is how much of the CPU profiles taken at register's best
// level (run 1, as shipped: tracing built in, no exporter) was tracing
// code: a direct reading of what the tracing A/B measures by throughput,
// which this shared machine's noise cannot resolve to 2 %.
type profileShare struct {
	conc      int
	secs      float64
	rps       float64                  // 2xx answers per second while profiled
	tracing   map[string]time.Duration // CPU in tracingCode, per traced process
	total     map[string]time.Duration // the profile's samples, per process
	cpuPerReq float64                  // register's CPU ms per 2xx answer at conc, every process
}

// msPerReq is the traced processes' CPU in tracing code per registration.
func (p *profileShare) msPerReq() float64 {
	var t time.Duration
	for _, name := range suite.Traced {
		t += p.tracing[name]
	}
	return float64(t) / float64(time.Millisecond) / (p.rps * p.secs)
}

// share is msPerReq against register's CPU per registration, every
// process: on a machine whose cores the register path keeps busy, the
// share of throughput that tracing code costs.
func (p *profileShare) share() float64 { return p.msPerReq() / p.cpuPerReq }

// String is the reading, process by process.
func (p *profileShare) String() string {
	var parts []string
	for _, name := range suite.Traced {
		if tot, ok := p.total[name]; ok && tot > 0 {
			parts = append(parts, fmt.Sprintf("%s %.1f %%", name, 100*float64(p.tracing[name])/float64(tot)))
		}
	}
	return fmt.Sprintf("tracing code %.2f ms per registration, %.1f %% of register's %.2f ms (of each process's profile: %s)",
		p.msPerReq(), 100*p.share(), p.cpuPerReq, strings.Join(parts, ", "))
}

var (
	totalLine = regexp.MustCompile(`Total samples = ([0-9.]+[a-zµ]*s|0)`)
	focusLine = regexp.MustCompile(`Showing nodes accounting for ([0-9.]+[a-zµ]*s|0),`)
)

// focused is the CPU a profile spent in samples through a function that
// matches focus, and the profile's total, as go tool pprof reads them.
func focused(ctx context.Context, bin, file, focus string) (in, total time.Duration, err error) {
	out, err := exec.CommandContext(ctx, "go", "tool", "pprof", "-top", "-nodecount=1000000", "-focus="+focus, bin, file).CombinedOutput()
	text := string(out)
	m := totalLine.FindStringSubmatch(text)
	if m == nil {
		return 0, 0, fmt.Errorf("pprof -focus: no total in %q (%v)", text, err)
	}
	if total, err = time.ParseDuration(m[1]); err != nil {
		return 0, 0, err
	}
	if strings.Contains(text, "matched no samples") {
		return 0, total, nil
	}
	f := focusLine.FindStringSubmatch(text)
	if f == nil {
		return 0, 0, fmt.Errorf("pprof -focus: no focused total in %q (%v)", text, err)
	}
	in, err = time.ParseDuration(f[1])
	return in, total, err
}
