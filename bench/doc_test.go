package main

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"sagasuite/bench/load"
	"sagasuite/bench/procstat"
	"sagasuite/bench/report"
)

const mib = 1 << 20

// level is a level at c of n 2xx answers over a second, with each
// process's memory peak and CPU.
func level(c, n int, mem map[string]procstat.Memory, cpu map[string]time.Duration) report.Level {
	var lat []time.Duration
	for range n {
		lat = append(lat, time.Millisecond)
	}
	l := report.Level{Result: load.Result{Conc: c, Elapsed: time.Second, Lat: lat, OKLat: lat, Statuses: map[int]int{201: n}},
		Usage: map[string]procstat.Usage{}}
	for name, m := range mem {
		u := l.Usage[name]
		u.Peak = m
		l.Usage[name] = u
	}
	for name, d := range cpu {
		u := l.Usage[name]
		u.CPU = d
		l.Usage[name] = u
	}
	return l
}

func row(t *testing.T, doc, marker string) string {
	t.Helper()
	for _, line := range strings.Split(doc, "\n") {
		if strings.Contains(line, marker) {
			return line
		}
	}
	t.Fatalf("no row with %q in:\n%s", marker, doc)
	return ""
}

// TestMemoryTarget checks that the memory target is judged on private
// memory (RssAnon) only, on the median of the runs' peaks, with
// file-backed pages shown beside it.
func TestMemoryTarget(t *testing.T) {
	doc := func(userAnon ...uint64) string {
		b := &bench{o: options{stores: []string{"mysql"}, runs: len(userAnon)}}
		for _, ua := range userAnon {
			b.runs = append(b.runs, runData{variants: []report.Variant{{Name: "register-mysql", Title: "t", Levels: []report.Level{
				level(16, 1, map[string]procstat.Memory{
					"userapi": {Anon: 20 * mib, File: 70 * mib}, "user": {Anon: 10 * mib, File: 80 * mib}}, nil),
				level(64, 1, map[string]procstat.Memory{
					"userapi": {Anon: 22 * mib, File: 60 * mib}, "user": {Anon: ua, File: 40 * mib}}, nil),
			}}}})
		}
		return row(t, b.markdown(machineInfo{}), "RssAnon) ≤ 25 MB")
	}
	// File-backed pages far above 25 MB do not fail the target.
	got := doc(15*mib, 15*mib, 15*mib)
	require.Contains(t, got, "| gateway 22 (22–22) (RssFile 70 (70–70)); user 15 (15–15) (RssFile 80 (80–80)) MB |")
	require.True(t, strings.HasSuffix(got, "| yes |"), got)
	// The median is judged: one run above it does not fail the target, two do.
	require.True(t, strings.HasSuffix(doc(15*mib, 40*mib, 25*mib), "| yes |"))
	require.True(t, strings.HasSuffix(doc(26*mib, 40*mib, 15*mib), "| **no** |"))
}

// TestFloorAndCPUTargets: the ratio to floor (0) and the extra CPU are
// the medians of the per-run figures, judged against their targets.
func TestFloorAndCPUTargets(t *testing.T) {
	b := &bench{o: options{stores: []string{"mysql"}, runs: 3}}
	for _, n := range []int{300, 200, 250} {
		b.runs = append(b.runs, runData{variants: []report.Variant{
			{Name: "register-mysql", Levels: []report.Level{level(16, n, nil, map[string]time.Duration{
				"userapi": time.Duration(n) * time.Millisecond, "dtm": time.Duration(n) * 2 * time.Millisecond,
				"bench": time.Second})}},
			{Name: "floor-dtm-mysql", Levels: []report.Level{level(16, 400, nil, map[string]time.Duration{
				"dtm": 400 * 2 * time.Millisecond, "floors": 400 * time.Millisecond / 2})}},
		}})
	}
	doc := b.markdown(machineInfo{})
	// 250/400 is the median ratio, 0.62 below the 0.75 target.
	got := row(t, doc, "register ≥ 0.75 × floor (0), mysql store, C=16")
	require.Contains(t, got, "**0.62 (0.50–0.75)**: register 250 (200–300)/s, floor (0) 400 (400–400)/s")
	require.True(t, strings.HasSuffix(got, "| **no** |"), got)
	// register 3 ms per registration, floor (0) 2.5: 0.5 ms more, within 1.5.
	got = row(t, doc, "CPU per registration ≤ floor (0)'s + 1.5 ms, MySQL store, C=16")
	require.Contains(t, got, "**+0.50 (0.50–0.50) ms**: register 3.00 (3.00–3.00) ms, floor (0) 2.50 (2.50–2.50) ms")
	require.True(t, strings.HasSuffix(got, "| yes |"), got)
	// The split: the gateway is all extra, floors all floor (0)'s.
	require.Contains(t, row(t, doc, "| gateway |"), "| 1.00 (1.00–1.00) | 0.00 (0.00–0.00) | +1.00 (+1.00–+1.00) |")
	require.Contains(t, row(t, doc, "| floors |"), "| 0.00 (0.00–0.00) | 0.50 (0.50–0.50) | -0.50 (-0.50–-0.50) |")
}
