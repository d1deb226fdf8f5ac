package main

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"

	"sagasuite/bench/procstat"
	"sagasuite/bench/report"
	"sagasuite/internal/store"
)

// Targets of the performance issue (this 2-core machine, everything on
// it; benchmark mode). Each is judged on the median of the runs.
const (
	// targetFloor0 is register ÷ floor (0) at 16 and 64 clients.
	targetFloor0 = 0.75
	// targetExtraCPU is register's CPU per registration (every process
	// but the load generator) above floor (0)'s, in ms.
	targetExtraCPU = 1.5
	// targetOutbox is the outbox step's share of throughput: 1 − with ÷
	// without.
	targetOutbox = 0.15
	// targetTracing is tracing with no exporter against tracing compiled
	// out: 1 − no exporter ÷ compiled out.
	targetTracing = 0.02
	targetReadRPS = 5000
	targetReadP99 = 25 * time.Millisecond
	targetReadC   = 16
	// targetDrain is the backlog's drain rate with -relays relays, rows/s.
	targetDrain = 1000
	// targetAnonMB is each service's peak private memory (RssAnon), MB;
	// file-backed pages (RssFile) are shown beside it, not counted.
	targetAnonMB = 25
	// The production cost's variant (prod) against a pure hashing loop.
	targetHashing = 0.9
)

// targetLevels are the concurrencies the throughput targets are set at.
var targetLevels = []int{16, 64}

// services are the processes the memory target holds for: the suite's
// own (DTM's server included, which the suite ships built from dtm/main.go);
// the development mail server, a stand-in for a real one, and MariaDB and
// Redis are shown, not judged.
var services = []string{"userapi", "user", "user-score", "dtm", "relay", "mailer", "projector", "console"}

type machineInfo struct {
	cpus                  int
	model, kernel, goVer  string
	mariadb, redis        string
	date                  time.Time
	loadBefore, loadAfter string
	took                  time.Duration
	command               string
}

func describeMachine(ctx context.Context, dsn, redisAddr string) machineInfo {
	m := machineInfo{cpus: runtime.NumCPU(), goVer: runtime.Version(), date: time.Now().UTC(), loadBefore: loadAvg()}
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.model = strings.TrimSpace(v)
				break
			}
		}
	}
	if data, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.kernel = strings.TrimSpace(string(data))
	}
	if db, err := openServer(dsn); err == nil {
		c, cancel := context.WithTimeout(ctx, 5*time.Second)
		_ = db.QueryRowContext(c, "SELECT VERSION()").Scan(&m.mariadb)
		cancel()
		db.Close()
	}
	m.redis = redisVersion(ctx, redisAddr)
	m.command = "go run ./bench"
	if len(os.Args) > 1 {
		m.command += " " + strings.Join(os.Args[1:], " ")
	}
	return m
}

// openServer prepares a pool on the MySQL server of dsn, its database part
// ignored.
func openServer(dsn string) (*sql.DB, error) {
	cfg, err := store.Config(dsn)
	if err != nil {
		return nil, err
	}
	return store.Open(store.In(cfg, ""))
}

// loadAvg is the 1, 5 and 15 minute load averages.
func loadAvg() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// variantNamed finds a variant of the run in progress.
func (b *bench) variantNamed(name string) (report.Variant, bool) {
	for _, v := range b.cur.variants {
		if v.Name == name {
			return v, true
		}
	}
	return report.Variant{}, false
}

// across is the variant named name in every run that measured it, from
// the list pick gives of each run.
func (b *bench) across(name string, pick func(runData) []report.Variant) []report.Variant {
	var out []report.Variant
	for _, r := range b.runs {
		for _, v := range pick(r) {
			if v.Name == name {
				out = append(out, v)
			}
		}
	}
	return out
}

func mainVariants(r runData) []report.Variant    { return r.variants }
func readVariants(r runData) []report.Variant    { return r.reads }
func tracingVariants(r runData) []report.Variant { return r.tracing }

// names lists the variants' names in the order the first run that has
// each measured it.
func (b *bench) names(pick func(runData) []report.Variant) []string {
	var out []string
	for _, r := range b.runs {
		for _, v := range pick(r) {
			if !slices.Contains(out, v.Name) {
				out = append(out, v.Name)
			}
		}
	}
	return out
}

