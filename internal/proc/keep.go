package proc

import (
	"context"
	"fmt"
	"time"
)

// Backoff paces Keep's restarts: a child that keeps dying right after its
// start must not spin the machine, and one that crashed after running for a
// long time should be back at once. The zero value means the defaults.
type Backoff struct {
	// First is the wait before the first restart (default 500 ms); each
	// further restart waits twice as long as the one before.
	First time.Duration
	// Max caps the wait (default 10 s).
	Max time.Duration
	// Reset: a child that stayed up at least this long before it exited
	// is restarted after First again (default 30 s).
	Reset time.Duration
}

func (b Backoff) withDefaults() Backoff {
	if b.First <= 0 {
		b.First = 500 * time.Millisecond
	}
	if b.Max <= 0 {
		b.Max = 10 * time.Second
	}
	if b.Max < b.First {
		b.Max = b.First
	}
	if b.Reset <= 0 {
		b.Reset = 30 * time.Second
	}
	return b
}

// EventKind says what an Event reports.
type EventKind int

// The events of Keep, in the order they happen for one exit.
const (
	// Exited: the child exited on its own; Keep restarts it after Delay.
	Exited EventKind = iota
	// Restarted: the child runs again, as Pid.
	Restarted
	// RestartFailed: Start failed (Err); Keep tries again after Delay.
	RestartFailed
)

// Event is one thing Keep saw or did, handed to its caller as it happens so
// that the caller can log it in its own voice; String is a ready line.
type Event struct {
	Kind EventKind
	Name string
	// Err is the exit status for Exited (nil: status 0), Start's error for
	// RestartFailed.
	Err error
	// Uptime is how long the child ran before it exited (Exited).
	Uptime time.Duration
	// Delay is the wait before the next start (Exited, RestartFailed).
	Delay time.Duration
	// Pid is the new process (Restarted).
	Pid int
}

// String is one line, e.g. "user-score exited (signal: killed) after 2m3s;
// restarting in 500ms".
func (e Event) String() string {
	switch e.Kind {
	case Exited:
		return fmt.Sprintf("%s exited (%s) after %s; restarting in %s",
			e.Name, describeExit(e.Err), e.Uptime.Round(100*time.Millisecond), e.Delay)
	case Restarted:
		return fmt.Sprintf("%s restarted (pid %d)", e.Name, e.Pid)
	default:
		return fmt.Sprintf("%s could not be restarted: %v; trying again in %s", e.Name, e.Err, e.Delay)
	}
}

// Keep restarts p each time it exits on its own, waiting as b says, and
// reports every exit and restart to report (called from Keep's goroutine).
// It watches the process its owner started; it returns when ctx ends (the
// process is left as it is, for the owner to stop) or when the owner
// stopped the process itself with Stop or Kill, which Keep never undoes.
// Call it after Start, at most once at a time per Proc.
func (p *Proc) Keep(ctx context.Context, b Backoff, report func(Event)) {
	b = b.withDefaults()
	delay := b.First
	for {
		r := p.current()
		if r == nil {
			return // never started, or stopped by its owner
		}
		select {
		case <-ctx.Done():
			return
		case <-r.done:
		}
		uptime := time.Since(r.started)
		if uptime >= b.Reset {
			delay = b.First
		}
		if p.current() != r {
			continue // stopped (the loop returns) or restarted by its owner
		}
		report(Event{Kind: Exited, Name: p.Name, Err: r.err, Uptime: uptime, Delay: delay})
		for {
			select {
			case <-ctx.Done():
				return
			case <-time.After(delay):
			}
			next := min(2*delay, b.Max)
			started, err := p.restart(r)
			if err != nil {
				delay = next
				report(Event{Kind: RestartFailed, Name: p.Name, Err: err, Delay: delay})
				continue
			}
			if started {
				report(Event{Kind: Restarted, Name: p.Name, Pid: p.Pid()})
				delay = next
			}
			break // a new run to watch, or the owner took over
		}
	}
}

// current is the latest run, nil after Stop or Kill.
func (p *Proc) current() *run {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cur
}

// restart starts the process again only if prev, the run that exited, is
// still the latest: not when its owner stopped it or started it anew
// meanwhile.
func (p *Proc) restart(prev *run) (bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cur != prev {
		return false, nil
	}
	return true, p.startLocked()
}
