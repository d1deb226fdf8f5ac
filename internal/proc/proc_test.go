package proc

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestProcLogsPrefixesAndStops(t *testing.T) {
	dir := t.TempDir()
	var echoed bytes.Buffer
	p := &Proc{
		Name: "sh",
		Bin:  "/bin/sh",
		Args: []string{"-c", `echo "one $GREETING"; printf 'two'; exec sleep 30`},
		Env:  []string{"GREETING=hello"},
		Dir:  dir,
		Log:  filepath.Join(dir, "sh.log"),
		Echo: NewStream(&echoed),
	}
	require.NoError(t, p.Start())
	require.Error(t, p.Start(), "a running process cannot be started twice")
	require.Eventually(t, func() bool {
		data, _ := os.ReadFile(p.Log)
		return strings.HasSuffix(string(data), "two")
	}, 5*time.Second, 10*time.Millisecond)

	start := time.Now()
	p.Stop(5 * time.Second)
	require.Less(t, time.Since(start), 4*time.Second, "SIGTERM ends sleep before the grace period")
	require.Nil(t, p.Done())

	logged, err := os.ReadFile(p.Log)
	require.NoError(t, err)
	require.Equal(t, "one hello\ntwo", string(logged))
	require.Equal(t, "[sh] one hello\n[sh] two\n", echoed.String())

	// It can run again, appending to the same log.
	require.NoError(t, p.Start())
	require.Eventually(t, func() bool {
		data, _ := os.ReadFile(p.Log)
		return strings.Count(string(data), "one hello") == 2
	}, 5*time.Second, 10*time.Millisecond)
	p.Kill()
	logged, err = os.ReadFile(p.Log)
	require.NoError(t, err)
	require.Equal(t, 2, strings.Count(string(logged), "one hello"))
}

// events collects what Keep reports, for a test to wait on.
type events struct {
	mu   sync.Mutex
	list []Event
}

func (e *events) add(ev Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.list = append(e.list, ev)
}

func (e *events) of(kind EventKind) []Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []Event
	for _, ev := range e.list {
		if ev.Kind == kind {
			out = append(out, ev)
		}
	}
	return out
}

// keep starts p and runs Keep on it until the test ends; the channel is
// closed when Keep returns.
func keep(t *testing.T, p *Proc, b Backoff, ev *events) (context.CancelFunc, <-chan struct{}) {
	t.Helper()
	require.NoError(t, p.Start())
	ctx, cancel := context.WithCancel(context.Background())
	returned := make(chan struct{})
	go func() { defer close(returned); p.Keep(ctx, b, ev.add) }()
	t.Cleanup(func() {
		cancel()
		<-returned
		p.Kill()
	})
	return cancel, returned
}

func shProc(t *testing.T, script string) *Proc {
	dir := t.TempDir()
	return &Proc{
		Name: "child", Bin: "/bin/sh", Args: []string{"-c", script}, Dir: dir,
		Log: filepath.Join(dir, "child.log"), PidFile: filepath.Join(dir, "run", "child.pid"),
	}
}

// pidInFile reads p's pid file; 0 when there is none.
func pidInFile(p *Proc) int {
	data, err := os.ReadFile(p.PidFile)
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(data)))
	return pid
}

func TestKeepRestartsAChildThatExits(t *testing.T) {
	const ms = time.Millisecond
	for _, tc := range []struct {
		name       string
		script     string
		backoff    Backoff
		crash      func(t *testing.T, p *Proc) // nil: the child exits by itself
		exits      int
		wantExit   string
		wantDelays []time.Duration
	}{
		{"exits at once: doubling delays up to the cap", "exit 3",
			Backoff{First: 10 * ms, Max: 40 * ms, Reset: time.Hour}, nil,
			5, "exit status 3", []time.Duration{10 * ms, 20 * ms, 40 * ms, 40 * ms, 40 * ms}},
		{"killed like a crash, twice in a row: the second waits longer", "exec sleep 60",
			Backoff{First: 10 * ms, Max: time.Second, Reset: time.Hour}, killFromOutside,
			2, "signal: killed", []time.Duration{10 * ms, 20 * ms}},
		{"a child that stayed up past Reset starts over at First", "exec sleep 60",
			Backoff{First: 10 * ms, Max: time.Second, Reset: time.Nanosecond}, killFromOutside,
			3, "signal: killed", []time.Duration{10 * ms, 10 * ms, 10 * ms}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := shProc(t, tc.script)
			ev := &events{}
			keep(t, p, tc.backoff, ev)
			for i := 0; i < tc.exits; i++ {
				pid := p.Pid()
				if tc.crash != nil {
					tc.crash(t, p)
				}
				// Started again: a new pid, and the pid file says so while
				// the child lives (one that exits at once lives too briefly
				// to be seen).
				require.Eventually(t, func() bool {
					return len(ev.of(Restarted)) > i && p.Pid() != pid &&
						(tc.crash == nil || pidInFile(p) == p.Pid())
				}, 10*time.Second, 5*time.Millisecond, "restart %d", i+1)
			}
			exited := ev.of(Exited)[:tc.exits]
			var delays []time.Duration
			for _, e := range exited {
				require.Equal(t, "child", e.Name)
				require.Equal(t, tc.wantExit, describeExit(e.Err))
				delays = append(delays, e.Delay)
			}
			require.Equal(t, tc.wantDelays, delays)
			require.Regexp(t, `^child exited \(`+tc.wantExit+`\) after \S+; restarting in 10ms$`, exited[0].String())
			require.Regexp(t, `^child restarted \(pid \d+\)$`, ev.of(Restarted)[0].String())
			require.Empty(t, ev.of(RestartFailed))
		})
	}
}