// medians is every variant as its median run (report.MedianVariant).
func (b *bench) medians(pick func(runData) []report.Variant) []report.Variant {
	var out []report.Variant
	for _, n := range b.names(pick) {
		out = append(out, report.MedianVariant(b.across(n, pick)))
	}
	return out
}

// perRun is f of each run's level at concurrency c of the variants named
// a and bName (NaN in a run that lacks either).
func (b *bench) perRun(pick func(runData) []report.Variant, a, bName string, c int, f func(x, y report.Level) float64) []float64 {
	var out []float64
	for _, r := range b.runs {
		x, okA := levelOf(pick(r), a, c)
		y, okB := levelOf(pick(r), bName, c)
		if okA && okB {
			out = append(out, f(x, y))
		} else {
			out = append(out, math.NaN())
		}
	}
	return out
}

// statOf is f of each run's level at c of the variant named name.
func (b *bench) statOf(pick func(runData) []report.Variant, name string, c int, f func(report.Level) float64) report.Stat {
	return report.StatOf(b.perRun(pick, name, name, c, func(x, _ report.Level) float64 { return f(x) }))
}

func levelOf(vs []report.Variant, name string, c int) (report.Level, bool) {
	for _, v := range vs {
		if v.Name == name {
			return v.At(c)
		}
	}
	return report.Level{}, false
}

func rps(l report.Level) float64 { return l.RPS() }
func p99(l report.Level) float64 { return float64(l.P(99)) }
func ratio(x, y report.Level) float64 {
	if x.NotOK() > 0 || y.NotOK() > 0 {
		return math.NaN() // a level with failures is no ratio
	}
	return report.Ratio(x.RPS(), y.RPS())
}
func cost(with, without report.Level) float64 { return 1 - ratio(with, without) }
func extraCPU(x, y report.Level) float64      { return report.CPUPerReq(x) - report.CPUPerReq(y) }

func yes(ok bool) string {
	if ok {
		return "yes"
	}
	return "**no**"
}

// met says whether a Stat's median meets a target; "–" without one.
func met(s report.Stat, ok func(float64) bool) string {
	if s.N == 0 {
		return "–"
	}
	return yes(ok(s.Med))
}

