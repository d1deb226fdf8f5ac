// Package report turns the benchmark's measurements into the markdown
// table (docs/bench.md) and the plot (docs/bench.svg).
package report

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"sagasuite/bench/load"
	"sagasuite/bench/procstat"
)

// Level is one concurrency level of a variant, with what each process used.
type Level struct {
	load.Result
	Usage map[string]procstat.Usage
	// DB is how much each of MariaDB's status counters (SHOW GLOBAL
	// STATUS: statements, commits, fsyncs) grew over the level.
	DB map[string]int64
}

// Merge is the level that measured a and b together, as if one: their
// requests, latencies, statuses, CPU time and MariaDB counters added, each
// process's cores averaged over both durations and its peaks the larger (a
// process or counter missing from either is left out).
// The tracing modes measure every level twice, in mirrored order, and
// merge the two (bench/tracing.go).
func Merge(a, b Level) Level {
	m := Level{Result: load.Result{
		Conc: a.Conc, Elapsed: a.Elapsed + b.Elapsed,
		Lat:      mergeSorted(a.Lat, b.Lat),
		OKLat:    mergeSorted(a.OKLat, b.OKLat),
		Statuses: map[int]int{}, ErrText: a.ErrText,
	}}
	if m.ErrText == "" {
		m.ErrText = b.ErrText
	}
	for code, n := range a.Statuses {
		m.Statuses[code] += n
	}
	for code, n := range b.Statuses {
		m.Statuses[code] += n
	}
	// A process or a counter read in one level only is left out: its sum
	// would cover part of the requests.
	if a.Usage != nil && b.Usage != nil {
		m.Usage = map[string]procstat.Usage{}
		wall := (a.Elapsed + b.Elapsed).Seconds()
		for name, u := range a.Usage {
			v, ok := b.Usage[name]
			if !ok {
				continue
			}
			t := procstat.Usage{CPU: u.CPU + v.CPU, Peak: u.Peak.Max(v.Peak)}
			if wall > 0 {
				t.Cores = (u.Cores*a.Elapsed.Seconds() + v.Cores*b.Elapsed.Seconds()) / wall
			}
			m.Usage[name] = t
		}
	}
	if a.DB != nil && b.DB != nil {
		m.DB = map[string]int64{}
		for k, v := range a.DB {
			if w, ok := b.DB[k]; ok {
				m.DB[k] = v + w
			}
		}
	}
	return m
}

func mergeSorted(a, b []time.Duration) []time.Duration {
	out := make([]time.Duration, 0, len(a)+len(b))
	out = append(append(out, a...), b...)
	slices.Sort(out)
	return out
}

// DBPerReq is a MariaDB counter's growth per 2xx answer; NaN when it was
// not read or nothing succeeded.
func DBPerReq(l Level, counter string) float64 {
	n, ok := l.DB[counter]
	if !ok || l.OK() == 0 {
		return math.NaN()
	}
	return float64(n) / float64(l.OK())
}

// Variant is one measured path (register, a floor, …) over its sweep.
type Variant struct {
	Name   string // short, for tables and the plot legend
	Title  string // what it is
	Levels []Level
}

// Best is the level with the highest rate of 2xx answers.
func (v Variant) Best() (Level, bool) {
	var best Level
	ok := false
	for _, l := range v.Levels {
		if !ok || l.RPS() > best.RPS() {
			best, ok = l, true
		}
	}
	return best, ok
}

// BestWithin is the fastest level whose p99 is at most p99 with no
// answer other than 2xx.
func (v Variant) BestWithin(p99 time.Duration) (Level, bool) {
	var best Level
	ok := false
	for _, l := range v.Levels {
		if l.NotOK() > 0 || l.P(99) > p99 {
			continue
		}
		if !ok || l.RPS() > best.RPS() {
			best, ok = l, true
		}
	}
	return best, ok
}

// At is the level run at concurrency c.
func (v Variant) At(c int) (Level, bool) {
	for _, l := range v.Levels {
		if l.Conc == c {
			return l, true
		}
	}
	return Level{}, false
}

// Rates is the throughput per level, in order.
func (v Variant) Rates() []float64 {
	out := make([]float64, len(v.Levels))
	for i, l := range v.Levels {
		out[i] = l.RPS()
	}
	return out
}

