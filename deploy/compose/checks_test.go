package compose

import (
	"fmt"
	"go/build"
	"maps"
	"net"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/go-sql-driver/mysql"
	"github.com/zeromicro/go-zero/core/service"
)

// report collects what one check finds wrong.
type report []string

func (r *report) add(format string, args ...any) { *r = append(*r, fmt.Sprintf(format, args...)) }

var checks = []struct {
	name string
	run  func(*project, *report)
}{
	{"services", checkServices},
	{"files", checkFiles},
	{"listen ports", checkListen},
	{"health checks", checkHealth},
	{"start order", checkStartOrder},
	{"certificates", checkCerts},
	{"etcd TLS", checkEtcdTLS},
	{"peer TLS", checkPeerTLS},
	{"published ports", checkPublished},
	{"etcd", checkEtcd},
	{"connections", checkConnections},
	{"queues and mail", checkQueuesAndMail},
	{"read model", checkReadModel},
	{"mail storage", checkMailDir},
	{"stop grace period", checkStopGrace},
	{"secrets", checkSecrets},
	{"environment names", checkEnvNames},
	{"tools", checkTools},
}

func sortedServices(p *project) []string {
	return slices.Sorted(maps.Keys(p.compose.Services))
}

// checkServices: every service the stack needs, from the right image or
// built from the right package.
func checkServices(p *project, r *report) {
	images := map[string]string{mysqlService: mysqlImage, etcdService: etcdImage + p.etcdVersion, redisService: redisImage}
	for _, name := range slices.Sorted(maps.Keys(images)) {
		switch s := p.compose.Services[name]; {
		case s == nil:
			r.add("service %s is missing", name)
		case s.Image != images[name]:
			r.add("service %s: image %q, want %q", name, s.Image, images[name])
		}
	}
	for _, name := range slices.Sorted(maps.Keys(builds)) {
		switch s := p.compose.Services[name]; {
		case s == nil:
			r.add("service %s is missing (built with SERVICE=%s)", name, builds[name])
		case s.Build == nil:
			r.add("service %s must be built from this repository with SERVICE=%s", name, builds[name])
		case s.Build.Args["SERVICE"] != builds[name]:
			r.add("service %s: build arg SERVICE=%q, want %q", name, s.Build.Args["SERVICE"], builds[name])
		}
	}
}

// checkFiles: build contexts, Dockerfiles, commands and mounted files exist,
// and the images hold the health probe.
func checkFiles(p *project, r *report) {
	var dockerfiles []string
	for _, name := range sortedServices(p) {
		s := p.compose.Services[name]
		if b := s.Build; b != nil {
			ctx := filepath.Join(p.root, b.Context)
			if st, err := os.Stat(ctx); err != nil || !st.IsDir() {
				r.add("service %s: build context %q is not a directory", name, b.Context)
				continue
			}
			df := filepath.Join(b.Context, dockerfileOf(b))
			if _, err := os.Stat(filepath.Join(p.root, df)); err != nil {
				r.add("service %s: no Dockerfile %s", name, df)
			}
			dockerfiles = append(dockerfiles, df)
			if pkg, ok := b.Args["SERVICE"]; ok {
				if !p.docker.hasArg("SERVICE") {
					r.add("service %s: build arg SERVICE, but the Dockerfile declares no ARG SERVICE", name)
				}
				if msg := notMain(filepath.Join(ctx, pkg)); msg != "" {
					r.add("service %s: SERVICE=%s: %s", name, pkg, msg)
				}
			}
		}
		for _, m := range s.Volumes {
			switch {
			case m.Type == "volume" && m.Source != "":
				if _, ok := p.compose.Volumes[m.Source]; !ok {
					r.add("service %s mounts volume %s, which the file's volumes do not declare", name, m.Source)
				}
			case m.Type == "bind":
				if _, err := os.Stat(filepath.Join(p.root, m.Source)); err != nil {
					r.add("service %s: mounted file %s does not exist", name, m.Source)
				}
			}
		}
	}
	slices.Sort(dockerfiles)
	if d := slices.Compact(dockerfiles); len(d) > 1 {
		r.add("services are built from several Dockerfiles (%v); the checks read one", d)
	}
	if msg := notMain(filepath.Join(p.root, probeDir)); msg != "" {
		r.add("health probe ./%s: %s", probeDir, msg)
	}
	if _, err := p.probeInImage(); err != nil {
		r.add("%v", err)
	}
}

