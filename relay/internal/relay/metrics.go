package relay

import (
	"github.com/zeromicro/go-zero/core/metric"
	"github.com/zeromicro/go-zero/core/prometheus"
)

// The relay's Prometheus metrics, on the dev server's /metrics. They are
// process-wide (Prometheus's default registry, as go-zero's own): relays in
// one process add to the same counters. go-zero updates them only once
// metrics are enabled (the dev server does it).
var (
	published = metric.NewCounterVec(&metric.CounterVecOpts{
		Namespace: "relay",
		Subsystem: "outbox",
		Name:      "published_total",
		Help:      "Outbox rows published and recorded so; result enqueued (a new task) or already_queued (its task was still in Redis).",
		Labels:    []string{"kind", "result"},
	})
	republished = metric.NewCounterVec(&metric.CounterVecOpts{
		Namespace: "relay",
		Subsystem: "outbox",
		Name:      "republished_total",
		Help:      "The part of published_total that were publications again of rows not done RepublishAfter after their last one; result enqueued means Redis had lost the task.",
		Labels:    []string{"kind", "result"},
	})
	publishErrors = metric.NewCounterVec(&metric.CounterVecOpts{
		Namespace: "relay",
		Subsystem: "outbox",
		Name:      "publish_errors_total",
		Help:      "Rounds cut short by a failure of MySQL or Redis (the rows not published stay due).",
		Labels:    []string{"dependency"},
	})
	dueRows = metric.NewGaugeVec(&metric.GaugeVecOpts{
		Namespace: "relay",
		Subsystem: "outbox",
		Name:      "due_rows",
		Help:      "Outbox rows not done whose next publication is due, as last counted (every 5 s).",
	})
	undoneRows = metric.NewGaugeVec(&metric.GaugeVecOpts{
		Namespace: "relay",
		Subsystem: "outbox",
		Name:      "undone_rows",
		Help:      "Outbox rows not done yet, published or not, as last counted (every 5 s).",
	})
)

// Labels of the metrics.
const (
	resultEnqueued      = "enqueued"
	resultAlreadyQueued = "already_queued"
	dependencyMySQL     = "mysql"
	dependencyRedis     = "redis"
)

func metricsOn() bool { return prometheus.Enabled() }
