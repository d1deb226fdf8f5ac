package server

import (
	"context"
	"math"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"sagasuite/projector/internal/svc"
)

// LagInterval is how often the lag is read.
const LagInterval = time.Second

// lagTimeout bounds one reading: a MySQL that does not answer within it
// is down for the poller (the next reading tries again).
const lagTimeout = 2 * time.Second

var lagSeconds = prometheus.NewGauge(prometheus.GaugeOpts{
	Namespace: "projector",
	Name:      "lag_seconds",
	Help: "Age of the oldest event row not done yet (by the database's clock), 0 when there is none: how far behind " +
		"its commits the read model is, at most. Read every second; while MySQL does not answer, the last reading.",
})

func init() { prometheus.MustRegister(lagSeconds) }

// lagPoller reads the lag every LagInterval into lagSeconds and its own
// last value, reporting each reading's outcome to the MySQL health (one
// line per outage).
type lagPoller struct {
	svcCtx *svc.ServiceContext
	bits   atomic.Uint64 // math.Float64bits of the last reading, in seconds
}

func (p *lagPoller) run(ctx context.Context) {
	t := time.NewTicker(LagInterval)
	defer t.Stop()
	for {
		p.poll(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (p *lagPoller) poll(ctx context.Context) {
	rctx, cancel := context.WithTimeout(ctx, lagTimeout)
	defer cancel()
	d, err := p.svcCtx.Outbox.Lag(rctx)
	if ctx.Err() != nil {
		return // stopping: not an outage
	}
	mysql := p.svcCtx.MySQL
	if err != nil {
		if !mysql.Quiet() { // a new outage: said once; later ones counted
			mysql.Report(err)
		}
		return
	}
	mysql.Report(nil)
	s := d.Seconds()
	p.bits.Store(math.Float64bits(s))
	lagSeconds.Set(s)
}

func (p *lagPoller) last() time.Duration {
	return time.Duration(math.Float64frombits(p.bits.Load()) * float64(time.Second))
}