// notMain says why dir does not hold a command, or "" when it does.
func notMain(dir string) string {
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return "no such directory"
	}
	pkg, err := build.ImportDir(dir, 0)
	switch {
	case err != nil:
		return err.Error()
	case pkg.Name != "main":
		return fmt.Sprintf("package %s, not a package main", pkg.Name)
	}
	return ""
}

var outputFlag = regexp.MustCompile(`-o\s+(\S+)`)

// probeInImage is where the images hold the probe: the file a Dockerfile
// `go build -o OUT ./deploy/healthcheck` writes and the final stage copies.
func (p *project) probeInImage() (string, error) {
	for _, run := range p.docker.runs {
		if !strings.Contains(run, "go build") || !strings.Contains(run, "./"+probeDir) {
			continue
		}
		m := outputFlag.FindStringSubmatch(run)
		if m == nil {
			continue
		}
		for _, c := range p.docker.final().copies {
			if c.from != "" && c.src == m[1] {
				return c.dst, nil
			}
		}
		return "", fmt.Errorf("the Dockerfile builds ./%s into %s but does not copy it into the final image", probeDir, m[1])
	}
	return "", fmt.Errorf("the Dockerfile does not build the health probe ./%s (go build -o … ./%s)", probeDir, probeDir)
}

// listenPort is the port service name listens on by its code's default:
// the one LISTEN_ON must keep and the one published or probed.
func (p *project) listenPort(name string) (port, source string, err error) {
	var addr string
	switch name {
	case "user", "user-score":
		addr, source = p.branch[name].ListenOn, p.configs[name]+" ListenOn"
	case "userapi":
		return strconv.Itoa(p.gateway.Port), p.configs[name] + " Port", nil
	case dtmService:
		return strconv.FormatInt(p.dtm.HTTPPort, 10), p.configs[name] + " HttpPort", nil
	case "console":
		return p.codeListen(name, "LISTEN_ON")
	case mailService:
		// The HTTP API, the port published and probed; its SMTP port is
		// codeListen(mailService, "SMTP_LISTEN").
		return p.codeListen(name, "MAIL_HTTP_LISTEN")
	default:
		return "", "", fmt.Errorf("service %s has no known listen port", name)
	}
	_, port, err = net.SplitHostPort(addr)
	if err != nil {
		return "", "", fmt.Errorf("%s %q: %w", source, addr, err)
	}
	return port, source, nil
}

// codeListen is the port of the listen address that service name's code
// reads from variable key, by the code's default (env("KEY", "host:port")).
func (p *project) codeListen(name, key string) (port, source string, err error) {
	cmd := p.cmds[name]
	if cmd == nil {
		return "", "", fmt.Errorf("no source in ./%s", builds[name])
	}
	addr, ok := cmd.defaultOf(key)
	if !ok {
		return "", "", fmt.Errorf("no default for %s in ./%s", key, builds[name])
	}
	source = "./" + builds[name] + "'s default " + key
	if _, port, err = net.SplitHostPort(addr); err != nil {
		return "", "", fmt.Errorf("%s %q: %w", source, addr, err)
	}
	return port, source, nil
}

// listenVars are the variables that set where a server other containers
// reach listens, by service.
var listenVars = []struct{ service, key string }{
	{"user", "LISTEN_ON"},
	{"user-score", "LISTEN_ON"},
	{"userapi", "LISTEN_ON"},
	{"console", "LISTEN_ON"},
	{mailService, "SMTP_LISTEN"},
	{mailService, "MAIL_HTTP_LISTEN"},
}

// wantListen is the port variable key of service name must keep.
func (p *project) wantListen(name, key string) (port, source string, err error) {
	if key == "LISTEN_ON" {
		return p.listenPort(name)
	}
	return p.codeListen(name, key)
}

// listenAt is the port service name listens on as the compose file runs
// it: variable key's port, else the code's default.
func (p *project) listenAt(name, key string) (string, error) {
	v, ok := p.env(name, key)
	if !ok || v == "" {
		port, _, err := p.wantListen(name, key)
		return port, err
	}
	_, port, err := net.SplitHostPort(v)
	return port, err
}

