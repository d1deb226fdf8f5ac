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
	// -redis= : whatever REDIS_ADDR says, no read model (TestReadModelFlags has it).
	dbFlags := []string{"-dsn", testdb.DSN(), "-dtm-db", d.Names.DTM, "-user-db", d.Names.User, "-user-score-db", d.Names.UserScore, "-redis="}
	run := func(extra ...string) (int, string, string) {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), append(append([]string{}, dbFlags...), extra...), &stdout, &stderr)
		return code, stdout.String(), stderr.String()
	}

	d.Succeeded(t, checktest.NewID(), time.Now())
	code, out, _ := run()
	require.Equal(t, exitClean, code, out)
	require.Contains(t, out, "OK: every invariant holds (rule 8, the read model's, not checked)")
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

// TestReadModelFlags: with -redis rule 8 is checked against that Redis
// under -read-model-prefix, within -read-model-lag; a Redis given but
// unreachable is an error (exit 2), not a skipped rule.
func TestReadModelFlags(t *testing.T) {
	t.Parallel()
	d := checktest.New(t, "sagacheck")
	st, _, srv := checktest.ReadModel(t)
	dbFlags := []string{"-dsn", testdb.DSN(), "-dtm-db", d.Names.DTM, "-user-db", d.Names.User, "-user-score-db", d.Names.UserScore,
		"-redis", srv.Addr, "-read-model-prefix", checktest.ReadModelPrefix}
	run := func(extra ...string) (int, string, string) {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), append(append([]string{}, dbFlags...), extra...), &stdout, &stderr)
		return code, stdout.String(), stderr.String()
	}
	now := time.Now()
	d.Member(t, checktest.Member{ID: checktest.NewID(), Username: "a", Gender: "f", Score: 1, Created: now, Completed: now.Add(-time.Minute)})
	d.Rebuild(t, st)

	code, out, errOut := run()
	require.Equal(t, exitClean, code, out+errOut)
	require.Contains(t, out, "read model: {rm:} on "+srv.Addr)
	require.Regexp(t, `\n8 +read model matches the write side \(changes older than 10s\) +0\n`, out)
	require.Contains(t, out, "OK: every invariant holds\n")

	// Completed 30 s ago and never projected: within a 1m lag, not 10s.
	late := checktest.NewID()
	d.Member(t, checktest.Member{ID: late, Username: "late", Gender: "f", Score: 1, Created: now, Completed: now.Add(-30 * time.Second)})
	code, out, _ = run("-read-model-lag", "1m")
	require.Equal(t, exitClean, code, out)
	code, out, _ = run()
	require.Equal(t, exitViolation, code, out)
	require.Contains(t, out, late+"  missing from the read model, complete for more than 10s")
	// Another prefix is another, empty, read model.
	code, out, _ = run("-read-model-prefix", "other:", "-read-model-lag", "1m")
	require.Equal(t, exitViolation, code, out)

	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"-redis", "127.0.0.1:1"}, "sagacheck: the read model's Redis at 127.0.0.1:1 (-redis, REDIS_ADDR): dial tcp 127.0.0.1:1: connect: connection refused: rule 8 cannot be checked"},
		{[]string{"-read-model-prefix", "{x}"}, "sagacheck: -read-model-prefix:"},
		{[]string{"-read-model-lag", "0s"}, "-read-model-lag must be positive"},
	} {
		code, out, errOut := run(tc.args...)
		require.Equal(t, exitError, code, "%v: %s", tc.args, out)
		require.Contains(t, errOut, tc.msg, "%v", tc.args)
		require.NotContains(t, out, "OK")
	}
	// Redis going away: the same.
	srv.Stop()
	code, _, errOut = run()
	require.Equal(t, exitError, code)
	require.Contains(t, errOut, "rule 8 cannot be checked")
}
