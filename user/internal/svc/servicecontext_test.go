package svc

import (
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"sagasuite/rpc-common/branchsvc"
	"sagasuite/user/internal/config"
)

// TestDummyHashHasTheConfiguredCost: an unknown user's login compares
// against the dummy hash, so it must cost what a known user's does. Before,
// it had bcrypt's default cost (10) whatever the configured one.
func TestDummyHashHasTheConfiguredCost(t *testing.T) {
	for _, cost := range []int{4, 6} {
		c := config.Config{Conf: branchsvc.Conf{DataSource: "root:@tcp(127.0.0.1:3306)/user", MaxOpenConns: 2}, BcryptCost: cost}
		ctx, err := NewServiceContext(c)
		require.NoError(t, err)
		got, err := bcrypt.Cost(ctx.DummyHash)
		require.NoError(t, err)
		require.Equal(t, cost, got)
		ctx.DB.Close()
	}
}