func (b *bench) markdown(m machineInfo) string {
	var w strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&w, format, args...) }
	runs := len(b.runs)
	p("# Performance against DTM's own floor\n\n")
	p("Generated by `%s` on %s in %s. **%d runs on a shared %d-vCPU machine** (load average %s before, %s after): "+
		"every headline figure is the median of the runs, with their range (min–max) beside it, which is this machine's noise "+
		"for that figure; detailed tables show each level of the run whose throughput there was the median.\n\n",
		m.command, m.date.Format("2006-01-02 15:04 UTC"), m.took.Round(time.Second), runs, m.cpus, m.loadBefore, m.loadAfter)
	p("![Throughput and p99 latency against concurrency, one line per variant (median runs)](bench.svg)\n\n")

	p("## Targets\n\n| target | measured: median (min–max) of %d runs | met |\n| --- | --- | --- |\n", runs)
	for _, store := range b.o.stores {
		for _, c := range targetLevels {
			r := report.StatOf(b.perRun(mainVariants, "register-"+store, "floor-dtm-"+store, c, ratio))
			if r.N == 0 {
				continue
			}
			p("| register ≥ %.2f × floor (0), %s store, C=%d | **%s**: register %s/s, floor (0) %s/s | %s |\n",
				targetFloor0, store, c, r.Format("%.2f"),
				b.statOf(mainVariants, "register-"+store, c, rps).Format("%.0f"),
				b.statOf(mainVariants, "floor-dtm-"+store, c, rps).Format("%.0f"),
				met(r, func(x float64) bool { return x >= targetFloor0 }))
		}
	}
	for _, c := range targetLevels {
		d := report.StatOf(b.perRun(mainVariants, "register-mysql", "floor-dtm-mysql", c, extraCPU))
		if d.N == 0 {
			continue
		}
		p("| CPU per registration ≤ floor (0)'s + %.1f ms, MySQL store, C=%d (every process but the load generator; split below) | "+
			"**+%s ms**: register %s ms, floor (0) %s ms | %s |\n", targetExtraCPU, c, d.Format("%.2f"),
			b.statOf(mainVariants, "register-mysql", c, report.CPUPerReq).Format("%.2f"),
			b.statOf(mainVariants, "floor-dtm-mysql", c, report.CPUPerReq).Format("%.2f"),
			met(d, func(x float64) bool { return x <= targetExtraCPU }))
	}
	for _, c := range targetLevels {
		d := report.StatOf(b.perRun(mainVariants, "saga-with-outbox", "saga-without-outbox", c, cost))
		if d.N == 0 {
			continue
		}
		p("| the outbox step costs ≤ %.0f %% of throughput, C=%d (the register saga with it vs. without it, same HTTP stack) | "+
			"**%s %%**: with %s/s, without %s/s | %s |\n", 100*targetOutbox, c, pct(d),
			b.statOf(mainVariants, "saga-with-outbox", c, rps).Format("%.0f"),
			b.statOf(mainVariants, "saga-without-outbox", c, rps).Format("%.0f"),
			met(d, func(x float64) bool { return x <= targetOutbox }))
	}
	for _, c := range targetLevels {
		d := report.StatOf(b.perRun(tracingVariants, "trace-no-exporter", "trace-compiled-out", c, cost))
		if d.N == 0 {
			continue
		}
		o := report.StatOf(b.perRun(tracingVariants, "trace-otlp", "trace-compiled-out", c, cost))
		cpu := func(name string) string { return b.statOf(tracingVariants, name, c, report.CPUPerReq).Format("%.2f") }
		p("| tracing with no exporter costs ≤ %.0f %% of throughput against tracing compiled out, C=%d; with the OTLP exporter: reported | "+
			"**%s %%** (%s/s against %s/s); OTLP exporter on: %s %% (%s/s). CPU per registration: compiled out %s ms, no exporter %s ms, OTLP %s ms | %s |\n",
			100*targetTracing, c, pct(d),
			b.statOf(tracingVariants, "trace-no-exporter", c, rps).Format("%.0f"),
			b.statOf(tracingVariants, "trace-compiled-out", c, rps).Format("%.0f"),
			pct(o), b.statOf(tracingVariants, "trace-otlp", c, rps).Format("%.0f"),
			cpu("trace-compiled-out"), cpu("trace-no-exporter"), cpu("trace-otlp"),
			met(d, func(x float64) bool { return x <= targetTracing }))
	}
	if s := b.share; s != nil {
		p("| the same, read from the CPU profiles: tracing code's share of a registration's CPU, tracing built in with no exporter (run 1, register-mysql at C=%d, %.0f s, every tracing process; "+
			"OpenTelemetry's functions, go-zero's core/trace, internal/tracing, with what they call) | **%.1f %%**: %s | %s |\n",
			s.conc, s.secs, 100*s.share(), s, yes(s.share() <= targetTracing))
	}
	for _, name := range []string{"read-leaderboard", "read-profile"} {
		r := b.statOf(readVariants, name, targetReadC, rps)
		if r.N == 0 {
			continue
		}
		q := b.statOf(readVariants, name, targetReadC, p99)
		p("| %s ≥ %d req/s at p99 ≤ %s ms, C=%d | **%s/s**, p99 %s ms | %s |\n", readPath(name), targetReadRPS, report.Ms(targetReadP99), targetReadC,
			r.Format("%.0f"), q.Ms(), yes(r.N > 0 && r.Med >= targetReadRPS && time.Duration(q.Med) <= targetReadP99))
	}
	if mails := b.mails(); len(mails) > 0 {
		p50, p99s, rate, lost := report.StatOf(nil), report.StatOf(nil), report.StatOf(nil), 0
		var a, c, r []float64
		for _, x := range mails {
			a, c, r = append(a, float64(x.P50)), append(c, float64(x.P99)), append(r, x.CreatedRate)
			lost += x.Missing
		}
		p50, p99s, rate = report.StatOf(a), report.StatOf(c), report.StatOf(r)
		p("| mail pipeline at %.0f registrations/s: from the 201 to the mail accepted by SMTP, p50 and p99 (reported) | "+
			"**p50 %s ms, p99 %s ms** at %s registrations/s; %d mails missing | %s |\n", b.o.mailRate, p50.Ms(), p99s.Ms(), rate.Format("%.0f"), lost,
			reported(lost == 0))
	}
	if drains := b.drains(); len(drains) > 0 {
		var wall, db []float64
		for _, d := range drains {
			wall, db = append(wall, d.WallRate), append(db, d.SpanRate)
		}
		ws, ds := report.StatOf(wall), report.StatOf(db)
		p("| a backlog of %d unpublished outbox rows drains at ≥ %d rows/s with %d relays | **%s rows/s** from the relays' start to the last row published "+
			"(%s rows/s from the first publication to the last) | %s |\n", b.o.backlog, targetDrain, b.o.relays, ws.Format("%.0f"), ds.Format("%.0f"),
			met(ws, func(x float64) bool { return x >= targetDrain }))
	}
	if runs > 0 {
		var parts []string
		all := true
		for _, key := range services {
			anon, file := b.peakMemory(key)
			if anon.N == 0 {
				continue
			}
			all = all && anon.Med <= targetAnonMB
			parts = append(parts, fmt.Sprintf("%s %s (RssFile %s)", label(key), anon.Format("%.0f"), file.Format("%.0f")))
		}
		if len(parts) > 0 {
			p("| each service's peak private memory (RssAnon) ≤ %d MB; file-backed pages (RssFile) beside it, not counted | %s MB | %s |\n",
				targetAnonMB, strings.Join(parts, "; "), yes(all))
		}
	}
	if b.prod != nil {
		if i, ratio, ok := b.prod.best(); ok {
			l := b.prod.variant.Levels[i]
			p("| at the production cost (%d), throughput ≥ %.1f × a pure hashing loop on the same cores (one run) | %.1f/s (C=%d) ÷ %.1f hashes/s = **%.2f** | %s |\n",
				b.o.prodCost, targetHashing, l.RPS(), l.Conc, b.prod.loops[i].rate, ratio, yes(ratio >= targetHashing))
		}
	}
	p("\n")
	if len(b.heaps) > 0 {
		p("What the largest processes' private memory is, in run 1 (Go's runtime.MemStats from each dev server, read right after the levels where its RssAnon peaks; at GOGC=100 a Go heap grows to twice what the last collection found live before the next one):\n\n")
		for _, h := range b.heaps {
			p("- %s.\n", h)
		}
		p("\n")
	}
	b.cpuSplit(&w)
	b.perRunTable(&w)

	p("## Variants\n\n")
	p("Columns: C concurrent closed-loop clients; req/s counts 2xx answers only; latencies are those of the level's 2xx answers " +
		"(nearest-rank percentiles); CPU ms/req is the CPU time of every measured process except the load generator per 2xx answer; " +
		"each process cell is CPU (100%% = one core busy over the level) · peak RssAnon / peak RssFile in MB (2^20 bytes). " +
		"Each row is the level of the run whose throughput there was the median.\n\n")
	for _, v := range b.medians(mainVariants) {
		p("### %s\n\n%s.\n\n%s\n", v.Name, v.Title, report.Table(v))
	}
	if vs := b.medians(tracingVariants); len(vs) > 0 {
		p("## Tracing modes\n\n")
		p("The tracing processes (gateway, user, user-score, relay, mailer, projector) restarted in each mode in turn, the rest of the suite as it was; " +
			"each run measures every mode twice, in mirrored order (A B C, then C B A), and each row below is the two passes merged, so that a drift of the machine over the run weighs on every mode alike. " +
			"Compiled out is the same code built with the `notrace` tag: no span is started, go-zero's agent and its trace middlewares are off " +
			"(go-zero's SQL spans in the user service's model remain, on OpenTelemetry's no-op tracer). No exporter is the shipped default. " +
			"OTLP exports every span (sampling 1) to the console's receiver, whose CPU is in the console column.\n\n")
		for _, v := range vs {
			p("### %s\n\n%s.\n\n%s\n", v.Name, v.Title, report.Table(v))
		}
	}
	if vs := b.medians(readVariants); len(vs) > 0 {
		p("## Read endpoints\n\n")
		p("GET /users/{id} and GET /leaderboard answer from the Redis read model alone (one Lua script each), " +
			"over the users the register levels left there, once the projector applied every event.\n\n")
		for _, v := range vs {
			p("### %s\n\n%s.\n\n%s\n", v.Name, v.Title, report.Table(v))
		}
	}
	if mails, drains := b.mails(), b.drains(); len(mails)+len(drains) > 0 {
		p("## The outbox's pipeline\n\n")
		for i, x := range mails {
			p("- Mail, run %d: %s.\n", i+1, x)
		}
		for i, d := range drains {
			p("- Backlog, run %d: %s.\n", i+1, d)
		}
		p("\n")
	}
	if b.prod != nil {
		v := b.prod.variant
		p("## Production cost (one run)\n\n%s.\n\n%s\n", v.Title, report.Table(v))
		p("Before each level, a pure bcrypt loop at cost %d ran %s in the benchmark's own process on %d goroutines (GOMAXPROCS), "+
			"with the stack idle:\n\n| C | loop hashes/s | loop CPU | register ÷ loop |\n| ---: | ---: | ---: | ---: |\n",
			b.o.prodCost, b.o.dur, b.prod.loopProcs)
		for i, l := range v.Levels {
			loop := b.prod.loops[i]
			p("| %d | %.1f | %.0f%% | %.2f |\n", l.Conc, loop.rate, 100*loop.usage.Cores, report.Ratio(l.RPS(), loop.rate))
		}
		p("\n")
	}
	b.howMeasured(&w)
	p("## Machine\n\n| nproc | CPU | kernel | Go | MariaDB | Redis | date |\n| --- | --- | --- | --- | --- | --- | --- |\n")
	p("| %d | %s | %s | %s | %s | %s | %s |\n", m.cpus, m.model, m.kernel, m.goVer, m.mariadb, orDash(m.redis), m.date.Format(time.RFC3339))
	return w.String()
}

