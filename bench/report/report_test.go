package report

import (
	"encoding/xml"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"sagasuite/bench/load"
	"sagasuite/bench/procstat"
)

func level(c, ok, bad int, p time.Duration) Level {
	lat := make([]time.Duration, ok+bad)
	for i := range lat {
		lat[i] = p
	}
	return Level{
		Result: load.Result{Conc: c, Elapsed: time.Second, Lat: lat, OKLat: lat[:ok], Statuses: map[int]int{201: ok, 503: bad}},
		Usage: map[string]procstat.Usage{
			"userapi": {CPU: 500 * time.Millisecond, Cores: 0.5, Peak: procstat.Memory{Anon: 30 * mib, File: 25 * mib}},
		},
	}
}

func variants() []Variant {
	return []Variant{
		{Name: "register-mysql", Title: "t", Levels: []Level{level(1, 50, 0, 20*time.Millisecond), level(4, 150, 0, 30*time.Millisecond), level(16, 200, 3, 150*time.Millisecond)}},
		{Name: "floor-saga-mysql", Title: "t", Levels: []Level{level(1, 60, 0, 15*time.Millisecond), level(4, 180, 0, 25*time.Millisecond)}},
		{Name: "a<b&c", Title: "escaped", Levels: []Level{level(2, 10, 0, time.Millisecond)}},
	}
}

func TestBest(t *testing.T) {
	v := variants()[0]
	if l, _ := v.Best(); l.Conc != 16 {
		t.Fatalf("best %d", l.Conc)
	}
	if l, _ := v.BestWithin(100 * time.Millisecond); l.Conc != 4 {
		t.Fatalf("best within %d", l.Conc)
	}
	if _, ok := (Variant{}).Best(); ok {
		t.Fatal("best of nothing")
	}
}

func TestTable(t *testing.T) {
	tab := Table(variants()[0])
	for _, want := range []string{"| 16 | 200 |", "3 (503: 3)", "gateway", "| 50% · 30 / 25 |"} {
		if !strings.Contains(tab, want) {
			t.Errorf("table lacks %q:\n%s", want, tab)
		}
	}
	if strings.Contains(tab, "shm") {
		t.Errorf("shared memory shown though there is none:\n%s", tab)
	}
}

func TestMemCell(t *testing.T) {
	for _, tc := range []struct {
		m    procstat.Memory
		want string
	}{
		{procstat.Memory{Anon: 14 * mib, File: 31 * mib}, "14 / 31"},
		{procstat.Memory{Anon: 14*mib + 600<<10, File: mib / 4}, "15 / 0"}, // rounded
		{procstat.Memory{Anon: 14 * mib, File: 31 * mib, Shmem: mib / 4}, "14 / 31"},
		{procstat.Memory{Anon: 14 * mib, File: 31 * mib, Shmem: 3 * mib}, "14 / 31 + 3 shm"},
	} {
		if got := memCell(tc.m); got != tc.want {
			t.Errorf("memCell(%+v) = %q, want %q", tc.m, got, tc.want)
		}
	}
}

func TestPeakMemory(t *testing.T) {
	// Each field is its own maximum over every level of every variant:
	// the largest RssAnon and the largest RssFile come from different levels.
	a, b, c := level(1, 1, 0, time.Millisecond), level(4, 1, 0, time.Millisecond), level(16, 1, 0, time.Millisecond)
	a.Usage = map[string]procstat.Usage{"user": {Peak: procstat.Memory{Anon: 40 * mib, File: 10 * mib}}}
	b.Usage = map[string]procstat.Usage{"user": {Peak: procstat.Memory{Anon: 20 * mib, File: 35 * mib}},
		"userapi": {Peak: procstat.Memory{Anon: 99 * mib}}}
	c.Usage = map[string]procstat.Usage{"user": {Peak: procstat.Memory{Anon: 30 * mib, File: 5 * mib, Shmem: mib}}}
	vs := []Variant{{Name: "x", Levels: []Level{a, b}}, {Name: "y", Levels: []Level{c}}}
	want := procstat.Memory{Anon: 40 * mib, File: 35 * mib, Shmem: mib}
	if got := PeakMemory("user", vs...); got != want {
		t.Errorf("PeakMemory(user) = %+v, want %+v", got, want)
	}
	if got := PeakMemory("user", vs[1]); got != c.Usage["user"].Peak {
		t.Errorf("PeakMemory(user, y) = %+v, want %+v", got, c.Usage["user"].Peak)
	}
	if got := PeakMemory("dtm", vs...); got != (procstat.Memory{}) {
		t.Errorf("PeakMemory of a process never measured = %+v", got)
	}
}

