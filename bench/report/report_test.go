package report

import (
	"encoding/xml"
	"io"
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
		Usage:  map[string]procstat.Usage{"userapi": {CPU: 500 * time.Millisecond, Cores: 0.5, PeakKB: 30 * 1024}},
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
	for _, want := range []string{"| 16 | 200 |", "3 (503: 3)", "gateway", "50% · 30"} {
		if !strings.Contains(tab, want) {
			t.Errorf("table lacks %q:\n%s", want, tab)
		}
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
