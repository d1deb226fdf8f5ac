// Package procstat measures processes' CPU time and resident memory over an
// interval, read from /proc through prometheus/procfs.
//
// Memory is reported as the kernel splits it, not as one RSS: RssAnon is
// the process's private memory (heap, stacks), what it costs the machine;
// RssFile is pages of mapped files (the executable, libraries), which stay
// in the page cache, are shared with every other process mapping the same
// file, and which the kernel drops and reads back as it needs. One RSS
// figure mixes the two, and a program can lower it without using less
// memory by unmapping its own executable.
package procstat

import (
	"strings"
	"sync"
	"time"

	"github.com/prometheus/procfs"
)

// CPU returns the user+system CPU time pid has used so far.
func CPU(pid int) (time.Duration, error) {
	p, err := procfs.NewProc(pid)
	if err != nil {
		return 0, err
	}
	return cpuOf(p)
}

func cpuOf(p procfs.Proc) (time.Duration, error) {
	st, err := p.Stat()
	if err != nil {
		return 0, err
	}
	return time.Duration(st.CPUTime() * float64(time.Second)), nil
}

// Memory is what a process holds resident, in bytes, as /proc/<pid>/status
// splits it (VmRSS is the sum of the three).
type Memory struct {
	Anon  uint64 // RssAnon: private memory
	File  uint64 // RssFile: resident pages of mapped files
	Shmem uint64 // RssShmem: shared memory (System V, tmpfs, shared anonymous)
}

// Max is the field-by-field maximum of m and o.
func (m Memory) Max(o Memory) Memory {
	return Memory{Anon: max(m.Anon, o.Anon), File: max(m.File, o.File), Shmem: max(m.Shmem, o.Shmem)}
}

// ReadMemory returns pid's resident memory now.
func ReadMemory(pid int) (Memory, error) {
	p, err := procfs.NewProc(pid)
	if err != nil {
		return Memory{}, err
	}
	return memoryOf(p)
}

func memoryOf(p procfs.Proc) (Memory, error) {
	s, err := p.NewStatus()
	if err != nil {
		return Memory{}, err
	}
	return Memory{Anon: s.RssAnon, File: s.RssFile, Shmem: s.RssShmem}, nil
}

// FindByExe returns the pids whose executable is path (also when the file
// has been replaced or removed since the process started).
func FindByExe(path string) []int {
	return find(func(p procfs.Proc) bool {
		exe, err := p.Executable()
		return err == nil && strings.TrimSuffix(exe, " (deleted)") == path
	})
}

// FindByName returns the pids whose command name (comm) is name.
func FindByName(name string) []int {
	return find(func(p procfs.Proc) bool {
		comm, err := p.Comm()
		return err == nil && comm == name
	})
}

func find(match func(procfs.Proc) bool) []int {
	procs, _ := procfs.AllProcs()
	var pids []int
	for _, p := range procs {
		if match(p) {
			pids = append(pids, p.PID)
		}
	}
	return pids
}

// Usage is what one process used over a measured interval.
type Usage struct {
	CPU time.Duration // user+system CPU time
	// Cores is CPU over the interval's wall time (1.0 = one core busy).
	Cores float64
	// Peak holds, field by field, the largest value sampled (every
	// SampleEvery and at both ends): the kernel keeps a peak of the total
	// RSS only (VmHWM), none of RssAnon or RssFile. The fields need not
	// come from the same sample, and a rise and fall between two samples
	// is missed.
	Peak Memory
}

// SampleEvery is how often a Monitor reads every target's memory.
const SampleEvery = 100 * time.Millisecond

// Target is a process to measure.
type Target struct {
	Name string
	PID  int
}

// Monitor measures a set of processes from Start to Stop.
type Monitor struct {
	procs map[string]procfs.Proc
	start time.Time
	cpu0  map[string]time.Duration
	mu    sync.Mutex
	peak  map[string]Memory
	stop  chan struct{}
	done  chan struct{}
}

// Start records every target's CPU time and starts sampling its memory.
// A target whose process does not exist is left out of Stop's result.
func Start(targets []Target) *Monitor {
	m := &Monitor{procs: map[string]procfs.Proc{}, start: time.Now(), cpu0: map[string]time.Duration{},
		peak: map[string]Memory{}, stop: make(chan struct{}), done: make(chan struct{})}
	for _, t := range targets {
		p, err := procfs.NewProc(t.PID)
		if err != nil {
			continue
		}
		m.procs[t.Name] = p
		m.cpu0[t.Name], _ = cpuOf(p)
	}
	m.sample()
	go func() {
		defer close(m.done)
		tick := time.NewTicker(SampleEvery)
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
	for name, p := range m.procs {
		if mem, err := memoryOf(p); err == nil {
			m.peak[name] = m.peak[name].Max(mem)
		}
	}
}

// Stop ends the interval and returns each target's usage by name; a target
// whose process went away is left out.
func (m *Monitor) Stop() map[string]Usage {
	close(m.stop)
	<-m.done
	m.sample()
	wall := time.Since(m.start)
	out := map[string]Usage{}
	for name, p := range m.procs {
		cpu, err := cpuOf(p)
		if err != nil {
			continue
		}
		u := Usage{CPU: cpu - m.cpu0[name], Peak: m.peak[name]}
		u.Cores = u.CPU.Seconds() / wall.Seconds()
		out[name] = u
	}
	return out
}