func readPath(name string) string {
	if name == "read-leaderboard" {
		return "GET /leaderboard"
	}
	return "GET /users/{id}"
}

func reported(complete bool) string {
	if complete {
		return "reported"
	}
	return "**mails missing**"
}

// pct formats a Stat of fractions as percentages.
func pct(s report.Stat) string {
	return report.Stat{Med: 100 * s.Med, Min: 100 * s.Min, Max: 100 * s.Max, N: s.N}.Format("%.1f")
}

func (b *bench) mails() []mailResult {
	var out []mailResult
	for _, r := range b.runs {
		if r.mail != nil {
			out = append(out, *r.mail)
		}
	}
	return out
}

func (b *bench) drains() []drainResult {
	var out []drainResult
	for _, r := range b.runs {
		if r.drain != nil {
			out = append(out, *r.drain)
		}
	}
	return out
}

// peakMemory is, over the runs, each run's largest RssAnon and RssFile
// of process key in MB, over every level it measured.
func (b *bench) peakMemory(key string) (anon, file report.Stat) {
	var as, fs []float64
	for _, r := range b.runs {
		all := append(append(append([]report.Variant{}, r.variants...), r.reads...), r.tracing...)
		peak := report.PeakMemory(key, all...)
		if peak.Anon == 0 {
			continue
		}
		as, fs = append(as, float64(peak.Anon)/(1<<20)), append(fs, float64(peak.File)/(1<<20))
	}
	return report.StatOf(as), report.StatOf(fs)
}

