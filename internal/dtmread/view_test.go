package dtmread

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestView(t *testing.T) {
	for _, tc := range []struct{ dtm, want string }{
		{"succeed", Succeeded},
		{"failed", Failed},
		{"prepared", Pending},
		{"submitted", Pending},
		{"aborting", Pending},
		{"", Pending},
	} {
		require.Equal(t, tc.want, View(tc.dtm), tc.dtm)
	}
}
