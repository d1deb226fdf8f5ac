package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/zeromicro/go-zero/core/conf"
)

// TestRejectScore: the shipped config rejects 10; without the key the rule
// is off (nil), which a plain int64 could not tell apart from "reject 0".
func TestRejectScore(t *testing.T) {
	var shipped Config
	require.NoError(t, conf.Load("../../etc/user-score.yaml", &shipped))
	require.NotNil(t, shipped.RejectScore)
	require.Equal(t, int64(10), *shipped.RejectScore)

	data, err := os.ReadFile("../../etc/user-score.yaml")
	require.NoError(t, err)
	var kept []string
	for _, line := range strings.Split(string(data), "\n") {
		if !strings.HasPrefix(line, "RejectScore:") {
			kept = append(kept, line)
		}
	}
	path := filepath.Join(t.TempDir(), "user-score.yaml")
	require.NoError(t, os.WriteFile(path, []byte(strings.Join(kept, "\n")), 0o600))
	var without Config
	require.NoError(t, conf.Load(path, &without))
	require.Nil(t, without.RejectScore)
}
