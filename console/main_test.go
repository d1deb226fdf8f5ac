package main

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestLoadConfig(t *testing.T) {
	defaults := config{
		ListenOn:     "127.0.0.1:8890",
		DtmHTTP:      "http://127.0.0.1:36789",
		UserDSN:      "root:@tcp(127.0.0.1:3306)/user?parseTime=true&loc=UTC",
		UserScoreDSN: "root:@tcp(127.0.0.1:3306)/user_score?parseTime=true&loc=UTC",
		MailboxURL:   "http://127.0.0.1:8025",
		RedisAddr:    "127.0.0.1:6379",
		ReadModel:    "rm:",
		OTLPListen:   "127.0.0.1:4318",
	}
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		want config
	}{
		{"defaults, localhost only", nil, nil, defaults},
		{"empty variables keep the defaults", map[string]string{"LISTEN_ON": "", "DTM_HTTP": ""}, nil, defaults},
		{"environment", map[string]string{
			"LISTEN_ON": "127.0.0.1:9000", "DTM_HTTP": "http://dtm:36789",
			"USER_DSN": "u@tcp(db)/user", "USER_SCORE_DSN": "u@tcp(db)/user_score",
			"MAILBOX_URL": "off", "REDIS_ADDR": "redis:6379", "REDIS_PASSWORD": "pw", "READ_MODEL_PREFIX": "rm2:",
		}, nil, config{"127.0.0.1:9000", "http://dtm:36789", "u@tcp(db)/user", "u@tcp(db)/user_score", "off", "redis:6379", "pw", "rm2:", "127.0.0.1:4318"}},
		{"-listen wins over LISTEN_ON", map[string]string{"LISTEN_ON": "127.0.0.1:9000"}, []string{"-listen", "0.0.0.0:8890"},
			config{"0.0.0.0:8890", defaults.DtmHTTP, defaults.UserDSN, defaults.UserScoreDSN, defaults.MailboxURL, defaults.RedisAddr, "", defaults.ReadModel, defaults.OTLPListen}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, name := range []string{"LISTEN_ON", "DTM_HTTP", "USER_DSN", "USER_SCORE_DSN", "MAILBOX_URL", "REDIS_ADDR", "REDIS_PASSWORD", "READ_MODEL_PREFIX", "OTLP_LISTEN"} {
				t.Setenv(name, tc.env[name])
			}
			got, err := loadConfig(tc.args)
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
	_, err := loadConfig([]string{"-port", "1"})
	require.Error(t, err)
}
