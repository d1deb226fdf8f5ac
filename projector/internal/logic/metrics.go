package logic

import (
	"github.com/prometheus/client_golang/prometheus"

	"sagasuite/internal/outbox"
)

// The projector's task metrics, on the dev server's /metrics
// (Prometheus's default registry, where go-zero's own metrics are too).
// They are counted whether or not a dev server serves them: unlike
// go-zero's metric package, client_golang has no switch to forget.
var (
	eventsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "projector",
		Name:      "events_total",
		Help: "Event tasks worked, by task kind and outcome: applied (the read model changed), duplicate (it had the event " +
			"already), done (the row was done), gone (no row: the registration was compensated), invalid (the row's payload " +
			"holds no event; marked done so), rejected (not a task the relay publishes here; not retried), error (MySQL or " +
			"Redis failed; retried).",
	}, []string{"kind", "outcome"})
	applyDelay = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: "projector",
		Name:      "apply_delay_seconds",
		Help: "From an event row's commit (its created_at, by the database's clock) to the first application of its " +
			"event to the read model.",
		Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300},
	})
)

func init() {
	prometheus.MustRegister(eventsTotal, applyDelay)
	// Every series from the start, so that a rate over a fresh process is
	// not missing its first increments.
	for _, k := range outbox.EventKinds {
		for _, o := range []Outcome{Applied, Duplicate, AlreadyDone, Gone, Invalid, Rejected, Failed} {
			eventsTotal.WithLabelValues(k, string(o))
		}
	}
}
