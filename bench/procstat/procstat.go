// Package procstat reads a process's CPU time and memory from /proc and
// measures both over an interval.
package procstat

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// userHZ is the unit of the CPU times in /proc/<pid>/stat (USER_HZ, 100 on
// every Linux build that matters).
const userHZ = 100

// CPU returns the user+system CPU time pid has used so far.
func CPU(pid int) (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return parseStat(data)
}

// parseStat reads utime and stime (fields 14 and 15) from a stat line; the
// command name, field 2, may hold spaces and parentheses, so fields are
// counted from its last ')'.
func parseStat(data []byte) (time.Duration, error) {
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0, fmt.Errorf("malformed stat line")
	}
	f := strings.Fields(string(data[i+1:]))
	// f[0] is field 3 (state), so utime (14) is f[11] and stime (15) f[12].
	if len(f) < 13 {
		return 0, fmt.Errorf("short stat line")
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	s, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("malformed stat times")
	}
	return time.Duration(u+s) * time.Second / userHZ, nil
}

// Memory returns VmRSS and VmHWM (peak RSS) of pid in KiB.
func Memory(pid int) (rss, hwm int64, err error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		name, val, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		var dst *int64
		switch name {
		case "VmRSS":
			dst = &rss
		case "VmHWM":
			dst = &hwm
		default:
			continue
		}
		n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(val), " kB"), 10, 64)
		*dst = n
	}
	return rss, hwm, nil
}

// ResetPeak restarts VmHWM of pid at its current RSS (clear_refs 5); it
// needs the rights to ptrace pid, which a parent running as the same user
// has for its children.
func ResetPeak(pid int) error {
	return os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0)
}

// FindByExe returns the pids whose executable is path.
func FindByExe(path string) []int {
	return find(func(pid string) bool {
		exe, err := os.Readlink(filepath.Join("/proc", pid, "exe"))
		return err == nil && strings.TrimSuffix(exe, " (deleted)") == path
	})
}

// FindByName returns the pids whose command name (comm) is name.
func FindByName(name string) []int {
	return find(func(pid string) bool {
		comm, err := os.ReadFile(filepath.Join("/proc", pid, "comm"))
		return err == nil && strings.TrimSpace(string(comm)) == name
	})
}

func find(match func(pid string) bool) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || !match(e.Name()) {
			continue
		}
		pids = append(pids, pid)
	}
	return pids
}

// Usage is what one process used over a measured interval.
type Usage struct {
	CPU time.Duration // user+system CPU time
	// Cores is CPU over the interval's wall time (1.0 = one core busy).
	Cores float64
	// PeakKB is the peak RSS in KiB: VmHWM reset at the start of the
	// interval when Reset, otherwise the largest VmRSS sampled.
	PeakKB int64
	// Sampled says PeakKB is sampled VmRSS, not VmHWM.
	Sampled bool
}

// Target is a process to measure.
type Target struct {
	Name string
	PID  int
	// Reset: the peak can be reset (our own children, ourselves); otherwise
	// VmRSS is sampled.
	Reset bool
}

// Monitor measures a set of processes from Start to Stop.
type Monitor struct {
	targets []Target
	start   time.Time
	cpu0    map[string]time.Duration
	mu      sync.Mutex
	peak    map[string]int64
	stop    chan struct{}
	done    chan struct{}
}

// Start records every target's CPU time and resets or starts sampling its
// peak RSS (every 100 ms).
func Start(targets []Target) *Monitor {
	m := &Monitor{targets: targets, start: time.Now(), cpu0: map[string]time.Duration{},
		peak: map[string]int64{}, stop: make(chan struct{}), done: make(chan struct{})}
	m.targets = slices.Clone(targets)
	for i, t := range m.targets {
		if t.Reset && ResetPeak(t.PID) != nil {
			m.targets[i].Reset = false // fall back to sampling
		}
		m.cpu0[t.Name], _ = CPU(t.PID)
	}
	m.sample()
	go func() {
		defer close(m.done)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-m.stop:
				return
			case <-tick.C:
				m.sample()
			}
		}
	}()
	return m
}

func (m *Monitor) sample() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, t := range m.targets {
		if rss, _, err := Memory(t.PID); err == nil {
			m.peak[t.Name] = max(m.peak[t.Name], rss)
		}
	}
}

// Stop ends the interval and returns each target's usage by name.
func (m *Monitor) Stop() map[string]Usage {
	close(m.stop)
	<-m.done
	m.sample()
	wall := time.Since(m.start)
	out := map[string]Usage{}
	for _, t := range m.targets {
		cpu, err := CPU(t.PID)
		if err != nil {
			continue // the process went away
		}
		u := Usage{CPU: cpu - m.cpu0[t.Name], PeakKB: m.peak[t.Name], Sampled: true}
		u.Cores = u.CPU.Seconds() / wall.Seconds()
		if t.Reset {
			if _, hwm, err := Memory(t.PID); err == nil && hwm > 0 {
				u.PeakKB, u.Sampled = max(hwm, u.PeakKB), false
			}
		}
		out[t.Name] = u
	}
	return out
}