// devServer is service name's go-zero dev server as the container runs it.
func (p *project) devServer(name string) service.DevServerConfig {
	var d service.DevServerConfig
	if sc := p.serviceConf(name); sc != nil {
		d = sc.DevServer
	}
	if v, ok := p.env(name, "DEV_SERVER_HOST"); ok && v != "" {
		d.Host = v
	}
	if v, ok := p.env(name, "DEV_SERVER_PORT"); ok && v != "" {
		d.Port, _ = strconv.Atoi(v)
	}
	return d
}

// checkListen: LISTEN_ON (SMTP_LISTEN, MAIL_HTTP_LISTEN), DEV_SERVER_PORT,
// HTTP_PORT and GRPC_PORT keep the ports of the services' configs and
// code, and the servers other containers reach listen on every interface.
func checkListen(p *project, r *report) {
	for _, l := range listenVars {
		name, key := l.service, l.key
		if p.compose.Services[name] == nil {
			continue
		}
		want, source, err := p.wantListen(name, key)
		if err != nil {
			r.add("service %s: %v", name, err)
			continue
		}
		listen, ok := p.env(name, key)
		if !ok {
			r.add("service %s: set %s=0.0.0.0:%s; by default it listens on the container's loopback", name, key, want)
			continue
		}
		host, port, err := net.SplitHostPort(listen)
		switch {
		case err != nil:
			r.add("service %s: %s=%q: %v", name, key, listen, err)
		case host != "0.0.0.0":
			r.add("service %s: %s=%q must listen on 0.0.0.0 to be reachable from other containers", name, key, listen)
		case port != want:
			r.add("service %s: %s=%q, but %s is port %s", name, key, listen, source, want)
		}
	}
	for _, name := range devServers {
		sc := p.serviceConf(name)
		if v, ok := p.env(name, "DEV_SERVER_PORT"); ok && sc != nil && v != strconv.Itoa(sc.DevServer.Port) {
			r.add("service %s: DEV_SERVER_PORT=%s, but %s has DevServer.Port %d", name, v, p.configs[name], sc.DevServer.Port)
		}
	}
	// DTM's HTTP API listens on 127.0.0.1 unless HTTP_HOST says otherwise
	// (dtm/listen.go); the gateway, the console and the published port
	// reach it over the container network.
	if p.compose.Services[dtmService] != nil {
		if host, ok := p.env(dtmService, "HTTP_HOST"); !ok || host != "0.0.0.0" {
			r.add("service %s: set HTTP_HOST=0.0.0.0: by default DTM's HTTP API listens on the container's loopback (HTTP_HOST=%q)", dtmService, host)
		}
	}
	for key, want := range map[string]int64{"HTTP_PORT": p.dtm.HTTPPort, "GRPC_PORT": p.dtm.GrpcPort} {
		if v, ok := p.env(dtmService, key); ok && v != strconv.FormatInt(want, 10) {
			r.add("service %s: %s=%s, but %s has %d", dtmService, key, v, p.configs[dtmService], want)
		}
	}
}

