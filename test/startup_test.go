package test

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestGatewayRefusesWeakSecrets: in pro mode the gateway does not start
// without a JWT secret of at least 32 bytes; only dev mode makes one up.
func TestGatewayRefusesWeakSecrets(t *testing.T) {
	bin := filepath.Join(stack.Dir, "bin", "userapi")
	conf := filepath.Join("..", "userapi", "etc", "userapi.yaml")
	for name, env := range map[string][]string{
		"no secret":    {"MODE=pro", "JWT_SECRET="},
		"short secret": {"MODE=pro", "JWT_SECRET=0123456789abcdef"},
	} {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin, "-f", conf)
			// A port nobody uses: should it start, it must not collide.
			cmd.Env = append(env, "LISTEN_ON=127.0.0.1:1", "ETCD_HOSTS="+stack.EtcdHost, "DEV_SERVER_PORT=1")
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			err := cmd.Run()
			require.Error(t, err, "the gateway started: %s", out.String())
			require.NoError(t, ctx.Err(), "the gateway neither started nor exited")
			require.Contains(t, out.String(), "JWT secret missing or shorter than 32 bytes")
		})
	}
}
