package compose

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

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
		{"dependency not in the file", func(p *project) { p.compose.Services["userapi"].DependsOn["memcached"] = started }, "memcached"},
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
			p.compose.Services["migrate"].Build.Args["SERVICE"] = "internal/schema"
		}, "package main"},
		{"SERVICE does not exist", func(p *project) { p.compose.Services["console"].Build.Args["SERVICE"] = "consoles" }, "consoles"},
		{"mounted file missing", func(p *project) {
			s := p.compose.Services["dtm"]
			s.Volumes = append(s.Volumes, mount{Type: "bind", Source: "./dtm/missing.yaml", Target: "/app/x.yaml", ReadOnly: true})
		}, "missing.yaml"},
		{"misspelt variable", func(p *project) { env(p, "user", "LISTEN_0N", "0.0.0.0:8080") }, "LISTEN_0N"},

		// The certificates and the etcd accounts.
		{"certs missing", func(p *project) { delete(p.compose.Services, certsService) }, certsService},
		{"certs from another package", func(p *project) {
			p.compose.Services[certsService].Build.Args["SERVICE"] = "deploy/etcdauth"
		}, "deploy/certs"},
		{"etcd-auth missing", func(p *project) { delete(p.compose.Services, etcdAuthService) }, etcdAuthService},
		{"certs restarts", func(p *project) { p.compose.Services[certsService].Restart = "always" }, "restart"},
		{"certs writes outside the volume", func(p *project) {
			p.compose.Services[certsService].Command = stringList{"-dir", "/certs", "-chown", "65532:65532"}
		}, "no volume"},
		{"certs without -chown", func(p *project) { p.compose.Services[certsService].Command = stringList{"-dir", "/tls"} }, "-chown 65532:65532"},
		{"certs chowns to another user", func(p *project) {
			p.compose.Services[certsService].Command = stringList{"-dir", "/tls", "-chown", "1000:1000"}
		}, "-chown 65532:65532"},
		{"certs not root", func(p *project) { p.compose.Services[certsService].User = "" }, `user: "0"`},
		{"certs mounts read-only", func(p *project) { p.compose.Services[certsService].Volumes[0].ReadOnly = true }, "read-only"},
		{"DTM's HTTP API on the container's loopback", func(p *project) { delete(p.compose.Services["dtm"].Environment, "HTTP_HOST") }, "HTTP_HOST=0.0.0.0"},
		{"certs without -split", func(p *project) {
			p.compose.Services[certsService].Command = stringList{"-dir", "/tls", "-chown", "65532:65532"}
		}, "-split"},
		{"a branch mounts another identity's directory", func(p *project) { p.compose.Services["user"].Volumes[0].Volume.Subpath = "dtm" }, "subpath: user"},
		{"the gateway mounts the whole tls volume", func(p *project) { p.compose.Services["userapi"].Volumes[0].Volume.Subpath = "" }, "whole"},
		{"etcd mounts a directory without its key", func(p *project) {
			p.compose.Services[etcdService].Volumes[1].Volume.Subpath = "user"
		}, "not etcd's certificate"},
		{"etcd-auth mounts a directory without root's key", func(p *project) {
			p.compose.Services[etcdAuthService].Volumes[0].Volume.Subpath = "userapi"
		}, "root's certificate"},
		{"the console mounts a directory", func(p *project) {
			c := p.compose.Services["console"]
			c.Volumes = append(c.Volumes, mount{Type: "volume", Source: "tls", Target: "/tls", ReadOnly: true})
		}, "whole"},
		{"the image runs as another user", func(p *project) { p.docker.final().user = "1000:1000" }, "-chown 1000:1000"},
		{"etcd without client-cert-auth", func(p *project) {
			s := p.compose.Services[etcdService]
			s.Command = slices.DeleteFunc(s.Command, func(a string) bool { return a == "--client-cert-auth" })
		}, "client-cert-auth"},
		{"etcd client-cert-auth off", func(p *project) { replaceArg(p, etcdService, "--client-cert-auth", "--client-cert-auth=false") }, "client-cert-auth"},
		{"etcd serves another certificate", func(p *project) {
			replaceArg(p, etcdService, "--cert-file=/tls/etcd.pem", "--cert-file=/tls/user.pem")
		}, "cert-file"},
		{"etcd without its CA", func(p *project) {
			s := p.compose.Services[etcdService]
			s.Command = slices.DeleteFunc(s.Command, func(a string) bool { return strings.HasPrefix(a, "--trusted-ca-file") })
		}, "trusted-ca-file"},
		{"etcd in plain text", func(p *project) {
			replaceArg(p, etcdService, "--listen-client-urls=https://0.0.0.0:2379", "--listen-client-urls=http://0.0.0.0:2379")
		}, "https"},
		{"etcd advertises plain text", func(p *project) {
			replaceArg(p, etcdService, "--advertise-client-urls=https://etcd:2379", "--advertise-client-urls=http://etcd:2379")
		}, "advertise-client-urls"},
		{"etcd health check without a client certificate", func(p *project) {
			p.compose.Services[etcdService].Healthcheck.Test = stringList{"CMD", "/usr/local/bin/etcdctl", "--endpoints=https://127.0.0.1:2379", "--cacert=/tls/ca.pem", "endpoint", "health"}
		}, "client certificate"},
		{"etcd health check in plain text", func(p *project) {
			p.compose.Services[etcdService].Healthcheck.Test[2] = "--endpoints=http://127.0.0.1:2379"
		}, "--endpoints"},
		{"etcd without the tls volume", func(p *project) {
			p.compose.Services[etcdService].Volumes = p.compose.Services[etcdService].Volumes[:1]
		}, "mount the tls volume"},
		{"etcd before the certificates", func(p *project) { delete(p.compose.Services[etcdService].DependsOn, certsService) }, certsService},
		{"etcd-auth before etcd is healthy", func(p *project) { p.compose.Services[etcdAuthService].DependsOn[etcdService] = started }, healthy},
		{"etcd-auth looks in the wrong directory", func(p *project) {
			p.compose.Services[etcdAuthService].Command = stringList{"-endpoints", "etcd:2379", "-tls", "/certs"}
		}, "-tls"},
		{"etcd-auth on its loopback", func(p *project) { p.compose.Services[etcdAuthService].Command = stringList{"-tls", "/tls"} }, "-endpoints"},
		{"etcd-auth at another host", func(p *project) {
			p.compose.Services[etcdAuthService].Command = stringList{"-endpoints", "etcd2:2379", "-tls", "/tls"}
		}, "etcd2:2379"},
		{"branch before its etcd account", func(p *project) { delete(p.compose.Services["user"].DependsOn, etcdAuthService) }, etcdAuthService},
		{"gateway before the certificates", func(p *project) { p.compose.Services["userapi"].DependsOn = dependsOn{} }, "does not wait"},
		{"branch without ETCD_CA", func(p *project) { delete(p.compose.Services["user"].Environment, "ETCD_CA") }, "set ETCD_CA=/tls/ca.pem"},
		{"branch without TLS", func(p *project) {
			for _, k := range []string{"TLS_CERT", "TLS_KEY", "TLS_CA"} {
				delete(p.compose.Services["user-score"].Environment, k)
			}
		}, "set TLS_KEY=/tls/user-score-key.pem"},
		{"branch with DTM's certificate", func(p *project) { env(p, "user", "TLS_CERT", "/tls/dtm.pem") }, "TLS_CERT=/tls/dtm.pem, want /tls/user.pem"},
		{"gateway's etcd key from another identity", func(p *project) { env(p, "userapi", "ETCD_KEY", "/tls/root-key.pem") }, "ETCD_KEY"},
		{"DTM without the tls volume", func(p *project) { p.compose.Services["dtm"].Volumes = nil }, "mount the tls volume"},
		{"key file on no volume", func(p *project) { p.compose.Services["dtm"].Volumes = nil }, "TLS_KEY names /tls/dtm-key.pem, a file on none of its volumes"},
		{"tls volume not declared", func(p *project) { delete(p.compose.Volumes, "tls") }, "do not declare"},
		{"branch mounts the tls volume read-write", func(p *project) { p.compose.Services["user"].Volumes[0].ReadOnly = false }, ":ro"},
		{"tls volume elsewhere", func(p *project) { p.compose.Services["user"].Volumes[0].Target = "/certs" }, "want /certs/user.pem"},
		{"branch with an etcd password account", func(p *project) { env(p, "user", "ETCD_USER", "root") }, "ETCD_USER"},
		{"literal etcd password", func(p *project) { env(p, "user", "ETCD_PASS", "hunter2") }, "ETCD_PASS is written"},
		{"literal key", func(p *project) { env(p, "user", "TLS_KEY", "-----BEGIN PRIVATE KEY-----") }, "TLS_KEY is written"},
		{"console with a certificate", func(p *project) { env(p, "console", "TLS_CERT", "/tls/userapi.pem") }, "no identity"},
		{"console with the keys", func(p *project) {
			p.compose.Services["console"].Volumes = []mount{{Type: "volume", Source: "tls", Target: "/tls", ReadOnly: true}}
		}, "every key"},
		{"a service that cannot read its key", func(p *project) { p.compose.Services["user"].User = "1000" }, "runs as 1000"},
		{"misspelt TLS variable", func(p *project) { env(p, "dtm", "TLS_CRT", "/tls/dtm.pem") }, "TLS_CRT"},

		// The outbox: Redis, the relay, the mailer, the mail server.
		{"redis missing", func(p *project) { delete(p.compose.Services, redisService) }, redisService},
		{"redis from another image", func(p *project) { p.compose.Services[redisService].Image = "valkey/valkey:8" }, redisImage},
		{"redis without a health check", func(p *project) { p.compose.Services[redisService].Healthcheck = nil }, "healthcheck"},
		{"redis health check that asks nothing", func(p *project) {
			p.compose.Services[redisService].Healthcheck.Test = stringList{"CMD", "true"}
		}, "redis-cli"},
		{"redis published", func(p *project) {
			p.compose.Services[redisService].Ports = []port{{HostIP: "127.0.0.1", Published: "6379", Target: "6379"}}
		}, "only"},
		{"relay missing", func(p *project) { delete(p.compose.Services, "relay") }, "relay"},
		{"mailer built from the relay", func(p *project) { p.compose.Services["mailer"].Build.Args["SERVICE"] = "relay" }, `SERVICE="relay"`},
		{"relay without a health check", func(p *project) { p.compose.Services["relay"].Healthcheck = nil }, "healthcheck"},
		{"relay probed at the mailer's dev server", func(p *project) {
			p.compose.Services["relay"].Healthcheck.Test[2] = "http://127.0.0.1:6474/healthz"
		}, "6473"},
		{"mailer probed at its metrics", func(p *project) {
			p.compose.Services["mailer"].Healthcheck.Test[2] = "http://127.0.0.1:6474/metrics"
		}, "/healthz"},
		{"relay dev server port", func(p *project) { env(p, "relay", "DEV_SERVER_PORT", "6474") }, "DEV_SERVER_PORT"},
		{"mailer.yaml dev server disabled", func(p *project) { p.worker["mailer"].DevServer.Enabled = false }, "disabled"},
		{"mail probed at its SMTP port", func(p *project) {
			p.compose.Services[mailService].Healthcheck.Test[2] = "http://127.0.0.1:2525/api/messages"
		}, "8025"},
		{"mail probe path", func(p *project) {
			p.compose.Services[mailService].Healthcheck.Test[2] = "http://127.0.0.1:8025/"
		}, mailHealthPath},
		{"mail server stops serving its health path", func(p *project) {
			c := p.cmds[mailService]
			c.calls = slices.DeleteFunc(c.calls, func(cl call) bool { return cl.fun == "HandleFunc" })
		}, "serves no GET"},
		{"mail's HTTP API on every interface", func(p *project) { p.compose.Services[mailService].Ports[0].HostIP = "" }, "127.0.0.1"},
		{"mail's SMTP published", func(p *project) {
			s := p.compose.Services[mailService]
			s.Ports = append(s.Ports, port{HostIP: "127.0.0.1", Published: "2525", Target: "2525"})
		}, "want 127.0.0.1:8025:8025"},
		{"mail's SMTP on its loopback", func(p *project) { env(p, mailService, "SMTP_LISTEN", "127.0.0.1:2525") }, "0.0.0.0"},
		{"mail's HTTP API on its loopback", func(p *project) { delete(p.compose.Services[mailService].Environment, "MAIL_HTTP_LISTEN") }, "MAIL_HTTP_LISTEN"},
		{"mail's SMTP on another port", func(p *project) { env(p, mailService, "SMTP_LISTEN", "0.0.0.0:25") }, "SMTP_LISTEN"},
		{"relay before migrate", func(p *project) { delete(p.compose.Services["relay"].DependsOn, "migrate") }, "migrate"},
		{"mailer does not wait for Redis to be healthy", func(p *project) { p.compose.Services["mailer"].DependsOn[redisService] = started }, healthy},
		{"relay without Redis", func(p *project) { delete(p.compose.Services["relay"].DependsOn, redisService) }, redisService},
		{"mailer before the mail server", func(p *project) { delete(p.compose.Services["mailer"].DependsOn, mailService) }, mailService},
		{"relay on another database", func(p *project) {
			env(p, "relay", "DATA_SOURCE", "root:${MYSQL_ROOT_PASSWORD}@tcp(mysql:3306)/user_score?parseTime=true&loc=UTC")
		}, "database"},
		{"mailer DSN without parseTime", func(p *project) {
			env(p, "mailer", "DATA_SOURCE", "root:${MYSQL_ROOT_PASSWORD}@tcp(mysql:3306)/user")
		}, "parseTime"},
		{"mailer without DATA_SOURCE", func(p *project) { delete(p.compose.Services["mailer"].Environment, "DATA_SOURCE") }, "set DATA_SOURCE"},
		{"relay's Redis on its loopback", func(p *project) { delete(p.compose.Services["relay"].Environment, "REDIS_ADDR") }, "REDIS_ADDR"},
		{"mailer's Redis elsewhere", func(p *project) { env(p, "mailer", "REDIS_ADDR", "redis:6380") }, "REDIS_ADDR"},
		{"console's Redis elsewhere", func(p *project) { env(p, "console", "REDIS_ADDR", "127.0.0.1:6379") }, "REDIS_ADDR"},
		{"a Redis password Redis does not require", func(p *project) { env(p, "relay", "REDIS_PASSWORD", "${REDIS_PASSWORD:?}") }, "requirepass"},
		{"mailer sends to the HTTP port", func(p *project) { env(p, "mailer", "SMTP_ADDR", "mail:8025") }, "SMTP_ADDR"},
		{"mailer sends to its loopback", func(p *project) { delete(p.compose.Services["mailer"].Environment, "SMTP_ADDR") }, "SMTP_ADDR"},
		{"console reads mail at the SMTP port", func(p *project) { env(p, "console", "MAILBOX_URL", "http://mail:2525") }, "MAILBOX_URL"},
		{"console without the mailbox", func(p *project) { delete(p.compose.Services["console"].Environment, "MAILBOX_URL") }, "MAILBOX_URL"},
		{"links to the gateway's container name", func(p *project) { env(p, "mailer", "PUBLIC_BASE_URL", "http://userapi:8888") }, "PUBLIC_BASE_URL"},
		{"links to a port not published", func(p *project) { env(p, "mailer", "PUBLIC_BASE_URL", "http://127.0.0.1:8080") }, "PUBLIC_BASE_URL"},
		{"gateway published elsewhere, links do not follow", func(p *project) {
			p.compose.Services["userapi"].Ports[0].Published = "9888"
		}, "http://127.0.0.1:9888"},
		{"literal mail code key", func(p *project) { env(p, "mailer", "MAIL_CODE_KEY", strings.Repeat("k", 48)) }, "MAIL_CODE_KEY"},
		{"mail code key not required", func(p *project) {
			env(p, "mailer", "MAIL_CODE_KEY", "${MAIL_CODE_KEY}")
			p.raw = regexp.MustCompile(`\$\{MAIL_CODE_KEY:\?[^}]*\}`).ReplaceAllString(p.raw, "$${MAIL_CODE_KEY}")
		}, "no ${MAIL_CODE_KEY:?"},
		{"default mail code key", func(p *project) {
			p.raw = strings.ReplaceAll(p.raw, "${MAIL_CODE_KEY:?", "${MAIL_CODE_KEY:-insecure")
		}, "MAIL_CODE_KEY"},
		{"mailer.yaml holds the code key", func(p *project) { p.worker["mailer"].CodeKey = strings.Repeat("k", 48) }, "CodeKey"},
		{"misspelt mailer variable", func(p *project) { env(p, "mailer", "SMTP_ADDRESS", "mail:2525") }, "SMTP_ADDRESS"},
		{"misspelt mail variable", func(p *project) { env(p, mailService, "MAIL_HTTP_ADDR", "0.0.0.0:8025") }, "MAIL_HTTP_ADDR"},
		{"relay with a certificate", func(p *project) { env(p, "relay", "TLS_CERT", "/tls/user.pem") }, "no identity"},
		{"mail in the container", func(p *project) { delete(p.compose.Services[mailService].Environment, "MAIL_DIR") }, "MAIL_DIR"},
		{"empty MAIL_DIR is not memory", func(p *project) { env(p, mailService, "MAIL_DIR", "") }, "reads as unset"},
		{"mail on no volume", func(p *project) { p.compose.Services[mailService].Volumes = nil }, "no named volume"},
		{"mail volume not declared", func(p *project) { delete(p.compose.Volumes, "mail-data") }, "do not declare"},
		{"mail volume where Docker makes a root-owned mount point", func(p *project) {
			p.compose.Services[mailService].Volumes[0].Target = "/home/nonroot/mail"
		}, "/home/nonroot (its home)"},
		{"mail volume read-only", func(p *project) { p.compose.Services[mailService].Volumes[0].ReadOnly = true }, "read-only"},
		{"mailer killed before its mails in flight", func(p *project) { p.compose.Services["mailer"].StopGracePeriod = "" }, "stop_grace_period"},
		{"mailer.yaml waits longer", func(p *project) { p.worker["mailer"].Shutdown.WaitTime = time.Minute }, "1m0s"},

		// The read model: the projector writes it.
		{"projector missing", func(p *project) { delete(p.compose.Services, "projector") }, "service projector is missing"},
		{"projector built from the mailer", func(p *project) { p.compose.Services["projector"].Build.Args["SERVICE"] = "mailer" }, `SERVICE="mailer", want "projector"`},
		{"projector's Redis elsewhere", func(p *project) { env(p, "projector", "REDIS_ADDR", "redis:6380") }, `service projector: REDIS_ADDR="redis:6380", want redis:6379`},
		{"projector's Redis on its loopback", func(p *project) { delete(p.compose.Services["projector"].Environment, "REDIS_ADDR") }, "service projector: set REDIS_ADDR=redis:6379"},
		{"projector without DATA_SOURCE", func(p *project) { delete(p.compose.Services["projector"].Environment, "DATA_SOURCE") }, "service projector: set DATA_SOURCE"},
		{"projector on another database", func(p *project) {
			env(p, "projector", "DATA_SOURCE", "root:${MYSQL_ROOT_PASSWORD}@tcp(mysql:3306)/user_score?parseTime=true&loc=UTC")
		}, `service projector: DATA_SOURCE uses database "user_score"`},
		{"projector DSN without parseTime", func(p *project) {
			env(p, "projector", "DATA_SOURCE", "root:${MYSQL_ROOT_PASSWORD}@tcp(mysql:3306)/user")
		}, "service projector: DATA_SOURCE has parseTime=false"},
		{"projector health check on the wrong port", func(p *project) {
			p.compose.Services["projector"].Healthcheck.Test[2] = "http://127.0.0.1:6474/healthz"
		}, "service projector: healthcheck probes port 6474, but its dev server"},
		{"projector without a health check", func(p *project) { p.compose.Services["projector"].Healthcheck = nil }, "service projector runs for good but has no healthcheck"},
		{"projector dev server port", func(p *project) { env(p, "projector", "DEV_SERVER_PORT", "6476") }, "service projector: DEV_SERVER_PORT=6476"},
		{"projector.yaml dev server moves", func(p *project) { p.worker["projector"].DevServer.Port = 6480 }, "DevServer.Port 6480"},
		{"projector dev server where the probe cannot reach it", func(p *project) { env(p, "projector", "DEV_SERVER_HOST", "10.0.0.7") }, "service projector: dev server on 10.0.0.7"},
		{"projector before migrate", func(p *project) { delete(p.compose.Services["projector"].DependsOn, "migrate") }, "service projector must wait for migrate"},
		{"projector does not wait for Redis to be healthy", func(p *project) { p.compose.Services["projector"].DependsOn[redisService] = started }, "service projector must wait for redis with condition " + healthy},
		{"projector killed before its tasks in flight", func(p *project) { p.compose.Services["projector"].StopGracePeriod = "" }, "service projector: projector/etc/projector.yaml gives it 15s"},
		{"projector.yaml waits longer for its tasks", func(p *project) { p.worker["projector"].ShutdownTimeout = time.Minute }, "1m0s to stop after SIGTERM (ShutdownTimeout)"},
		{"misspelt projector variable", func(p *project) { env(p, "projector", "READMODEL_PREFIX", "rm:") }, "service projector sets READMODEL_PREFIX"},
		{"projector with a certificate", func(p *project) { env(p, "projector", "TLS_CERT", "/tls/user.pem") }, "service projector sets TLS_CERT, but has no identity"},

		// The read model: the gateway and the console read it.
		{"userapi without REDIS_ADDR", func(p *project) { delete(p.compose.Services["userapi"].Environment, "REDIS_ADDR") }, "service userapi: set REDIS_ADDR=redis:6379"},
		{"userapi's Redis elsewhere", func(p *project) { env(p, "userapi", "REDIS_ADDR", "127.0.0.1:6379") }, `service userapi: REDIS_ADDR="127.0.0.1:6379", want redis:6379`},
		{"userapi with a Redis password Redis does not require", func(p *project) {
			env(p, "userapi", "REDIS_PASSWORD", "${REDIS_PASSWORD:?}")
		}, `service userapi: REDIS_PASSWORD="${REDIS_PASSWORD:?}", but the redis service's --requirepass is ""`},
		{"userapi not started after Redis", func(p *project) { delete(p.compose.Services["userapi"].DependsOn, redisService) }, "service userapi must wait for redis with condition " + started},
		{"userapi kept from starting by Redis", func(p *project) { p.compose.Services["userapi"].DependsOn[redisService] = healthy }, "service userapi must wait for redis with condition service_started, not service_healthy: it serves without redis"},
		{"console kept from starting by Redis", func(p *project) { p.compose.Services["console"].DependsOn[redisService] = healthy }, "service console must wait for redis with condition service_started, not service_healthy"},
		{"differing READ_MODEL_PREFIX", func(p *project) { env(p, "projector", "READ_MODEL_PREFIX", "rm2:") }, `service userapi uses the read model's keys under prefix "rm:" (userapi/etc/userapi.yaml ReadModel.Prefix), but the projector writes them under "rm2:" (READ_MODEL_PREFIX)`},
		{"READ_MODEL_PREFIX on a reader only", func(p *project) { env(p, "console", "READ_MODEL_PREFIX", "ro:") }, `service console uses the read model's keys under prefix "ro:" (READ_MODEL_PREFIX), but the projector writes them under "rm:" (projector/etc/projector.yaml ReadModelPrefix)`},
		{"empty READ_MODEL_PREFIX", func(p *project) { env(p, "userapi", "READ_MODEL_PREFIX", "") }, "service userapi: READ_MODEL_PREFIX is empty"},
		{"projector.yaml's prefix changes", func(p *project) { p.worker["projector"].ReadModelPrefix = "rm2:" }, `but the projector writes them under "rm2:" (projector/etc/projector.yaml ReadModelPrefix)`},
		{"userapi.yaml's prefix changes", func(p *project) { p.gateway.ReadModel.Prefix = "gw:" }, `service userapi uses the read model's keys under prefix "gw:" (userapi/etc/userapi.yaml ReadModel.Prefix)`},
		{"the gateway's default prefix changes, its yaml silent", func(p *project) {
			p.gateway.ReadModel.Prefix = ""
			p.cmds["userapi"].tagDefaults["READ_MODEL_PREFIX"] = "gw:"
		}, `service userapi uses the read model's keys under prefix "gw:" (./userapi's default READ_MODEL_PREFIX)`},
		{"userapi.yaml sets another prefix", func(p *project) { p.gateway.ReadModel.Prefix = "gw:" }, `prefix "gw:" (userapi/etc/userapi.yaml ReadModel.Prefix)`},
		{"the console's default prefix changes", func(p *project) { setDefault(p, "console", "READ_MODEL_PREFIX", "c:") }, `service console uses the read model's keys under prefix "c:" (./console's default READ_MODEL_PREFIX)`},
		{"misspelt read model variable", func(p *project) { env(p, "userapi", "READMODEL_PREFIX", "rm:") }, "service userapi sets READMODEL_PREFIX"},

		// The read model: the rebuild tool replaces it, by hand only.
		{"rebuild missing", func(p *project) { delete(p.compose.Services, rebuildService) }, "service rebuild is missing"},
		{"rebuild built from migrate", func(p *project) {
			p.compose.Services[rebuildService].Build.Args["SERVICE"] = "deploy/migrate"
		}, `service rebuild: build arg SERVICE="deploy/migrate", want "deploy/rebuild"`},
		{"rebuild started by up", func(p *project) { p.compose.Services[rebuildService].Profiles = nil }, "service rebuild is run by hand (docker compose run --rm rebuild): give it a profile"},
		{"a service the stack needs in a profile", func(p *project) { p.compose.Services["projector"].Profiles = []string{"tools"} }, "service projector is in profiles [tools]"},
		{"the gateway waits for the tool", func(p *project) { p.compose.Services["userapi"].DependsOn[rebuildService] = completed }, "service userapi depends on rebuild, which is in profiles [tools]"},
		{"rebuild restarts", func(p *project) { p.compose.Services[rebuildService].Restart = "unless-stopped" }, "service rebuild runs once; restart"},
		{"rebuild before migrate", func(p *project) { delete(p.compose.Services[rebuildService].DependsOn, "migrate") }, "service rebuild must wait for migrate"},
		{"rebuild before Redis answers", func(p *project) { p.compose.Services[rebuildService].DependsOn[redisService] = started }, "service rebuild must wait for redis with condition " + healthy},
		{"rebuild's Redis elsewhere", func(p *project) { env(p, rebuildService, "REDIS_ADDR", "redis:6380") }, `service rebuild: REDIS_ADDR="redis:6380", want redis:6379`},
		{"rebuild's Redis on its loopback", func(p *project) { delete(p.compose.Services[rebuildService].Environment, "REDIS_ADDR") }, "service rebuild: set REDIS_ADDR=redis:6379"},
		{"rebuild without MYSQL_DSN", func(p *project) { delete(p.compose.Services[rebuildService].Environment, "MYSQL_DSN") }, "service rebuild: set MYSQL_DSN"},
		{"rebuild's MySQL elsewhere", func(p *project) {
			env(p, rebuildService, "MYSQL_DSN", "root:${MYSQL_ROOT_PASSWORD}@tcp(127.0.0.1:3306)/")
		}, "service rebuild: MYSQL_DSN connects to tcp(127.0.0.1:3306)"},
		{"rebuild with a literal password", func(p *project) { env(p, rebuildService, "MYSQL_DSN", "root:hunter2@tcp(mysql:3306)/") }, "service rebuild: MYSQL_DSN: the DSN's password must be ${MYSQL_ROOT_PASSWORD}"},
		{"rebuild reads another user database", func(p *project) { env(p, rebuildService, "USER_DB", "users") }, `service rebuild reads database "users" (USER_DB), but migrate creates "user"`},
		{"migrate makes another database, rebuild does not follow", func(p *project) { env(p, "migrate", "USER_SCORE_DB", "scores") }, `service rebuild reads database "user_score" (USER_SCORE_DB), but migrate creates "scores"`},
		{"rebuild under another prefix", func(p *project) { env(p, rebuildService, "READ_MODEL_PREFIX", "rm2:") }, `service rebuild uses the read model's keys under prefix "rm2:" (READ_MODEL_PREFIX)`},
		{"rebuild's default prefix changes", func(p *project) { setDefault(p, rebuildService, "READ_MODEL_PREFIX", "rb:") }, `prefix "rb:" (./deploy/rebuild's default READ_MODEL_PREFIX)`},
		{"rebuild's prefix on its command line", func(p *project) { p.compose.Services[rebuildService].Command = stringList{"-prefix", "rm:"} }, "service rebuild: its command sets -prefix; set READ_MODEL_PREFIX in its environment"},
		{"rebuild's Redis on its command line", func(p *project) { p.compose.Services[rebuildService].Command = stringList{"-redis=redis:6379"} }, "service rebuild: its command sets -redis"},
		{"rebuild's flag renamed", func(p *project) {
			c := p.cmds[rebuildService]
			c.calls = slices.DeleteFunc(c.calls, func(cl call) bool { _, ok := cl.declaresFlag("redis"); return ok })
		}, "declares no -redis flag: toolFlags is out of date"},
		{"misspelt rebuild variable", func(p *project) { env(p, rebuildService, "REDIS_ADDRESS", "redis:6379") }, "service rebuild sets REDIS_ADDRESS"},

		// The code changes, compose does not follow.
		{"a process gets another identity", func(p *project) { p.identities["user"] = "user-score" }, "user.rpc"},
		{"an identity without an etcd account", func(p *project) { p.identities["userapi"] = "etcd" }, "no such etcd account"},
		{"secureEnv sets one more variable", func(p *project) {
			p.secureEnv = append(p.secureEnv, envFile{name: "GRPC_CA", field: "CAFile"})
		}, "set GRPC_CA=/tls/ca.pem"},
		{"a new process with an identity", func(p *project) { p.identities["repair"] = "repair" }, "repair"},
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

