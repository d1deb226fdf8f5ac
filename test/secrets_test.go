package test

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"sagasuite/internal/stacktest"
)

// TestLogsCarryNoSecrets runs every path a password takes (success, 409,
// 422, login right and wrong) and then reads every process's log: neither
// the password nor any bcrypt hash may appear. (It runs last in this
// package, so the logs also hold every earlier test's traffic.)
func TestLogsCarryNoSecrets(t *testing.T) {
	canary := fmt.Sprintf("leak-canary-%d", time.Now().UnixNano())
	name := uniqueName("canary")
	require.Equal(t, http.StatusCreated, register(t, registration{Username: name, Password: canary, Gender: "other", Score: 1}).Status)
	require.Equal(t, http.StatusConflict, register(t, registration{Username: name, Password: canary, Gender: "other", Score: 1}).Status)
	require.Equal(t, http.StatusUnprocessableEntity, register(t, registration{Username: uniqueName("canary"), Password: canary, Gender: "other", Score: 10}).Status)
	require.Equal(t, http.StatusOK, call(t, http.MethodPost, "/login", map[string]string{"username": name, "password": canary}).Status)
	require.Equal(t, http.StatusUnauthorized, call(t, http.MethodPost, "/login", map[string]string{"username": name, "password": canary + "x"}).Status)

	logs, err := filepath.Glob(filepath.Join(stack.Dir, "*.log"))
	require.NoError(t, err)
	require.Len(t, logs, 9) // console dtm mail mailer projector relay user user-score userapi
	for _, f := range logs {
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		require.NotEmpty(t, data, f)
		text := string(data)
		require.False(t, strings.Contains(text, canary), "%s logs a password", f)
		require.False(t, strings.Contains(text, "$2a$"), "%s logs a bcrypt hash", f)
		require.False(t, strings.Contains(text, stacktest.MailCodeKey), "%s logs the mailer's code key", f)
		require.False(t, strings.Contains(text, "verify-email?code="), "%s logs a verification link", f)
	}
}
