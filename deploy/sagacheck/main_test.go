package main

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"sagasuite/deploy/sagacheck/checktest"
	"sagasuite/internal/testdb"
)

// TestExitStatus: 0 when clean, 1 on a violation, 2 when the check cannot
// run, which is what a cron job or CI step looks at.
func TestExitStatus(t *testing.T) {
	t.Parallel()
	d := checktest.New(t, "sagacheck")
	dbFlags := []string{"-dsn", testdb.DSN(), "-dtm-db", d.Names.DTM, "-user-db", d.Names.User, "-user-score-db", d.Names.UserScore}
	run := func(extra ...string) (int, string, string) {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), append(append([]string{}, dbFlags...), extra...), &stdout, &stderr)
		return code, stdout.String(), stderr.String()
	}

	d.Succeeded(t, checktest.NewID(), time.Now())
	code, out, _ := run()
	require.Equal(t, exitClean, code, out)
	require.Contains(t, out, "OK: every invariant holds")
	require.Contains(t, out, "databases: dtm "+d.Names.DTM)

	orphan := checktest.NewID()
	d.User(t, orphan)
	code, out, _ = run("-max-unfinished-age", "1h")
	t.Log("\n" + out)
	require.Equal(t, exitViolation, code, out)
	require.Contains(t, out, orphan+"  user row, no score row; no saga")
	require.Contains(t, out, "no saga unfinished for longer than 1h0m0s")

	for _, args := range [][]string{
		{"-dsn", "root:@tcp(127.0.0.1:1)/"}, // nothing listens there
		{"-user-db", d.Names.User + "_missing"},
		{"-max-unfinished-age", "0s"},
		{"-no-such-flag"},
	} {
		code, _, stderr := run(args...)
		require.Equal(t, exitError, code, "%v: %s", args, stderr)
		require.NotEmpty(t, stderr)
	}
}
