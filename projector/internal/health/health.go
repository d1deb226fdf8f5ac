// Package health follows whether a dependency of the projector (MySQL,
// Redis) answers, from the outcomes of the calls made to it anyway, and
// says so in the log once per outage: one line when it stops answering,
// one when it answers again. While it is down, the errors every task and
// poll meets are the same news: callers leave them out (Quiet) and they are
// only counted, in the all-clear line.
package health

import (
	"sync/atomic"

	"github.com/zeromicro/go-zero/core/logx"
)

// Dependency is one dependency's state: unknown until a first outcome,
// then up or down.
type Dependency struct {
	name, down string
	state      atomic.Int32
	suppressed atomic.Int64
}

const (
	unknown int32 = iota
	up
	down
)

// New follows the dependency name ("Redis at 127.0.0.1:6379"); downLine
// completes the line logged when it stops answering: what does not happen
// meanwhile and what to do about it.
func New(name, downLine string) *Dependency {
	return &Dependency{name: name, down: downLine}
}

// Report records the outcome of a call to the dependency, logging the
// change when it is one: the first failure after success (or at start),
// the first success after failure.
func (d *Dependency) Report(err error) {
	if err != nil {
		if d.state.Swap(down) != down {
			logx.Errorf("%s is unreachable (%v): %s", d.name, err, d.down)
		}
		return
	}
	if d.state.Swap(up) == down {
		logx.Infof("%s answers again (%d errors left out meanwhile)", d.name, d.suppressed.Swap(0))
	}
}

// Up says whether the last outcome was a success.
func (d *Dependency) Up() bool { return d.state.Load() == up }

// Down says whether the last outcome was a failure.
func (d *Dependency) Down() bool { return d.state.Load() == down }

// Quiet says whether a problem is to be left out, counting it if so: the
// dependency is known to be down, which was said.
func (d *Dependency) Quiet() bool {
	if d.Down() {
		d.suppressed.Add(1)
		return true
	}
	return false
}

// QuietUnlessUp is Quiet for what says nothing useful until the dependency
// is known to be up (asynq's and go-redis's retries at start while Redis
// is down): left out unless up.
func (d *Dependency) QuietUnlessUp() bool {
	if !d.Up() {
		d.suppressed.Add(1)
		return true
	}
	return false
}

// Suppressed is how many problems were left out since the outage began.
func (d *Dependency) Suppressed() int64 { return d.suppressed.Load() }