// cpuSplit writes register's and floor (0)'s CPU per registration by
// process, and MariaDB's counters per registration.
func (b *bench) cpuSplit(w *strings.Builder) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	var cols []int
	for _, c := range targetLevels {
		if b.statOf(mainVariants, "register-mysql", c, rps).N > 0 && b.statOf(mainVariants, "floor-dtm-mysql", c, rps).N > 0 {
			cols = append(cols, c)
		}
	}
	if len(cols) == 0 {
		return
	}
	p("## Where a registration's CPU goes\n\n")
	p("CPU time per 2xx answer in ms, MySQL store, by process: register against floor (0), median (min–max) of the runs; " +
		"the difference is what the register path costs beyond DTM's own floor. Floor (0)'s branches run in the floors process.\n\n")
	p("| process |")
	for _, c := range cols {
		p(" register C=%d | floor (0) C=%d | difference |", c, c)
	}
	p("%s", "\n| --- |"+strings.Repeat(" ---: | ---: | ---: |", len(cols))+"\n")
	for _, po := range report.ProcOrder {
		if po.Key == "bench" {
			continue
		}
		f := func(l report.Level) float64 { return report.ProcPerReq(l, po.Key) }
		any := false
		for _, c := range cols {
			if b.statOf(mainVariants, "register-mysql", c, f).Med > 0.005 || b.statOf(mainVariants, "floor-dtm-mysql", c, f).Med > 0.005 {
				any = true
			}
		}
		if !any {
			continue
		}
		p("| %s |", po.Label)
		for _, c := range cols {
			d := report.StatOf(b.perRun(mainVariants, "register-mysql", "floor-dtm-mysql", c, func(x, y report.Level) float64 {
				return report.ProcPerReq(x, po.Key) - report.ProcPerReq(y, po.Key)
			}))
			p(" %s | %s | %s |", b.statOf(mainVariants, "register-mysql", c, f).Format("%.2f"),
				b.statOf(mainVariants, "floor-dtm-mysql", c, f).Format("%.2f"), d.Format("%+.2f"))
		}
		p("\n")
	}
	p("| **all** |")
	for _, c := range cols {
		p(" %s | %s | %s |", b.statOf(mainVariants, "register-mysql", c, report.CPUPerReq).Format("%.2f"),
			b.statOf(mainVariants, "floor-dtm-mysql", c, report.CPUPerReq).Format("%.2f"),
			report.StatOf(b.perRun(mainVariants, "register-mysql", "floor-dtm-mysql", c, extraCPU)).Format("%+.2f"))
	}
	p("\n\nMariaDB's status counters per 2xx answer at C=%d (SHOW GLOBAL STATUS before and after each level; the machine's server, "+
		"so anything else using it adds):\n\n| counter |", cols[0])
	names := []string{"register-mysql", "floor-dtm-mysql", "saga-with-outbox", "saga-without-outbox"}
	var shown []string
	for _, n := range names {
		if b.statOf(mainVariants, n, cols[0], rps).N > 0 {
			shown = append(shown, n)
			p(" %s |", n)
		}
	}
	p("%s", "\n| --- |"+strings.Repeat(" ---: |", len(shown))+"\n")
	for _, counter := range dbCounters {
		p("| %s |", counter)
		for _, n := range shown {
			p(" %s |", b.statOf(mainVariants, n, cols[0], func(l report.Level) float64 { return report.DBPerReq(l, counter) }).Format("%.1f"))
		}
		p("\n")
	}
	p("\n")
}