// checkHealth: every long-running service has a health check; ours run the
// probe against the right port and path on the container's loopback.
func checkHealth(p *project, r *report) {
	probe, probeErr := p.probeInImage()
	for _, name := range sortedServices(p) {
		s := p.compose.Services[name]
		if oneShot[name] {
			if s.Restart != "" && s.Restart != "no" {
				r.add("service %s runs once; restart %q would run it again and again", name, s.Restart)
			}
			continue
		}
		hc := s.Healthcheck
		if hc == nil || hc.Disable || len(hc.Test) == 0 || hc.Test[0] == "NONE" {
			r.add("service %s runs for good but has no healthcheck", name)
			continue
		}
		if _, ours := builds[name]; !ours {
			if name == redisService && !redisPing(hc.Test) {
				r.add("service %s: healthcheck %q: want [CMD, redis-cli, ping] (PONG while Redis serves)", name, hc.Test)
			}
			continue
		}
		if hc.Test[0] != "CMD" || len(hc.Test) != 3 {
			r.add("service %s: healthcheck %q: our images have no shell; use [CMD, %s, URL]", name, hc.Test, probe)
			continue
		}
		if probeErr == nil && hc.Test[1] != probe {
			r.add("service %s: healthcheck runs %s, but the image holds the probe at %s", name, hc.Test[1], probe)
		}
		u, err := url.Parse(hc.Test[2])
		if err != nil || u.Scheme != "http" || u.Hostname() != "127.0.0.1" {
			r.add("service %s: healthcheck URL %q: want http://127.0.0.1:PORT/PATH, inside the container", name, hc.Test[2])
			continue
		}
		var wantPort, wantPath, source string
		switch {
		case slices.Contains(devServers, name):
			dev := p.devServer(name)
			if !dev.Enabled {
				r.add("service %s: its dev server (health probe) is disabled in %s", name, p.configs[name])
			}
			if dev.Host != "" && dev.Host != "0.0.0.0" && dev.Host != "127.0.0.1" {
				r.add("service %s: dev server on %s cannot be probed on 127.0.0.1", name, dev.Host)
			}
			wantPort, wantPath, source = strconv.Itoa(dev.Port), dev.HealthPath, "its dev server (DEV_SERVER_PORT, else "+p.configs[name]+" DevServer)"
		case name == dtmService:
			wantPort, wantPath, source = strconv.FormatInt(p.dtm.HTTPPort, 10), "/api/dtmsvr/", p.configs[name]+" HttpPort"
		case name == "console":
			port, src, err := p.listenPort(name)
			if err != nil {
				r.add("service %s: %v", name, err)
				continue
			}
			wantPort, wantPath, source = port, consoleHealthPath, src
		case name == mailService:
			port, err := p.listenAt(name, "MAIL_HTTP_LISTEN")
			if err != nil {
				r.add("service %s: %v", name, err)
				continue
			}
			if cmd := p.cmds[name]; cmd != nil && !cmd.serves(mailHealthPath) {
				r.add("service %s: ./%s (%v) serves no GET %s, its health check", name, builds[name], cmd.scanned, mailHealthPath)
			}
			wantPort, wantPath, source = port, mailHealthPath, "its HTTP API (MAIL_HTTP_LISTEN)"
		default:
			r.add("service %s: no known health endpoint", name)
			continue
		}
		if u.Port() != wantPort {
			r.add("service %s: healthcheck probes port %s, but %s is port %s", name, u.Port(), source, wantPort)
		}
		if name == dtmService && !strings.HasPrefix(u.Path, wantPath) ||
			name != dtmService && u.Path != wantPath {
			r.add("service %s: healthcheck probes path %q, want %s", name, u.Path, wantPath)
		}
	}
}

// redisPing says whether a health-check test asks Redis for PONG.
func redisPing(test stringList) bool {
	switch {
	case len(test) == 0:
		return false
	case test[0] == "CMD":
		return len(test) >= 3 && path.Base(test[1]) == "redis-cli" && test[len(test)-1] == "ping"
	case test[0] == "CMD-SHELL":
		return len(test) == 2 && strings.Contains(test[1], "redis-cli") && strings.Contains(test[1], "ping")
	}
	return false
}

