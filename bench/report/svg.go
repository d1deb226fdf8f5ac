package report

import (
	"fmt"
	"html"
	"math"
	"strings"
	"time"
)

// palette holds one colour per variant, in order.
var palette = []string{"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf", "#7f7f7f"}

// Lines of the plot that are targets, not measurements.
type Targets struct {
	RPS float64       // a horizontal line on the throughput panel (0: none)
	P99 time.Duration // a horizontal line on the p99 panel (0: none)
}

// panel geometry
const (
	panelW, panelH = 420.0, 300.0
	marginL        = 70.0
	marginT        = 50.0
	gap            = 110.0
	legendH        = 24.0
)

// SVG draws throughput and p99 against concurrency, one line per variant,
// on a log2 concurrency axis; throughput is linear, p99 logarithmic.
func SVG(title string, vs []Variant, t Targets) string {
	minC, maxC := math.Inf(1), math.Inf(-1)
	maxRPS := t.RPS
	minP, maxP := math.Inf(1), math.Inf(-1)
	if t.P99 > 0 {
		minP, maxP = msOf(t.P99), msOf(t.P99)
	}
	for _, v := range vs {
		for _, l := range v.Levels {
			c := float64(l.Conc)
			minC, maxC = math.Min(minC, c), math.Max(maxC, c)
			maxRPS = math.Max(maxRPS, l.RPS())
			if p := msOf(l.P(99)); p > 0 {
				minP, maxP = math.Min(minP, p), math.Max(maxP, p)
			}
		}
	}
	if math.IsInf(minC, 1) {
		minC, maxC = 1, 2
	}
	if minC == maxC {
		maxC = minC * 2
	}
	if math.IsInf(minP, 1) {
		minP, maxP = 1, 10
	}
	lx0, lx1 := math.Log2(minC), math.Log2(maxC)
	rpsTop := niceCeil(maxRPS * 1.05)
	if rpsTop <= 0 {
		rpsTop = 1
	}
	pLo := math.Pow(10, math.Floor(math.Log10(minP)))
	pHi := math.Pow(10, math.Ceil(math.Log10(maxP)))
	if pHi <= pLo {
		pHi = pLo * 10
	}

	rows := (len(vs) + 2) / 3
	width := marginL + panelW + gap + panelW + 30
	height := marginT + panelH + 60 + legendH*float64(rows) + 10
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f" font-family="sans-serif" font-size="12">`+"\n",
		width, height, width, height)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="%.0f" y="22" font-size="15" font-weight="bold">%s</text>`+"\n", marginL, html.EscapeString(title))

	xAt := func(x0 float64) func(float64) float64 {
		return func(c float64) float64 { return x0 + (math.Log2(c)-lx0)/(lx1-lx0)*panelW }
	}
	// Left panel: throughput.
	x0 := marginL
	xr := xAt(x0)
	yr := func(v float64) float64 { return marginT + panelH - v/rpsTop*panelH }
	frame(&b, x0, "throughput (2xx answers/s)", "concurrent clients (log2)")
	for i := 0; i <= 5; i++ {
		v := rpsTop * float64(i) / 5
		y := yr(v)
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#ddd"/>`+"\n", x0, y, x0+panelW, y)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="end">%s</text>`+"\n", x0-6, y+4, num(v))
	}
	xTicks(&b, xr, minC, maxC)
	if t.RPS > 0 {
		targetLine(&b, x0, yr(t.RPS), fmt.Sprintf("target %s/s", num(t.RPS)))
	}
	// Right panel: p99, log scale.
	x1 := marginL + panelW + gap
	xp := xAt(x1)
	yp := func(ms float64) float64 {
		return marginT + panelH - (math.Log10(ms)-math.Log10(pLo))/(math.Log10(pHi)-math.Log10(pLo))*panelH
	}
	frame(&b, x1, "p99 latency (ms, log)", "concurrent clients (log2)")
	for dec := pLo; dec <= pHi*1.0001; dec *= 10 {
		for _, m := range []float64{1, 2, 5} {
			v := dec * m
			if v > pHi*1.0001 {
				break
			}
			y := yp(v)
			fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#ddd"/>`+"\n", x1, y, x1+panelW, y)
			fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="end">%s</text>`+"\n", x1-6, y+4, num(v))
		}
	}
	xTicks(&b, xp, minC, maxC)
	if t.P99 > 0 {
		targetLine(&b, x1, yp(msOf(t.P99)), fmt.Sprintf("target %s ms", num(msOf(t.P99))))
	}

	for i, v := range vs {
		color := palette[i%len(palette)]
		var thr, lat []string
		for _, l := range v.Levels {
			c := float64(l.Conc)
			thr = append(thr, fmt.Sprintf("%.1f,%.1f", xr(c), yr(l.RPS())))
			if p := msOf(l.P(99)); p > 0 {
				lat = append(lat, fmt.Sprintf("%.1f,%.1f", xp(c), yp(p)))
			}
		}
		series(&b, v.Name, color, thr)
		series(&b, v.Name, color, lat)
		// legend
		lx := marginL + float64(i%3)*((panelW*2+gap)/3)
		ly := marginT + panelH + 55 + legendH*float64(i/3)
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="2.5"/>`+"\n", lx, ly-4, lx+24, ly-4, color)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f">%s</text>`+"\n", lx+30, ly, html.EscapeString(v.Name))
	}
	b.WriteString("</svg>\n")
	return b.String()
}

func frame(b *strings.Builder, x0 float64, yLabel, xLabel string) {
	fmt.Fprintf(b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="none" stroke="#333"/>`+"\n", x0, marginT, panelW, panelH)
	fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="middle" transform="rotate(-90 %.1f %.1f)">%s</text>`+"\n",
		x0-50, marginT+panelH/2, x0-50, marginT+panelH/2, html.EscapeString(yLabel))
	fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`+"\n", x0+panelW/2, marginT+panelH+36, html.EscapeString(xLabel))
}

func xTicks(b *strings.Builder, x func(float64) float64, minC, maxC float64) {
	for c := math.Pow(2, math.Floor(math.Log2(minC))); c <= maxC*1.0001; c *= 2 {
		if c < minC*0.9999 {
			continue
		}
		px := x(c)
		fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#eee"/>`+"\n", px, marginT, px, marginT+panelH)
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`+"\n", px, marginT+panelH+16, num(c))
	}
}

func targetLine(b *strings.Builder, x0, y float64, label string) {
	fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#555" stroke-dasharray="6 4"/>`+"\n", x0, y, x0+panelW, y)
	fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="end" fill="#555">%s</text>`+"\n", x0+panelW-4, y-4, html.EscapeString(label))
}

func series(b *strings.Builder, name, color string, pts []string) {
	if len(pts) == 0 {
		return
	}
	fmt.Fprintf(b, `<polyline class="series" data-variant="%s" fill="none" stroke="%s" stroke-width="2.5" points="%s"/>`+"\n",
		html.EscapeString(name), color, strings.Join(pts, " "))
	for _, p := range pts {
		x, y, _ := strings.Cut(p, ",")
		fmt.Fprintf(b, `<circle cx="%s" cy="%s" r="3.5" fill="%s"/>`+"\n", x, y, color)
	}
}

func msOf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// niceCeil rounds v up to 1, 2, 2.5 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 0
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

func num(v float64) string {
	if v == math.Trunc(v) {
		return fmt.Sprintf("%.0f", v)
	}
	if v < 1 {
		return fmt.Sprintf("%.2g", v)
	}
	return fmt.Sprintf("%.1f", v)
}