// TestConfigsInImage: the relay and the mailer read their YAML in the image,
// where the Dockerfile must copy it.
func TestConfigsInImage(t *testing.T) {
	root := repoRoot(t)
	text, err := os.ReadFile(filepath.Join(root, "Dockerfile"))
	require.NoError(t, err)
	for _, name := range workers {
		p, err := loadProject(root)
		require.NoError(t, err)
		conf, err := p.configFile(name)
		require.NoError(t, err)
		require.Equal(t, filepath.Join(name, "etc", name+".yaml"), conf)

		line := "COPY --from=build /src/" + name + "/etc /app/" + name + "/etc\n"
		require.Contains(t, string(text), line)
		p.docker = parseDockerfile(strings.Replace(string(text), line, "", 1))
		_, err = p.configFile(name)
		require.ErrorContains(t, err, "/app/"+name+"/etc/"+name+".yaml", "without its COPY")
	}
}

// setDefault changes the default of service's f("KEY", "default", …) lookup.
func setDefault(p *project, service, key, def string) {
	for _, cl := range p.cmds[service].calls {
		if len(cl.args) >= 2 && cl.args[0] != nil && *cl.args[0] == key && cl.args[1] != nil {
			cl.args[1] = &def
			return
		}
	}
	panic(fmt.Sprintf("service %s: no lookup of %s with a default", service, key))
}