// checkStartOrder: depends_on names existing services with conditions that
// can hold, and the start order the stack needs is there.
func checkStartOrder(p *project, r *report) {
	for _, name := range sortedServices(p) {
		for _, dep := range slices.Sorted(maps.Keys(p.compose.Services[name].DependsOn)) {
			cond := p.compose.Services[name].DependsOn[dep]
			target := p.compose.Services[dep]
			switch {
			case target == nil:
				r.add("service %s depends on %s, which is not in the file", name, dep)
			case cond == healthy && target.Healthcheck == nil:
				r.add("service %s waits for %s to be healthy, but %s has no healthcheck", name, dep, dep)
			case cond == completed && !oneShot[dep]:
				r.add("service %s waits for %s to complete, but %s runs for good", name, dep, dep)
			case cond != started && cond != healthy && cond != completed:
				r.add("service %s: depends_on %s: unknown condition %q", name, dep, cond)
			}
		}
	}
	for _, e := range startOrder {
		s := p.compose.Services[e.service]
		if s == nil {
			continue // checkServices reports it
		}
		switch got := s.DependsOn[e.dependency]; {
		case got == e.condition:
		case e.condition == started && got != "":
			r.add("service %s must wait for %s with condition %s, not %s: it serves without %s, and must not be kept from starting by it",
				e.service, e.dependency, started, got, e.dependency)
		default:
			r.add("service %s must wait for %s with condition %s (has %q)", e.service, e.dependency, e.condition, got)
		}
	}
	// What the certificates and the etcd accounts need, directly or through
	// the services waited for: those that read the tls volume start after
	// certs made it, those with an etcd account after etcd-auth made it.
	volume, err := p.tlsVolume()
	for _, name := range sortedServices(p) {
		if _, mounted := p.tlsMount(name, volume); err == nil && mounted && name != certsService && !p.waitsFor(name, certsService, completed) {
			r.add("service %s reads the %s volume, but does not wait (itself or through what it waits for) for %s to complete", name, volume, certsService)
		}
		if _, ok := p.identities[name]; ok && !p.waitsFor(name, etcdAuthService, completed) {
			r.add("service %s reaches etcd as its own account, but does not wait (itself or through what it waits for) for %s to complete", name, etcdAuthService)
		}
	}
}

// checkPublished: only the gateway, the dashboards and the mail server's
// HTTP API are published, each on 127.0.0.1 and its own port.
func checkPublished(p *project, r *report) {
	for _, name := range sortedServices(p) {
		s := p.compose.Services[name]
		if s.NetworkMode != "" && !strings.HasPrefix(s.NetworkMode, "service:") {
			r.add("service %s: network_mode %q takes it off the compose network", name, s.NetworkMode)
		}
		if !publishers[name] {
			if len(s.Ports) > 0 {
				r.add("service %s publishes %v; only %v may publish ports", name, s.Ports, slices.Sorted(maps.Keys(publishers)))
			}
			continue
		}
		want, source, err := p.listenPort(name)
		if err != nil {
			r.add("service %s: %v", name, err)
			continue
		}
		if len(s.Ports) == 0 {
			r.add("service %s must publish 127.0.0.1:%s:%s", name, want, want)
		}
		for _, pt := range s.Ports {
			if pt.HostIP != "127.0.0.1" {
				r.add("service %s publishes %s on every interface; bind it to 127.0.0.1", name, pt)
			}
			if pt.Target != want || pt.Published != want {
				r.add("service %s publishes %s, want 127.0.0.1:%s:%s (%s)", name, pt, want, want, source)
			}
		}
	}
}

// etcdClientPorts are the ports the etcd service serves clients on, on
// every interface.
func (p *project) etcdClientPorts() []string {
	s := p.compose.Services[etcdService]
	if s == nil {
		return nil
	}
	var ports []string
	for _, arg := range s.Command {
		urls, ok := strings.CutPrefix(arg, "--listen-client-urls=")
		if !ok {
			continue
		}
		for _, raw := range strings.Split(urls, ",") {
			if u, err := url.Parse(raw); err == nil && (u.Hostname() == "0.0.0.0" || u.Hostname() == "::") {
				ports = append(ports, u.Port())
			}
		}
	}
	return ports
}

