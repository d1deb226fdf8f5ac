package report

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// Stat is a figure over the runs of one benchmark: its median and range.
type Stat struct {
	Med, Min, Max float64
	N             int // runs that gave the figure
}

// StatOf is the median (the mean of the two middle values for an even
// count) and range of xs; NaNs (a figure a run could not give) are left
// out, and none at all gives N 0 and NaNs.
func StatOf(xs []float64) Stat {
	var v []float64
	for _, x := range xs {
		if !math.IsNaN(x) {
			v = append(v, x)
		}
	}
	if len(v) == 0 {
		return Stat{Med: math.NaN(), Min: math.NaN(), Max: math.NaN()}
	}
	slices.Sort(v)
	med := v[len(v)/2]
	if len(v)%2 == 0 {
		med = (v[len(v)/2-1] + v[len(v)/2]) / 2
	}
	return Stat{Med: med, Min: v[0], Max: v[len(v)-1], N: len(v)}
}

// Format writes the median, then the range when there was more than one
// run: Format("%.2f") is "0.74 (0.71–0.77)".
func (s Stat) Format(verb string) string {
	if s.N == 0 {
		return "–"
	}
	if s.N == 1 {
		return fmt.Sprintf(verb, s.Med)
	}
	return fmt.Sprintf(verb+" ("+verb+"–"+verb+")", s.Med, s.Min, s.Max)
}

// Ms is a Stat of durations formatted in milliseconds, as Ms formats one.
func (s Stat) Ms() string {
	if s.N == 0 {
		return "–"
	}
	d := func(x float64) string { return Ms(time.Duration(x)) }
	if s.N == 1 {
		return d(s.Med)
	}
	return d(s.Med) + " (" + d(s.Min) + "–" + d(s.Max) + ")"
}

// MedianVariant is the runs of one variant as one: at each concurrency,
// the level of the run whose throughput there is the median (the lower
// middle one for an even count), whole, so that its latencies, CPU and
// memory stay those of one measured level.
func MedianVariant(runs []Variant) Variant {
	if len(runs) == 0 {
		return Variant{}
	}
	out := Variant{Name: runs[0].Name, Title: runs[0].Title}
	for _, l := range runs[0].Levels {
		var at []Level
		for _, v := range runs {
			if x, ok := v.At(l.Conc); ok {
				at = append(at, x)
			}
		}
		slices.SortStableFunc(at, func(a, b Level) int {
			switch {
			case a.RPS() < b.RPS():
				return -1
			case a.RPS() > b.RPS():
				return 1
			}
			return 0
		})
		out.Levels = append(out.Levels, at[(len(at)-1)/2])
	}
	return out
}

// CPUPerReq is every measured process's CPU time but the load
// generator's, per 2xx answer, in ms; NaN without a 2xx answer.
func CPUPerReq(l Level) float64 {
	var total time.Duration
	for key, u := range l.Usage {
		if key != "bench" {
			total += u.CPU
		}
	}
	return perReq(total, l)
}

// ProcPerReq is one process's CPU time per 2xx answer, in ms (0 when it
// was not measured); NaN without a 2xx answer.
func ProcPerReq(l Level, key string) float64 { return perReq(l.Usage[key].CPU, l) }

func perReq(cpu time.Duration, l Level) float64 {
	if l.OK() == 0 {
		return math.NaN()
	}
	return float64(cpu) / float64(time.Millisecond) / float64(l.OK())
}
