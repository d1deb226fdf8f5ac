package compose

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func repoRoot(t *testing.T) string {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	require.NoError(t, err)
	require.FileExists(t, filepath.Join(root, "go.mod"))
	return root
}

// TestComposeMatchesCode checks docker-compose.yml against the code.
func TestComposeMatchesCode(t *testing.T) {
	p, err := loadProject(repoRoot(t))
	require.NoError(t, err)
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			var r report
			c.run(p, &r)
			for _, problem := range r {
				t.Error(problem)
			}
		})
	}
}

// TestChecksCatchMistakes breaks the loaded compose file, or the configs
// read from the repository, one way at a time and expects a check to say so.
func TestChecksCatchMistakes(t *testing.T) {
	root := repoRoot(t)
	env := func(p *project, service, key, value string) { p.compose.Services[service].Environment[key] = value }
	for _, tc := range []struct {
		name   string
		mutate func(p *project)
		want   string
	}{
		{"branch port differs from user.yaml", func(p *project) { env(p, "user", "LISTEN_ON", "0.0.0.0:9090") }, "ListenOn"},
		{"user.yaml port changes", func(p *project) { p.branch["user-score"].ListenOn = "127.0.0.1:9091" }, "ListenOn"},
		{"branch listens on its loopback", func(p *project) { env(p, "user", "LISTEN_ON", "127.0.0.1:8080") }, "0.0.0.0"},
		{"gateway port", func(p *project) { env(p, "userapi", "LISTEN_ON", "0.0.0.0:8080") }, "Port"},
		{"dev server port", func(p *project) { env(p, "user-score", "DEV_SERVER_PORT", "6499") }, "DEV_SERVER_PORT"},
		{"probe on another port", func(p *project) {
			p.compose.Services["userapi"].Healthcheck.Test[2] = "http://127.0.0.1:6470/healthz"
		}, "6472"},
		{"probe path", func(p *project) { p.compose.Services["console"].Healthcheck.Test[2] = "http://127.0.0.1:8890/" }, "/api/sagas"},
		{"probe needs a shell", func(p *project) {
			p.compose.Services["dtm"].Healthcheck.Test = stringList{"CMD-SHELL", "curl -f http://127.0.0.1:36789/api/dtmsvr/all"}
		}, "shell"},
		{"no health check", func(p *project) { p.compose.Services["etcd"].Healthcheck = nil }, "healthcheck"},
		{"one-shot restarts", func(p *project) { p.compose.Services["migrate"].Restart = "unless-stopped" }, "restart"},
		{"dependency not in the file", func(p *project) { p.compose.Services["userapi"].DependsOn["redis"] = started }, "redis"},
		{"gateway does not wait for health", func(p *project) { p.compose.Services["userapi"].DependsOn["dtm"] = started }, healthy},
		{"service missing", func(p *project) { delete(p.compose.Services, "console") }, "console"},
		{"MySQL published", func(p *project) {
			p.compose.Services["mysql"].Ports = []port{{HostIP: "127.0.0.1", Published: "3306", Target: "3306"}}
		}, "only"},
		{"gateway on every interface", func(p *project) { p.compose.Services["userapi"].Ports[0].HostIP = "" }, "127.0.0.1"},
		{"DTM gRPC published", func(p *project) { p.compose.Services["dtm"].Ports[0].Target = "36790" }, "36789"},
		{"host network", func(p *project) { p.compose.Services["user"].NetworkMode = "host" }, "network_mode"},
		{"etcd key differs from the gateway's", func(p *project) { p.gateway.UserRpc.Etcd.Key = "users.rpc" }, "users.rpc"},
		{"DTM registered under another key", func(p *project) { env(p, "dtm", "MICRO_SERVICE_TARGET", "etcd://etcd:2379/dtm") }, "dtmservice"},
		{"DTM registers its loopback", func(p *project) { env(p, "dtm", "MICRO_SERVICE_END_POINT", "127.0.0.1:36790") }, "MICRO_SERVICE_END_POINT"},
		{"branch on another etcd", func(p *project) { env(p, "user", "ETCD_HOSTS", "etcd2:2379") }, "ETCD_HOSTS"},
		{"DTM port in conf.yaml changes", func(p *project) { p.dtm.HTTPPort = 36800 }, "36800"},
		{"DTM_HTTP at the gRPC port", func(p *project) { env(p, "console", "DTM_HTTP", "http://dtm:36790") }, "DTM_HTTP"},
		{"wrong database", func(p *project) {
			env(p, "user", "DATA_SOURCE", "root:${MYSQL_ROOT_PASSWORD}@tcp(mysql:3306)/user_score?parseTime=true&loc=UTC")
		}, "database"},
		{"DSN without parseTime", func(p *project) {
			env(p, "user-score", "DATA_SOURCE", "root:${MYSQL_ROOT_PASSWORD}@tcp(mysql:3306)/user_score")
		}, "parseTime"},
		{"DTM store database", func(p *project) { env(p, "dtm", "STORE_DB", "dtm_store") }, "dtm_store"},
		{"gateway not in pro mode", func(p *project) { env(p, "userapi", "MODE", "dev") }, "MODE"},
		{"literal JWT secret", func(p *project) { env(p, "userapi", "JWT_SECRET", strings.Repeat("s", 32)) }, "JWT_SECRET"},
		{"default secret", func(p *project) {
			p.raw = strings.ReplaceAll(p.raw, "${JWT_SECRET:?", "${JWT_SECRET:-insecure")
		}, "JWT_SECRET"},
		{"literal password in a DSN", func(p *project) {
			env(p, "migrate", "MYSQL_DSN", "root:hunter2@tcp(mysql:3306)/")
		}, "password"},
		{"SERVICE is not a command", func(p *project) {
			p.compose.Services["migrate"].Build.Args["SERVICE"] = "deploy/schema"
		}, "package main"},
		{"SERVICE does not exist", func(p *project) { p.compose.Services["console"].Build.Args["SERVICE"] = "consoles" }, "consoles"},
		{"mounted file missing", func(p *project) {
			s := p.compose.Services["dtm"]
			s.Volumes = append(s.Volumes, mount{Type: "bind", Source: "./dtm/missing.yaml", Target: "/app/x.yaml", ReadOnly: true})
		}, "missing.yaml"},
		{"misspelt variable", func(p *project) { env(p, "user", "LISTEN_0N", "0.0.0.0:8080") }, "LISTEN_0N"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := loadProject(root)
			require.NoError(t, err)
			tc.mutate(p)
			var r report
			for _, c := range checks {
				c.run(p, &r)
			}
			require.NotEmpty(t, r, "no check noticed the change")
			require.Contains(t, strings.Join(r, "\n"), tc.want)
		})
	}
}