// checkEtcd: services register and look each other up under the same keys
// in the same etcd, and DTM registers where the gateway looks for it.
func checkEtcd(p *project, r *report) {
	for _, k := range []struct {
		branch, field, lookup string
	}{
		{"user", "UserRpc", p.gateway.UserRpc.Etcd.Key},
		{"user-score", "UserScoreRpc", p.gateway.UserScoreRpc.Etcd.Key},
	} {
		if got := p.branch[k.branch].Etcd.Key; got != k.lookup {
			r.add("%s registers under etcd key %q, but %s looks %s up as %q", p.configs[k.branch], got, p.configs["userapi"], k.field, k.lookup)
		}
	}
	ports := p.etcdClientPorts()
	if len(ports) == 0 {
		r.add("service %s: no --listen-client-urls on 0.0.0.0; other containers cannot reach it", etcdService)
	}
	hosts := map[string]string{}
	for _, name := range goZero {
		v, ok := p.env(name, "ETCD_HOSTS")
		if !ok {
			r.add("service %s: set ETCD_HOSTS; its config's etcd is the container's own loopback", name)
			continue
		}
		hosts[name] = v
		for _, h := range strings.Split(v, ",") {
			host, port, err := net.SplitHostPort(strings.TrimSpace(h))
			if err != nil || host != etcdService || !slices.Contains(ports, port) {
				r.add("service %s: ETCD_HOSTS entry %q is not the %s service's client port %v", name, h, etcdService, ports)
			}
		}
	}
	for _, name := range goZero[1:] {
		if h, ok := hosts[name]; ok && hosts[goZero[0]] != "" && h != hosts[goZero[0]] {
			r.add("service %s: ETCD_HOSTS=%q, but %s has %q: they must share one etcd", name, h, goZero[0], hosts[goZero[0]])
		}
	}

	keys := slices.Compact(slices.Sorted(slices.Values(p.cmds["userapi"].lastLiteralArg("EtcdURL"))))
	if len(keys) != 1 {
		r.add("cannot tell the etcd key the gateway derives DTM's target from: EtcdURL(…, KEY) calls in ./userapi give %q", keys)
		return
	}
	if p.dtm.MicroService.Driver != "dtm-driver-gozero" {
		r.add("%s: MicroService.Driver %q; the gateway and the branch URLs need dtm-driver-gozero", p.configs[dtmService], p.dtm.MicroService.Driver)
	}
	target := effective(p, dtmService, "MICRO_SERVICE_TARGET", p.dtm.MicroService.Target)
	if want := "etcd://" + hosts["userapi"] + "/" + keys[0]; target != want {
		r.add("service %s: MICRO_SERVICE_TARGET=%q, but the gateway looks for DTM at %q (ETCD_HOSTS + /%s)", dtmService, target, want, keys[0])
	}
	if v, ok := p.env("userapi", "DTM_SERVER"); ok && v != target {
		r.add("service userapi: DTM_SERVER=%q, but DTM registers at %q", v, target)
	}
	grpcPort := effective(p, dtmService, "GRPC_PORT", strconv.FormatInt(p.dtm.GrpcPort, 10))
	if ep, want := effective(p, dtmService, "MICRO_SERVICE_END_POINT", p.dtm.MicroService.EndPoint), dtmService+":"+grpcPort; ep != want {
		r.add("service %s: MICRO_SERVICE_END_POINT=%q: the branches and the gateway reach DTM's gRPC at %q", dtmService, ep, want)
	}
}

// effective is name's variable key if the compose file sets it, else the
// config's value: DTM lets the environment win.
func effective(p *project, name, key, fromConfig string) string {
	if v, ok := p.env(name, key); ok && v != "" {
		return v
	}
	return fromConfig
}