// ProcOrder is the order (and the display names) of the measured processes.
var ProcOrder = []struct{ Key, Label string }{
	{"userapi", "gateway"}, {"user", "user"}, {"user-score", "user-score"}, {"dtm", "dtm"},
	{"floors", "floors"}, {"relay", "relay"}, {"relay-2", "relay 2"}, {"mailer", "mailer"}, {"projector", "projector"}, {"console", "console"}, {"mail", "mail server (dev)"},
	{"mariadb", "MariaDB"}, {"redis", "Redis (DTM's store)"}, {"redis-suite", "Redis (queues, read model)"}, {"bench", "bench (load)"},
}

// procsOf lists the processes measured in any level of v, in ProcOrder.
func procsOf(v Variant) []int {
	var idx []int
	for i, p := range ProcOrder {
		for _, l := range v.Levels {
			if _, ok := l.Usage[p.Key]; ok {
				idx = append(idx, i)
				break
			}
		}
	}
	return idx
}

// Ms formats a duration in milliseconds with a precision that suits it.
func Ms(d time.Duration) string {
	ms := float64(d) / float64(time.Millisecond)
	switch {
	case ms < 10:
		return fmt.Sprintf("%.2f", ms)
	case ms < 100:
		return fmt.Sprintf("%.1f", ms)
	default:
		return fmt.Sprintf("%.0f", ms)
	}
}

// statuses formats the answers that were not 2xx: "0", or "12 (503: 10, err: 2)".
func statuses(r load.Result) string {
	n := r.NotOK()
	if n == 0 {
		return "0"
	}
	var codes []int
	for c := range r.Statuses {
		if c < 200 || c >= 300 {
			codes = append(codes, c)
		}
	}
	slices.Sort(codes)
	var parts []string
	for _, c := range codes {
		name := fmt.Sprint(c)
		if c == 0 {
			name = "err"
		}
		parts = append(parts, fmt.Sprintf("%s: %d", name, r.Statuses[c]))
	}
	return fmt.Sprintf("%d (%s)", n, strings.Join(parts, ", "))
}

// cpuPerReq formats CPUPerReq.
func cpuPerReq(l Level) string {
	if l.OK() == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f", CPUPerReq(l))
}

// Table is a variant's markdown table: one row per level.
func Table(v Variant) string {
	var b strings.Builder
	idx := procsOf(v)
	b.WriteString("| C | req/s | p50 ms | p95 ms | p99 ms | max ms | non-2xx | CPU ms/req |")
	for _, i := range idx {
		b.WriteString(" " + ProcOrder[i].Label + " |")
	}
	b.WriteString("\n|" + strings.Repeat(" ---: |", 8+len(idx)) + "\n")
	for _, l := range v.Levels {
		fmt.Fprintf(&b, "| %d | %.0f | %s | %s | %s | %s | %s | %s |", l.Conc, l.RPS(),
			Ms(l.P(50)), Ms(l.P(95)), Ms(l.P(99)), Ms(l.Max()), statuses(l.Result), cpuPerReq(l))
		for _, i := range idx {
			u, ok := l.Usage[ProcOrder[i].Key]
			if !ok {
				b.WriteString(" – |")
				continue
			}
			fmt.Fprintf(&b, " %.0f%% · %s |", 100*u.Cores, memCell(u.Peak))
		}
		b.WriteString("\n")
	}
	return b.String()
}

// memCell is "anon / file" in MB, with the shared memory after them when
// there is any to show.
func memCell(m procstat.Memory) string {
	cell := MB(m.Anon) + " / " + MB(m.File)
	if m.Shmem > mib/2 { // what "%.0f" shows as 1 or more
		cell += " + " + MB(m.Shmem) + " shm"
	}
	return cell
}

const mib = 1 << 20

// MB formats bytes in MB of 2^20 bytes, rounded.
func MB(bytes uint64) string { return fmt.Sprintf("%.0f", float64(bytes)/mib) }

// PeakMemory is, field by field, the largest peak of process key over every
// level of the variants.
func PeakMemory(key string, vs ...Variant) procstat.Memory {
	var peak procstat.Memory
	for _, v := range vs {
		for _, l := range v.Levels {
			peak = peak.Max(l.Usage[key].Peak)
		}
	}
	return peak
}

// Ratio is a/b, or NaN when b is 0.
func Ratio(a, b float64) float64 {
	if b == 0 {
		return math.NaN()
	}
	return a / b
}
