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

// TestMemoryTarget checks that the memory target is judged on private
// memory (RssAnon) only, and that file-backed pages are shown beside it.
func TestMemoryTarget(t *testing.T) {
	const mib = 1 << 20
	level := func(c int, mem map[string]procstat.Memory) report.Level {
		lat := []time.Duration{time.Millisecond}
		l := report.Level{Result: load.Result{Conc: c, Elapsed: time.Second, Lat: lat, OKLat: lat, Statuses: map[int]int{201: 1}},
			Usage: map[string]procstat.Usage{}}
		for name, m := range mem {
			l.Usage[name] = procstat.Usage{Peak: m}
		}
		return l
	}
	row := func(userAnon uint64) string {
		b := &bench{o: options{stores: []string{"mysql"}, sweep: load.Sweep{Levels: []int{1, 4}}}}
		b.results = []report.Variant{{Name: "register-mysql", Title: "t", Levels: []report.Level{
			level(1, map[string]procstat.Memory{
				"userapi": {Anon: 20 * mib, File: 70 * mib}, "user": {Anon: 10 * mib, File: 80 * mib},
				"user-score": {Anon: 12 * mib, File: 75 * mib}}),
			level(4, map[string]procstat.Memory{
				"userapi": {Anon: 22 * mib, File: 60 * mib}, "user": {Anon: userAnon, File: 40 * mib},
				"user-score": {Anon: 11 * mib, File: 90 * mib}}),
		}}}
		for _, line := range strings.Split(b.markdown(machineInfo{}), "\n") {
			if strings.Contains(line, "RssAnon) ≤ 60 MB") {
				return line
			}
		}
		t.Fatal("no memory target row")
		return ""
	}

	// File-backed pages far above 60 MB do not fail the target.
	got := row(15 * mib)
	require.Contains(t, got, "| gateway 22 MB (RssFile 70 MB), user 15 MB (RssFile 80 MB), user-score 12 MB (RssFile 90 MB) |")
	require.True(t, strings.HasSuffix(got, "| yes |"), got)

	// Exactly 60 MB is met; a byte of private memory more is not.
	require.True(t, strings.HasSuffix(row(60*mib), "| yes |"))
	require.True(t, strings.HasSuffix(row(60*mib+1), "| **no** |"))
}