// checkConnections: DTM_HTTP reaches DTM's HTTP port, every DSN names the
// mysql service and the database migrate creates, the gateway runs in pro
// mode.
func checkConnections(p *project, r *report) {
	dtmHTTP := dtmService + ":" + effective(p, dtmService, "HTTP_PORT", strconv.FormatInt(p.dtm.HTTPPort, 10))
	for _, name := range []string{"userapi", "console"} {
		v, ok := p.env(name, "DTM_HTTP")
		if p.compose.Services[name] == nil {
			continue
		}
		if !ok {
			r.add("service %s: set DTM_HTTP=http://%s", name, dtmHTTP)
			continue
		}
		if u, err := url.Parse(v); err != nil || u.Scheme != "http" || u.Host != dtmHTTP || strings.Trim(u.Path, "/") != "" {
			r.add("service %s: DTM_HTTP=%q, want http://%s (%s HttpPort)", name, v, dtmHTTP, p.configs[dtmService])
		}
	}
	if v, _ := p.env("userapi", "MODE"); p.compose.Services["userapi"] != nil && v != "pro" {
		r.add("service userapi: MODE=%q, want pro (it then refuses to start without a strong JWT_SECRET)", v)
	}

	dbs := p.databases()
	parse := func(dsn string) *mysql.Config {
		c, err := mysql.ParseDSN(dsn)
		if err != nil || dsn == "" { // a config that sets none: nothing to be like
			return nil
		}
		return c
	}
	var consoleDefault = func(key string) *mysql.Config {
		if cmd := p.cmds["console"]; cmd != nil {
			if d, ok := cmd.defaultOf(key); ok {
				return parse(d)
			}
		}
		return nil
	}
	for _, d := range []struct {
		service, key, db string
		like             *mysql.Config // the DSN the code ships with, for its parameters
		likeSource       string
	}{
		{"migrate", "MYSQL_DSN", "", nil, ""},
		{rebuildService, "MYSQL_DSN", "", nil, ""},
		{"user", "DATA_SOURCE", dbs.User, parse(p.branch["user"].DataSource), p.configs["user"]},
		{"user-score", "DATA_SOURCE", dbs.UserScore, parse(p.branch["user-score"].DataSource), p.configs["user-score"]},
		{"console", "USER_DSN", dbs.User, consoleDefault("USER_DSN"), "./console's default USER_DSN"},
		{"console", "USER_SCORE_DSN", dbs.UserScore, consoleDefault("USER_SCORE_DSN"), "./console's default USER_SCORE_DSN"},
		// The outbox is in the user database.
		{"relay", "DATA_SOURCE", dbs.User, parse(p.worker["relay"].DataSource), p.configs["relay"]},
		{"mailer", "DATA_SOURCE", dbs.User, parse(p.worker["mailer"].DataSource), p.configs["mailer"]},
		{"projector", "DATA_SOURCE", dbs.User, parse(p.worker["projector"].DataSource), p.configs["projector"]},
	} {
		if p.compose.Services[d.service] == nil {
			continue
		}
		v, ok := p.env(d.service, d.key)
		if !ok {
			r.add("service %s: set %s", d.service, d.key)
			continue
		}
		c := parse(v)
		switch {
		case c == nil:
			r.add("service %s: %s is not a MySQL DSN", d.service, d.key)
		case c.Net != "tcp" || c.Addr != mysqlService+":"+mysqlPort:
			r.add("service %s: %s connects to %s(%s), want tcp(%s:%s)", d.service, d.key, c.Net, c.Addr, mysqlService, mysqlPort)
		case c.DBName != d.db:
			r.add("service %s: %s uses database %q, but migrate creates %q", d.service, d.key, c.DBName, d.db)
		case c.User != "root":
			r.add("service %s: %s connects as %q; the only account the mysql service creates is root", d.service, d.key, c.User)
		case d.like != nil && (c.ParseTime != d.like.ParseTime || c.Loc.String() != d.like.Loc.String()):
			r.add("service %s: %s has parseTime=%t loc=%s, but %s has parseTime=%t loc=%s",
				d.service, d.key, c.ParseTime, c.Loc, d.likeSource, d.like.ParseTime, d.like.Loc)
		}
	}

	// The rebuild reads the databases migrate makes (its -user-db and
	// -user-score-db; DTM's it does not read).
	if p.compose.Services[rebuildService] != nil {
		got := p.databasesOf(rebuildService)
		for _, d := range []struct{ key, got, want string }{
			{"USER_DB", got.User, dbs.User},
			{"USER_SCORE_DB", got.UserScore, dbs.UserScore},
		} {
			if d.got != d.want {
				r.add("service %s reads database %q (%s), but migrate creates %q", rebuildService, d.got, d.key, d.want)
			}
		}
	}

	store := p.dtm.Store
	for _, s := range []struct{ key, got, want string }{
		{"STORE_DRIVER", effective(p, dtmService, "STORE_DRIVER", store.Driver), "mysql"},
		{"STORE_HOST", effective(p, dtmService, "STORE_HOST", store.Host), mysqlService},
		{"STORE_PORT", effective(p, dtmService, "STORE_PORT", strconv.FormatInt(store.Port, 10)), mysqlPort},
		{"STORE_USER", effective(p, dtmService, "STORE_USER", store.User), "root"},
		{"STORE_DB", effective(p, dtmService, "STORE_DB", store.Db), dbs.DTM},
	} {
		if s.got != s.want {
			r.add("service %s: %s (or %s) is %q, want %q (the database migrate creates is %q)", dtmService, s.key, p.configs[dtmService], s.got, s.want, dbs.DTM)
		}
	}
}