// TestReadModelPrefix: one READ_MODEL_PREFIX on every side of the read
// model is fine, whatever it is; one side on its own is not.
func TestReadModelPrefix(t *testing.T) {
	root := repoRoot(t)
	for _, tc := range []struct {
		name string
		set  map[string]string // service → READ_MODEL_PREFIX
		want string            // "" for no report
	}{
		{"none set", nil, ""},
		{"the shipped one on one side", map[string]string{"userapi": "rm:"}, ""},
		{"another on every side", map[string]string{"projector": "x:", "userapi": "x:", "console": "x:", rebuildService: "x:"}, ""},
		{"another on all but one", map[string]string{"projector": "x:", "userapi": "x:", rebuildService: "x:"}, `service console uses the read model's keys under prefix "rm:"`},
		{"another on the writer only", map[string]string{"projector": "x:"}, `service userapi uses the read model's keys under prefix "rm:"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := loadProject(root)
			require.NoError(t, err)
			for name, v := range tc.set {
				p.compose.Services[name].Environment["READ_MODEL_PREFIX"] = v
			}
			var r report
			checkReadModel(p, &r)
			if tc.want == "" {
				require.Empty(t, r)
				return
			}
			require.Contains(t, strings.Join(r, "\n"), tc.want)
		})
	}
}

// replaceArg replaces item old of service's command with new.
func replaceArg(p *project, service, old, new string) {
	cmd := p.compose.Services[service].Command
	i := slices.Index(cmd, old)
	if i < 0 {
		panic(fmt.Sprintf("service %s: no %q in %q", service, old, cmd))
	}
	cmd[i] = new
}

// TestEnvNames: a variable counts as read when a string literal is exactly
// its name or a struct tag says env=NAME, not when a message mentions it;
// a tag's default= is the variable's default.
func TestEnvNames(t *testing.T) {
	dir := t.TempDir()
	src := `package main

import ("errors"; "os")

type conf struct {
	A string ` + "`json:\",optional,env=FROM_TAG\"`" + `
	B string ` + "`json:\",default=rm:,range=[1:2],env=TAG_DEFAULT\"`" + `
}

var table = []struct{ name string }{{"FROM_TABLE"}}

func main() {
	_ = os.Getenv("FROM_GETENV")
	_ = errors.New("set ONLY_IN_A_MESSAGE, or FROM_GETENV")
}
`
	require.NoError(t, os.WriteFile(filepath.Join(dir, "main.go"), []byte(src), 0o644))
	c := &command{dir: ".", envNames: map[string]bool{}, tagDefaults: map[string]string{}}
	require.NoError(t, c.readFile(".", filepath.Join(dir, "main.go")))
	require.Equal(t, map[string]bool{"FROM_TAG": true, "TAG_DEFAULT": true, "FROM_TABLE": true, "FROM_GETENV": true}, c.envNames)
	def, ok := c.envDefault("TAG_DEFAULT")
	require.True(t, ok)
	require.Equal(t, "rm:", def)
	_, ok = c.envDefault("FROM_TAG")
	require.False(t, ok, "optional, no default")
}

// TestFlags reads command lines as the Go flag package and etcd do.
func TestFlags(t *testing.T) {
	require.Equal(t, map[string]string{"dir": "/tls", "chown": "1:2", "client-cert-auth": "true", "key-file": "/k", "v": "true"},
		flags([]string{"/bin/x", "-dir", "/tls", "--chown=1:2", "--client-cert-auth", "--key-file=/k", "-v"}))
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
