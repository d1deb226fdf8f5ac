package main

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"sagasuite/internal/httpget"
)

// heapReading is a process's Go runtime memory (runtime.MemStats, from
// its dev server's /debug/pprof/heap?debug=1) right after the levels in
// which its RssAnon peaks: what its private memory is made of.
type heapReading struct {
	name, after string
	stats       map[string]uint64
}

var (
	memStatLine = regexp.MustCompile(`(?m)^# (\w+) = (\d+)$`)
	stackLine   = regexp.MustCompile(`(?m)^# Stack = (\d+) / \d+$`) // in use / from the OS
)

// readHeap reads name's MemStats.
func (b *bench) readHeap(ctx context.Context, name, after string) {
	data, err := httpget.Get(ctx, b.s.DevURL(name)+"/debug/pprof/heap?debug=1", 10*time.Second, 64<<20)
	if err != nil {
		b.notes = append(b.notes, fmt.Sprintf("heap of %s: %v", name, err))
		return
	}
	h := heapReading{name: name, after: after, stats: map[string]uint64{}}
	for _, m := range memStatLine.FindAllStringSubmatch(string(data), -1) {
		if v, err := strconv.ParseUint(m[2], 10, 64); err == nil {
			h.stats[m[1]] = v
		}
	}
	if m := stackLine.FindStringSubmatch(string(data)); m != nil {
		h.stats["StackInuse"], _ = strconv.ParseUint(m[1], 10, 64)
	}
	if _, ok := h.stats["HeapInuse"]; !ok {
		b.notes = append(b.notes, fmt.Sprintf("heap of %s: no MemStats in its answer", name))
		return
	}
	b.heaps = append(b.heaps, h)
	fmt.Printf("  %s\n", h)
}

// String says it in MB: the heap the last collection found live (half
// of NextGC at GOGC=100), the heap in use, what the runtime holds and has
// not returned to the kernel, and the goroutine stacks.
func (h heapReading) String() string {
	mb := func(v uint64) string { return fmt.Sprintf("%.1f MB", float64(v)/(1<<20)) }
	parts := []string{
		"live after the last GC ≈ " + mb(h.stats["NextGC"]/2) + " (NextGC " + mb(h.stats["NextGC"]) + ")",
		"heap in use " + mb(h.stats["HeapInuse"]),
		"heap held and not returned to the kernel " + mb(h.stats["HeapSys"]-h.stats["HeapReleased"]),
		"goroutine stacks " + mb(h.stats["StackInuse"]),
		"the runtime's total from the OS " + mb(h.stats["Sys"]),
		fmt.Sprintf("%d collections so far", h.stats["NumGC"]),
	}
	return fmt.Sprintf("%s after %s: %s", h.name, h.after, strings.Join(parts, ", "))
}