// secretRef matches a reference to an environment variable without a
// default: ${NAME}, ${NAME?msg} or ${NAME:?msg}.
func secretRef(name string) *regexp.Regexp {
	return regexp.MustCompile(`^\$\{` + name + `(:?\?[^}]*)?\}$`)
}

var secretKey = regexp.MustCompile(`PASSWORD|SECRET|TOKEN|(^|_)KEY$|(^|_)PASS$`)

// fileOnVolume says whether v is the path of a file on one of s's volumes:
// a variable naming a key file (TLS_KEY) holds no secret, the volume does.
func fileOnVolume(s *composeService, v string) bool {
	if !path.IsAbs(v) {
		return false
	}
	for _, m := range s.Volumes {
		if rel, ok := strings.CutPrefix(path.Clean(v), path.Clean(m.Target)+"/"); ok && rel != "" {
			return true
		}
	}
	return false
}

// checkSecrets: the secrets come only from the environment, compose refuses
// to start without them, and none has a default in the file.
func checkSecrets(p *project, r *report) {
	const mysqlSecret, jwtSecret, codeKey = "MYSQL_ROOT_PASSWORD", "JWT_SECRET", "MAIL_CODE_KEY"
	for _, s := range []struct{ service, key, secret string }{
		{mysqlService, "MARIADB_ROOT_PASSWORD", mysqlSecret},
		{dtmService, "STORE_PASSWORD", mysqlSecret},
		{"userapi", "JWT_SECRET", jwtSecret},
		{"mailer", codeKey, codeKey},
	} {
		if v, ok := p.env(s.service, s.key); !ok || !secretRef(s.secret).MatchString(v) {
			r.add("service %s: %s must be ${%s:?…} (from the environment, no default), not %q", s.service, s.key, s.secret, v)
		}
	}
	anyRef := secretRef(`[A-Za-z_][A-Za-z0-9_]*`)
	for _, name := range sortedServices(p) {
		env := p.compose.Services[name].Environment
		for _, key := range slices.Sorted(maps.Keys(env)) {
			v := env[key]
			switch {
			case !secretKey.MatchString(key) || anyRef.MatchString(v) || fileOnVolume(p.compose.Services[name], v):
			case path.IsAbs(v):
				r.add("service %s: %s names %s, a file on none of its volumes: the key would have to be in the image", name, key, v)
			default:
				r.add("service %s: %s is written into the file; take it from the environment: ${%s:?…}", name, key, key)
			}
			if !strings.Contains(v, "@tcp(") {
				continue
			}
			if c, err := mysql.ParseDSN(v); err != nil || !secretRef(mysqlSecret).MatchString(c.Passwd) {
				r.add("service %s: %s: the DSN's password must be ${%s}, from the environment", name, key, mysqlSecret)
			}
		}
	}
	// The mailer reads its key from the environment only; a CodeKey in its
	// YAML, baked into the image, would be used when the variable is unset.
	if w := p.worker["mailer"]; w != nil && w.CodeKey != "" {
		r.add("%s sets CodeKey: the mailer's key is a secret and comes only from %s", p.configs["mailer"], codeKey)
	}
	for _, secret := range []string{mysqlSecret, jwtSecret, codeKey} {
		if !strings.Contains(p.raw, "${"+secret+":?") {
			r.add("no ${%s:?…} in %s: compose must refuse to start without it", secret, composeName)
		}
		if regexp.MustCompile(`\$\{` + secret + `:?[-+=]`).MatchString(p.raw) {
			r.add("%s gives %s a default or alternative value; secrets come only from the environment", composeName, secret)
		}
	}
}

// checkEnvNames: every variable set on a service built here is one its
// code reads (see command.envNames), so that a misspelt or stale name does
// not go unnoticed.
func checkEnvNames(p *project, r *report) {
	for _, name := range slices.Sorted(maps.Keys(builds)) {
		s, cmd := p.compose.Services[name], p.cmds[name]
		if s == nil || cmd == nil {
			continue
		}
		for _, key := range slices.Sorted(maps.Keys(s.Environment)) {
			if !cmd.envNames[key] {
				r.add("service %s sets %s, which no Go file of %v reads (no string literal is that name, no env= tag): misspelt or stale?", name, key, cmd.scanned)
			}
		}
	}
}