// TestUnknownKeys: a misspelt key fails to parse instead of being ignored.
func TestUnknownKeys(t *testing.T) {
	for _, doc := range []string{
		"services:\n  a:\n    image: x\n    depend_on: [b]\n",
		"services:\n  a:\n    build: {context: ., arg: {SERVICE: user}}\n",
		"services:\n  a:\n    image: x\n    depends_on: {b: {conditon: service_healthy}}\n",
		"services:\n  a:\n    image: x\n    healthcheck: {tests: [CMD, x]}\n",
		"service:\n  a:\n    image: x\n",
	} {
		_, err := parseCompose([]byte(doc))
		require.Error(t, err, doc)
	}
	f, err := parseCompose([]byte("x-a: &a {restart: always}\nservices:\n  a:\n    <<: *a\n    image: x\n    environment: [A=1, B]\n    ports: [\"127.0.0.1:1:2/udp\"]\n    depends_on: [b]\n"))
	require.NoError(t, err)
	a := f.Services["a"]
	require.Equal(t, "always", a.Restart)
	require.Equal(t, stringMap{"A": "1", "B": ""}, a.Environment)
	require.Equal(t, port{HostIP: "127.0.0.1", Published: "1", Target: "2", Protocol: "udp"}, a.Ports[0])
	require.Equal(t, dependsOn{"b": started}, a.DependsOn)
}
