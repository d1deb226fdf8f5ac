package main

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"sagasuite/deploy/sagacheck/checktest"
	"sagasuite/internal/register"
	"sagasuite/internal/testdb"
)

// TestCommand: the dry run lists and deletes nothing, the real run deletes
// and says so, and bad settings or an unreachable server exit 2.
func TestCommand(t *testing.T) {
	t.Parallel()
	d := checktest.New(t, "retention")
	old := checktest.NewID()
	d.Succeeded(t, old, time.Now().Add(-10*24*time.Hour))
	d.Succeeded(t, checktest.NewID(), time.Now())
	dbFlags := []string{"-dsn", testdb.DSN(), "-dtm-db", d.Names.DTM, "-user-db", d.Names.User, "-user-score-db", d.Names.UserScore}
	run := func(extra ...string) (int, string, string) {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), append(append([]string{}, dbFlags...), extra...), &stdout, &stderr)
		return code, stdout.String(), stderr.String()
	}
	barrierRows := func() int { return d.Count(t, d.Sources.User, "SELECT COUNT(*) FROM barrier") }

	code, out, stderr := run("-dry-run", "-sagas")
	t.Log("\n" + out)
	require.Equal(t, 0, code, stderr)
	require.Contains(t, out, "DRY RUN")
	require.Regexp(t, `barrier rows in user +would delete 1\n`, out)
	require.Regexp(t, `trans_global rows +would delete 1\n`, out)
	require.Contains(t, out, "sagas:\n  "+register.Gid(old)+"\n")
	require.Equal(t, 2, barrierRows())

	code, out, stderr = run("-older-than", "48h")
	t.Log("\n" + out)
	require.Equal(t, 0, code, stderr)
	require.Regexp(t, `barrier rows in user +deleted 1\n`, out)
	require.Contains(t, out, "kept (-sagas deletes it)")
	require.Equal(t, 1, barrierRows())
	require.Equal(t, 2, d.Count(t, d.DTM, "SELECT COUNT(*) FROM trans_global"))

	for _, args := range [][]string{
		{"-older-than", "59m"},
		{"-batch", "0"},
		{"-dsn", "root:@tcp(127.0.0.1:1)/"},
		{"-dtm-db", d.Names.DTM + "_missing"},
	} {
		code, _, stderr := run(args...)
		require.Equal(t, 2, code, "%v", args)
		require.NotEmpty(t, stderr)
	}
}
