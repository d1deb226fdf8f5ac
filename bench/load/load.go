// Package load is the benchmark's load generator: closed-loop clients that
// each send one request, wait for its answer and send the next, for a fixed
// duration, recording every latency and status.
package load

import (
	"context"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"
)

// NewRequest builds the request a worker sends next. It is called from
// every worker at once.
type NewRequest func() (*http.Request, error)

// Do sends one request of any kind and waits for its answer. It returns the
// answer's status in HTTP terms (2xx counts as success) and a transport
// error, if any (status 0). It is called from every worker at once.
type Do func(ctx context.Context) (int, error)

// HTTP is the Do that sends the requests next builds through client and
// drains every answer, so that the connection is reused.
func HTTP(client *http.Client, next NewRequest) Do {
	return func(ctx context.Context) (int, error) {
		req, err := next()
		if err != nil {
			return 0, err
		}
		resp, err := client.Do(req.WithContext(ctx))
		if err != nil {
			return 0, err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, nil
	}
}

// Result is what one concurrency level measured.
type Result struct {
	Conc     int
	Elapsed  time.Duration   // from the first request to the last answer
	Lat      []time.Duration // every request's latency, sorted
	OKLat    []time.Duration // the 2xx answers' latencies, sorted
	Statuses map[int]int     // HTTP status → count; 0 counts transport errors
	ErrText  string          // one transport error, for the report
}

// Count is the number of requests answered (any status) or failed.
func (r Result) Count() int { return len(r.Lat) }

// RPS is the rate of 2xx answers per second.
func (r Result) RPS() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.OK()) / r.Elapsed.Seconds()
}

// OK counts the 2xx answers.
func (r Result) OK() int {
	n := 0
	for code, c := range r.Statuses {
		if code >= 200 && code < 300 {
			n += c
		}
	}
	return n
}

// NotOK counts everything that was not a 2xx answer, transport errors included.
func (r Result) NotOK() int { return r.Count() - r.OK() }

// P returns the p-th percentile latency (0 < p ≤ 100) of the 2xx answers
// (a fast 503 from a load shedder must not make a level look faster), or
// of every request when none was 2xx.
func (r Result) P(p float64) time.Duration { return Percentile(r.lat(), p) }

// Max is the slowest 2xx answer (of every request when none was 2xx).
func (r Result) Max() time.Duration {
	l := r.lat()
	if len(l) == 0 {
		return 0
	}
	return l[len(l)-1]
}

func (r Result) lat() []time.Duration {
	if len(r.OKLat) > 0 {
		return r.OKLat
	}
	return r.Lat
}

// Percentile is the nearest-rank percentile of sorted: the smallest value
// such that at least p % of the values are at most it.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	rank := int(float64(n)*p/100 + 0.999999999)
	rank = max(1, min(n, rank))
	return sorted[rank-1]
}

// NewClient is a keep-alive client with enough idle connections for conc
// workers on one host.
func NewClient(conc int) *http.Client {
	t := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        conc * 2,
		MaxIdleConnsPerHost: conc * 2,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	return &http.Client{Transport: t, Timeout: 30 * time.Second}
}

// Run drives conc closed-loop workers for d: each one sends a request,
// waits for the whole answer and sends the next, until d has passed;
// requests under way at the deadline are waited for and counted.
func Run(ctx context.Context, conc int, d time.Duration, do Do) Result {
	var (
		mu       sync.Mutex
		lat      []time.Duration
		okLat    []time.Duration
		statuses = map[int]int{}
		errText  string
		wg       sync.WaitGroup
	)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	start := time.Now()
	deadline := start.Add(d)
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mine := make([]time.Duration, 0, 1024)
			var mineOK []time.Duration
			codes := map[int]int{}
			var firstErr string
			for ctx.Err() == nil && time.Now().Before(deadline) {
				t0 := time.Now()
				code, err := do(ctx)
				took := time.Since(t0)
				mine = append(mine, took)
				if code/100 == 2 {
					mineOK = append(mineOK, took)
				}
				codes[code]++
				if err != nil && firstErr == "" {
					firstErr = err.Error()
				}
			}
			mu.Lock()
			lat = append(lat, mine...)
			okLat = append(okLat, mineOK...)
			for c, k := range codes {
				statuses[c] += k
			}
			if errText == "" {
				errText = firstErr
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	slices.Sort(lat)
	slices.Sort(okLat)
	return Result{Conc: conc, Elapsed: elapsed, Lat: lat, OKLat: okLat, Statuses: statuses, ErrText: errText}
}

// Sweep decides which concurrency levels run: every level up to always
// runs; past it, the next level runs only while the last one raised the
// best throughput seen before it by more than gain (0.05 = 5 %).
type Sweep struct {
	Levels []int
	Always int
	Gain   float64
}

// Continue says whether the level after the measured rates (one per level
// run so far, in order) should run.
func (s Sweep) Continue(rates []float64) bool {
	i := len(rates)
	if i >= len(s.Levels) {
		return false
	}
	if s.Levels[i] <= s.Always || i < 2 {
		return true
	}
	best := 0.0
	for _, r := range rates[:i-1] {
		best = max(best, r)
	}
	return rates[i-1] > best*(1+s.Gain)
}
