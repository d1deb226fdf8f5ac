package load

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

func TestPercentile(t *testing.T) {
	var lat []time.Duration
	for i := 1; i <= 100; i++ {
		lat = append(lat, ms(i))
	}
	for _, c := range []struct {
		p    float64
		want time.Duration
	}{{50, ms(50)}, {95, ms(95)}, {99, ms(99)}, {99.9, ms(100)}, {100, ms(100)}, {0.1, ms(1)}} {
		if got := Percentile(lat, c.p); got != c.want {
			t.Errorf("p%v = %v, want %v", c.p, got, c.want)
		}
	}
	if got := Percentile(nil, 99); got != 0 {
		t.Errorf("empty: %v", got)
	}
	if got := Percentile([]time.Duration{ms(7)}, 50); got != ms(7) {
		t.Errorf("single: %v", got)
	}
}

func TestSweepContinue(t *testing.T) {
	s := Sweep{Levels: []int{1, 4, 16, 64, 128, 256}, Always: 64, Gain: 0.05}
	for _, c := range []struct {
		rates []float64
		want  bool
	}{
		{nil, true},
		{[]float64{10}, true},
		{[]float64{10, 5, 3}, true},              // 64 ≤ Always: runs even after a drop
		{[]float64{10, 40, 100, 200}, true},      // 200 > 1.05 × 100: 128 runs
		{[]float64{10, 40, 100, 104}, false},     // +4 %: stop
		{[]float64{10, 40, 300, 200}, false},     // fell
		{[]float64{10, 40, 100, 200, 211}, true}, // +5.5 % over the best before
		{[]float64{10, 40, 100, 200, 210}, false},
		{[]float64{1, 2, 3, 4, 5, 6}, false}, // no level left
	} {
		if got := s.Continue(c.rates); got != c.want {
			t.Errorf("Continue(%v) = %v, want %v", c.rates, got, c.want)
		}
	}
}

func TestRunCountsStatusesAndLatencies(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(2 * time.Millisecond)
		if n.Add(1)%5 == 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusCreated)
	}))
	defer srv.Close()
	client := NewClient(4)
	r := Run(context.Background(), 4, 200*time.Millisecond, HTTP(client, func() (*http.Request, error) {
		return http.NewRequest(http.MethodPost, srv.URL, strings.NewReader("{}"))
	}))
	if r.Count() == 0 || int64(r.Count()) != n.Load() {
		t.Fatalf("count %d, server saw %d", r.Count(), n.Load())
	}
	if r.OK()+r.NotOK() != r.Count() || r.Statuses[503] != r.NotOK() || r.Statuses[201] != r.OK() {
		t.Fatalf("statuses %v", r.Statuses)
	}
	if len(r.OKLat) != r.OK() {
		t.Fatalf("%d 2xx latencies for %d 2xx answers", len(r.OKLat), r.OK())
	}
	if r.P(50) < 2*time.Millisecond || r.Max() < r.P(99) || r.RPS() <= 0 {
		t.Fatalf("p50 %v p99 %v max %v rps %v", r.P(50), r.P(99), r.Max(), r.RPS())
	}
	if r.Elapsed < 200*time.Millisecond {
		t.Fatalf("elapsed %v", r.Elapsed)
	}
}
