package procstat

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const mib = 1 << 20

// touch maps n MiB of private anonymous memory and writes one byte in
// every page, so that each page is faulted in and counts in RssAnon. The
// mapping is the test's own, outside Go's heap, whose freed pages the
// runtime reuses while they are still resident.
func touch(t *testing.T, n int) []byte {
	buf, err := syscall.Mmap(-1, 0, n*mib, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
	require.NoError(t, err)
	t.Cleanup(func() { _ = syscall.Munmap(buf) })
	for i := 0; i < len(buf); i += os.Getpagesize() {
		buf[i] = 1
	}
	return buf
}

func TestMemoryGrowsWithTouchedPages(t *testing.T) {
	pid := os.Getpid()
	before, err := ReadMemory(pid)
	require.NoError(t, err)
	// The test binary's own code is mapped from its file.
	require.Positive(t, before.File)

	touch(t, 64)
	after, err := ReadMemory(pid)
	require.NoError(t, err)
	// 64 MiB written is 64 MiB more private memory; a little slack for
	// whatever the runtime returned to the kernel meanwhile.
	require.GreaterOrEqual(t, after.Anon, before.Anon+60*mib, "before %+v, after %+v", before, after)
	// and the file-backed pages did not take the allocation.
	require.Less(t, after.File, before.File+8*mib, "before %+v, after %+v", before, after)
}

func TestMonitorPeakAndCPU(t *testing.T) {
	pid := os.Getpid()
	before, err := ReadMemory(pid)
	require.NoError(t, err)
	var ru0, ru1 syscall.Rusage
	require.NoError(t, syscall.Getrusage(syscall.RUSAGE_SELF, &ru0))
	m := Start([]Target{{Name: "self", PID: pid}, {Name: "gone", PID: 1 << 30}})

	touch(t, 48)
	time.Sleep(3 * SampleEvery) // sampled while held
	// Burn 300 ms of CPU as the kernel counts it for this process.
	for {
		require.NoError(t, syscall.Getrusage(syscall.RUSAGE_SELF, &ru1))
		if cpuOfRusage(ru1)-cpuOfRusage(ru0) >= 300*time.Millisecond {
			break
		}
	}
	usage := m.Stop()
	require.NoError(t, syscall.Getrusage(syscall.RUSAGE_SELF, &ru1))

	require.NotContains(t, usage, "gone")
	u, ok := usage["self"]
	require.True(t, ok)
	require.GreaterOrEqual(t, u.Peak.Anon, before.Anon+44*mib, "before %+v, peak %+v", before, u.Peak)
	require.Positive(t, u.Peak.File)
	// /proc/<pid>/stat counts in ticks of 10 ms; getrusage in µs.
	want := cpuOfRusage(ru1) - cpuOfRusage(ru0)
	require.InDelta(t, want.Seconds(), u.CPU.Seconds(), 0.05, "procstat %v, getrusage %v", u.CPU, want)
	require.Positive(t, u.Cores)
}

func cpuOfRusage(ru syscall.Rusage) time.Duration {
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func TestFind(t *testing.T) {
	exe, err := os.Executable()
	require.NoError(t, err)
	require.Contains(t, FindByExe(exe), os.Getpid())
	require.Empty(t, FindByExe(filepath.Join(t.TempDir(), "no-such-binary")))

	comm := filepath.Base(exe)
	if len(comm) > 15 { // the kernel keeps 15 bytes of a command name
		comm = comm[:15]
	}
	require.Contains(t, FindByName(comm), os.Getpid())
	require.Empty(t, FindByName("no-such-command"))
}
