package proc

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
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
