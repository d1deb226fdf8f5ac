package suite

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"
	"github.com/stretchr/testify/require"
	"github.com/zeromicro/go-zero/core/conf"
	"gopkg.in/yaml.v3"
)

// TestDefaultMatchesShippedConfigs: the runner's default layout must be the
// ports the shipped configs listen on, or `make run` would wait forever.
func TestDefaultMatchesShippedConfigs(t *testing.T) {
	l := Default(mysql.NewConfig())
	type devServer struct{ Port int }
	var user, score struct {
		ListenOn  string
		DevServer devServer
	}
	var api struct {
		Port      int
		DevServer devServer
	}
	require.NoError(t, conf.Load("../../user/etc/user.yaml", &user))
	require.NoError(t, conf.Load("../../user-score/etc/user-score.yaml", &score))
	require.NoError(t, conf.Load("../../userapi/etc/userapi.yaml", &api))
	port := func(hostPort string) int {
		_, p, err := net.SplitHostPort(hostPort)
		require.NoError(t, err)
		n, err := strconv.Atoi(p)
		require.NoError(t, err)
		return n
	}
	require.Equal(t, port(user.ListenOn), l.User)
	require.Equal(t, port(score.ListenOn), l.UserScore)
	require.Equal(t, api.Port, l.API)
	var relay, mailer, projector struct{ DevServer struct{ Port int } }
	require.NoError(t, conf.Load("../../relay/etc/relay.yaml", &relay))
	require.NoError(t, conf.Load("../../mailer/etc/mailer.yaml", &mailer))
	require.NoError(t, conf.Load("../../projector/etc/projector.yaml", &projector))
	require.Equal(t, map[string]int{"user": user.DevServer.Port, "user-score": score.DevServer.Port, "userapi": api.DevServer.Port,
		"relay": relay.DevServer.Port, "mailer": mailer.DevServer.Port, "projector": projector.DevServer.Port}, l.Dev)

	data, err := os.ReadFile("../../dtm/conf.yaml")
	require.NoError(t, err)
	var dtm struct {
		HTTPPort int `yaml:"HttpPort"`
		GrpcPort int `yaml:"GrpcPort"`
		Store    struct {
			Db string `yaml:"Db"`
		} `yaml:"Store"`
	}
	require.NoError(t, yaml.Unmarshal(data, &dtm))
	require.Equal(t, dtm.HTTPPort, l.DtmHTTP)
	require.Equal(t, dtm.GrpcPort, l.DtmGRPC)
	require.Equal(t, dtm.Store.Db, l.DBs.DTM)
}

// TestSecureEnvNamesAbsolutePaths: the processes run in their log
// directory, so a relative certificate directory (make run's .data/tls)
// must reach them as an absolute path. Each gets its own identity; the
// console, which speaks neither gRPC nor etcd, none.
func TestSecureEnvNamesAbsolutePaths(t *testing.T) {
	l := Layout{TLSDir: ".data/tls"}
	env := l.secureEnv("user-score")
	require.Len(t, env, 6)
	for _, kv := range env {
		_, path, _ := strings.Cut(kv, "=")
		require.True(t, filepath.IsAbs(path), kv)
	}
	require.Contains(t, env[0], "/.data/tls/user-score.pem")
	require.Empty(t, l.secureEnv("console"))
	require.Empty(t, Layout{}.secureEnv("user"), "no TLS directory: plain")
}

func TestFreePortNeverRepeats(t *testing.T) {
	seen := map[int]bool{}
	for range 2000 {
		p := FreePort()
		require.False(t, seen[p], "port %d handed out twice", p)
		seen[p] = true
	}
}
