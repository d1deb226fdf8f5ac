package report

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"sagasuite/bench/load"
	"sagasuite/bench/procstat"
)

func TestStatOf(t *testing.T) {
	s := StatOf([]float64{3, 1, 2})
	require.Equal(t, Stat{Med: 2, Min: 1, Max: 3, N: 3}, s)
	require.Equal(t, "2.00 (1.00–3.00)", s.Format("%.2f"))
	require.Equal(t, 2.5, StatOf([]float64{4, 1, 3, 2}).Med)
	one := StatOf([]float64{math.NaN(), 7})
	require.Equal(t, 1, one.N)
	require.Equal(t, "7", one.Format("%.0f"))
	none := StatOf([]float64{math.NaN()})
	require.Zero(t, none.N)
	require.Equal(t, "–", none.Format("%.0f"))
	require.Equal(t, "1.50 (1.00–2.00)", StatOf([]float64{1e6, 1.5e6, 2e6}).Ms())
}

// runLevel is a level at c of n 2xx answers over d with the given CPU.
func runLevel(c, n int, d time.Duration, cpu map[string]time.Duration) Level {
	r := load.Result{Conc: c, Elapsed: d, Statuses: map[int]int{201: n}}
	for range n {
		r.Lat = append(r.Lat, time.Millisecond)
		r.OKLat = append(r.OKLat, time.Millisecond)
	}
	l := Level{Result: r, Usage: map[string]procstat.Usage{}}
	for k, v := range cpu {
		l.Usage[k] = procstat.Usage{CPU: v}
	}
	return l
}

func TestMedianVariant(t *testing.T) {
	run := func(n16, n64 int) Variant {
		return Variant{Name: "v", Levels: []Level{runLevel(16, n16, time.Second, nil), runLevel(64, n64, time.Second, nil)}}
	}
	m := MedianVariant([]Variant{run(300, 100), run(100, 300), run(200, 200)})
	require.Equal(t, "v", m.Name)
	require.Len(t, m.Levels, 2)
	require.Equal(t, 200.0, m.Levels[0].RPS())
	require.Equal(t, 200.0, m.Levels[1].RPS())
	// A run that did not reach a level is left out of its median.
	short := Variant{Name: "v", Levels: []Level{runLevel(16, 50, time.Second, nil)}}
	m = MedianVariant([]Variant{run(300, 100), short})
	require.Equal(t, 50.0, m.Levels[0].RPS(), "the lower middle of two")
	require.Equal(t, 100.0, m.Levels[1].RPS())
}

func TestCPUPerReq(t *testing.T) {
	l := runLevel(16, 100, time.Second, map[string]time.Duration{
		"userapi": 300 * time.Millisecond, "dtm": 200 * time.Millisecond, "bench": time.Second})
	require.InDelta(t, 5.0, CPUPerReq(l), 1e-9, "the load generator is not counted")
	require.InDelta(t, 3.0, ProcPerReq(l, "userapi"), 1e-9)
	require.Zero(t, ProcPerReq(l, "relay"))
	require.True(t, math.IsNaN(CPUPerReq(runLevel(16, 0, time.Second, nil))))
}