// killFromOutside sends SIGKILL to the running child, as `kill -9` would.
func killFromOutside(t *testing.T, p *Proc) {
	t.Helper()
	require.Eventually(t, p.Running, 5*time.Second, 5*time.Millisecond)
	require.NoError(t, syscall.Kill(p.Pid(), syscall.SIGKILL))
}

func TestKeepLeavesAStoppedChildAlone(t *testing.T) {
	for _, tc := range []struct {
		name string
		stop func(p *Proc)
	}{
		{"Stop", func(p *Proc) { p.Stop(5 * time.Second) }},
		{"Kill", func(p *Proc) { p.Kill() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := shProc(t, "exec sleep 60")
			ev := &events{}
			_, returned := keep(t, p, Backoff{First: time.Millisecond}, ev)
			require.Equal(t, p.Pid(), pidInFile(p))
			tc.stop(p)
			select { // Keep notices the owner's stop and ends
			case <-returned:
			case <-time.After(10 * time.Second):
				t.Fatal("Keep did not return after the owner stopped the child")
			}
			require.False(t, p.Running())
			require.Zero(t, pidInFile(p), "the pid file goes with the process")
			require.Empty(t, ev.list, "no exit reported, no restart")
		})
	}
}

func TestKeepEndsWithItsContextAndLeavesTheChildRunning(t *testing.T) {
	p := shProc(t, "exec sleep 60")
	ev := &events{}
	cancel, returned := keep(t, p, Backoff{}, ev)
	cancel()
	select {
	case <-returned:
	case <-time.After(10 * time.Second):
		t.Fatal("Keep did not return when its context ended")
	}
	require.True(t, p.Running(), "stopping is the owner's job")
	p.Kill()
	require.Empty(t, ev.list)
}

func TestKeepRetriesAFailedRestart(t *testing.T) {
	p := shProc(t, "")
	script := []byte("#!/bin/sh\nexec sleep 60\n")
	p.Bin, p.Args = filepath.Join(p.Dir, "child.sh"), nil
	require.NoError(t, os.WriteFile(p.Bin, script, 0o755))
	ev := &events{}
	keep(t, p, Backoff{First: time.Millisecond, Max: 4 * time.Millisecond, Reset: time.Hour}, ev)

	// The binary goes away (a rebuild in progress), then the child dies.
	require.NoError(t, os.Remove(p.Bin))
	killFromOutside(t, p)
	require.Eventually(t, func() bool { return len(ev.of(RestartFailed)) >= 3 }, 10*time.Second, time.Millisecond)
	require.False(t, p.Running())
	require.Zero(t, pidInFile(p))
	failed := ev.of(RestartFailed)
	require.Equal(t, []time.Duration{2 * time.Millisecond, 4 * time.Millisecond, 4 * time.Millisecond},
		[]time.Duration{failed[0].Delay, failed[1].Delay, failed[2].Delay})
	require.ErrorIs(t, failed[0].Err, os.ErrNotExist)
	require.Regexp(t, `^child could not be restarted: .*; trying again in 2ms$`, failed[0].String())

	// Back in place: the next attempt starts it.
	require.NoError(t, os.WriteFile(p.Bin+".new", script, 0o755))
	require.NoError(t, os.Rename(p.Bin+".new", p.Bin))
	require.Eventually(t, func() bool { return len(ev.of(Restarted)) == 1 && p.Running() }, 10*time.Second, time.Millisecond)
	require.Equal(t, p.Pid(), pidInFile(p))
}

// A child whose pid file cannot be written is not left running unannounced.
func TestStartFailsWithoutItsPidFile(t *testing.T) {
	p := shProc(t, "exec sleep 60")
	notADir := filepath.Join(p.Dir, "file")
	require.NoError(t, os.WriteFile(notADir, nil, 0o644))
	p.PidFile = filepath.Join(notADir, "child.pid")
	require.ErrorContains(t, p.Start(), "start child: pid file:")
	require.False(t, p.Running())
	require.Zero(t, p.Pid())
	require.Nil(t, p.Done())
}
