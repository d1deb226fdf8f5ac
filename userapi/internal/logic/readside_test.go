package logic

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"sagasuite/userapi/internal/apierr"
)

func TestPageParam(t *testing.T) {
	for _, c := range []struct {
		raw  string
		want int
		ok   bool
	}{
		{"", 10, true}, {"1", 1, true}, {"100", 100, true}, {"007", 7, true},
		{"0", 0, false}, {"101", 0, false}, {"-1", 0, false}, {"+5", 0, false}, {" 5", 0, false},
		{"5 ", 0, false}, {"1e2", 0, false}, {"0x10", 0, false}, {"ten", 0, false}, {"٣", 0, false},
		{"99999999999999999999", 0, false}, {"9223372036854775808", 0, false}, {"1.0", 0, false},
	} {
		got, err := pageParam("limit", c.raw, DefaultPageLimit, 1, 100)
		if c.ok {
			require.NoError(t, err, "%q", c.raw)
			require.Equal(t, c.want, got, "%q", c.raw)
			continue
		}
		var e *apierr.Error
		require.True(t, errors.As(err, &e), "%q must be refused", c.raw)
		require.Equal(t, apierr.InvalidArgument, e.Code)
		require.Equal(t, "limit", e.Field)
	}
	got, err := pageParam("offset", "1000000000", 0, 0, MaxPageOffset)
	require.NoError(t, err)
	require.Equal(t, MaxPageOffset, got)
	_, err = pageParam("offset", "1000000001", 0, 0, MaxPageOffset)
	require.Error(t, err)
}