// perRunTable writes each run's headline figures, so that the spread the
// medians hide shows.
func (b *bench) perRunTable(w *strings.Builder) {
	if len(b.runs) < 2 {
		return
	}
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	type col struct {
		head string
		of   func(runData) string
	}
	ratioAt := func(reg, floor string, c int, f func(x, y report.Level) float64, verb string, scale float64) func(runData) string {
		return func(r runData) string {
			x, ok1 := levelOf(r.variants, reg, c)
			if !ok1 {
				x, ok1 = levelOf(r.tracing, reg, c)
			}
			y, ok2 := levelOf(r.variants, floor, c)
			if !ok2 {
				y, ok2 = levelOf(r.tracing, floor, c)
			}
			if !ok1 || !ok2 {
				return "–"
			}
			return fmt.Sprintf(verb, scale*f(x, y))
		}
	}
	var cols []col
	for _, store := range b.o.stores {
		for _, c := range targetLevels {
			cols = append(cols, col{fmt.Sprintf("register/floor (0) %s C=%d", store, c), ratioAt("register-"+store, "floor-dtm-"+store, c, ratio, "%.2f", 1)})
		}
	}
	for _, c := range targetLevels {
		cols = append(cols, col{fmt.Sprintf("extra CPU ms C=%d", c), ratioAt("register-mysql", "floor-dtm-mysql", c, extraCPU, "%+.2f", 1)},
			col{fmt.Sprintf("outbox %% C=%d", c), ratioAt("saga-with-outbox", "saga-without-outbox", c, cost, "%.1f", 100)},
			col{fmt.Sprintf("tracing %% C=%d", c), ratioAt("trace-no-exporter", "trace-compiled-out", c, cost, "%.1f", 100)})
	}
	p("## Each run\n\nThe headline ratios run by run (– where a run did not measure it):\n\n| run |")
	for _, c := range cols {
		p(" %s |", c.head)
	}
	p("%s", "\n| ---: |"+strings.Repeat(" ---: |", len(cols))+"\n")
	for i, r := range b.runs {
		p("| %d |", i+1)
		for _, c := range cols {
			p(" %s |", c.of(r))
		}
		p("\n")
	}
	p("\n")
}