func TestSVG(t *testing.T) {
	for _, vs := range [][]Variant{variants(), nil, {{Name: "empty"}}} {
		svg := SVG("title", vs, Targets{RPS: 500, P99: 100 * time.Millisecond})
		dec := xml.NewDecoder(strings.NewReader(svg))
		for {
			if _, err := dec.Token(); err == io.EOF {
				break
			} else if err != nil {
				t.Fatalf("not XML: %v\n%s", err, svg)
			}
		}
		for _, v := range vs {
			if len(v.Levels) > 0 && strings.Count(svg, `data-variant="`+xmlEscape(v.Name)+`"`) != 2 {
				t.Errorf("series %s missing", v.Name)
			}
		}
	}
}

func xmlEscape(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// TestMerge: two levels merged are one level of both: the rate over both
// durations, latencies in order, CPU added, cores weighted by duration,
// peaks the larger, and what only one level read left out.
func TestMerge(t *testing.T) {
	a := Level{
		Result: load.Result{Conc: 16, Elapsed: 2 * time.Second, Lat: []time.Duration{1, 3}, OKLat: []time.Duration{1, 3},
			Statuses: map[int]int{201: 2}},
		Usage: map[string]procstat.Usage{
			"dtm":  {CPU: time.Second, Cores: 0.5, Peak: procstat.Memory{Anon: 10, File: 5}},
			"only": {CPU: time.Second},
		},
		DB: map[string]int64{"Questions": 30, "Only": 1},
	}
	b := Level{
		Result: load.Result{Conc: 16, Elapsed: 6 * time.Second, Lat: []time.Duration{2, 4}, OKLat: []time.Duration{2},
			Statuses: map[int]int{201: 1, 503: 1}, ErrText: "refused"},
		Usage: map[string]procstat.Usage{"dtm": {CPU: 3 * time.Second, Cores: 1.0, Peak: procstat.Memory{Anon: 8, File: 7}}},
		DB:    map[string]int64{"Questions": 15},
	}
	m := Merge(a, b)
	if m.Elapsed != 8*time.Second || m.OK() != 3 || m.Statuses[503] != 1 || m.ErrText != "refused" {
		t.Fatalf("result: %+v", m.Result)
	}
	if !slices.Equal(m.Lat, []time.Duration{1, 2, 3, 4}) || !slices.Equal(m.OKLat, []time.Duration{1, 2, 3}) {
		t.Fatalf("latencies: %v, %v", m.Lat, m.OKLat)
	}
	want := procstat.Usage{CPU: 4 * time.Second, Cores: (0.5*2 + 1.0*6) / 8, Peak: procstat.Memory{Anon: 10, File: 7}}
	if len(m.Usage) != 1 || m.Usage["dtm"] != want {
		t.Fatalf("usage: %+v, want dtm %+v only", m.Usage, want)
	}
	if len(m.DB) != 1 || m.DB["Questions"] != 45 {
		t.Fatalf("counters: %v", m.DB)
	}
	if got := Merge(a, Level{Result: b.Result}); got.Usage != nil || got.DB != nil {
		t.Fatalf("a level without readings merged into one with them: %+v, %v", got.Usage, got.DB)
	}
}