func (b *bench) howMeasured(w *strings.Builder) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	p("## How it was measured\n\n")
	p("- `bench` builds the suite and `bench/floors` into a temporary directory and starts a private stack: "+
		"databases `%s_<random>_*` (internal/testdb: created with the suite's schema, dropped at the end), an embedded etcd, a private redis-server "+
		"(the outbox's queues and the read model) and every process on free ports, through `internal/suite`'s Layout: the whole suite, relay, "+
		"mailer, projector, console and the development mail server included, exactly the shipped configs plus `MODE=pro`, a random `JWT_SECRET` and "+
		"`BCRYPT_COST=%d` (the labelled benchmark mode). Tracing is built in with no exporter, as shipped, except in the tracing modes. Load goes to 127.0.0.1 only.\n", b.o.dbPrefix, b.o.cost)
	p("- %d runs on the one stack. In each, every variant warms up %s at C=%d (not measured); then the levels run in step, %s each: "+
		"at each concurrency every variant of the store runs once, one after the other, so that variants compared at a level were measured "+
		"within a minute of each other. Closed-loop clients on one keep-alive `http.Client`, every request a new username. Levels %v.\n",
		b.o.runs, b.o.warmup, b.o.warmupConc, b.o.dur, b.o.sweep.Levels)
	p("- Floor (0) is a three-branch saga, the register saga's shape, whose branches run only DTM's barrier (an empty write, in two databases: " +
		"the first and last in one, as the user service's steps are) in the floors process's zrpc server, registered in etcd as `bench-floor.rpc`. " +
		"The load generator submits it straight to DTM through DTM's gRPC client (`dtmgrpc`, WaitResult, 5 s to wait as the gateway), every saga a new gid: " +
		"no HTTP, no hashing. No registration path through this DTM server and store can be faster; its client's CPU shows in the bench (load) column, not counted.\n")
	p("- The outbox step's pair: `bench/floors` builds the register saga itself from internal/register (the gateway's steps and payloads, the password hashed at the gateway's cost) " +
		"and submits it to the real user and user-score services, with all three steps or without the last (the completion, which writes the outbox rows and " +
		"so sets the relay, the mailer and the projector to work). Both go through the same HTTP server, so they differ only in that step and what it causes.\n")
	p("- Tracing modes: see that section. The read endpoints run at the same levels after each run's register levels.\n")
	p("- Mail pipeline: registrations sent open loop at %.0f/s for %s; for each 201, the time from the answer to the development mail server's "+
		"acceptance of its mail (that server's own clock: the same machine's).\n", b.o.mailRate, b.o.mailDur)
	p("- Backlog: the relay stopped, registrations until %d outbox rows wait unpublished; then %d relays started at once, with the mailer and the "+
		"projector running; drained when no row is left unpublished.\n", b.o.backlog, b.o.relays)
	p("- The Redis store's variants restart the same DTM binary with `STORE_DRIVER=redis` on %s (keys under a prefix unique to the run, "+
		"deleted at the end).\n", b.o.redisAddr)
	p("- CPU: utime+stime from `/proc/<pid>/stat` over the level. MariaDB is the machine's shared server: its CPU includes " +
		"whatever else used it meanwhile. The load generator (bench) shares the same cores.\n")
	p("- Memory: `RssAnon` and `RssFile` from `/proc/<pid>/status`, read every %s during each level and at both ends; each "+
		"is its own largest reading. `RssAnon` is the process's private memory, what it costs the machine; "+
		"`RssFile` is pages of files it maps (the executable, libraries), shared through the page cache and dropped and read back by the kernel as it needs. "+
		"The memory target is checked against each run's peak `RssAnon` over all its levels.\n", procstat.SampleEvery)
	p("- Profiles: in the first run, `bench` takes a %s CPU profile of every process with a dev server at register's best level and prints the top of each.\n\n", b.o.profile)
}

// best is the production level with the highest ratio to the loop run
// right before it.
func (p *prodResult) best() (int, float64, bool) {
	best, ratio := -1, 0.0
	for i, l := range p.variant.Levels {
		if x := report.Ratio(l.RPS(), p.loops[i].rate); !math.IsNaN(x) && (best < 0 || x > ratio) {
			best, ratio = i, x
		}
	}
	return best, ratio, best >= 0
}

func orDash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}

func label(key string) string {
	for _, p := range report.ProcOrder {
		if p.Key == key {
			return p.Label
		}
	}
	return key
}
