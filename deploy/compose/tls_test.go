package compose

import (
	"fmt"
	"maps"
	"net"
	"net/url"
	"path"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"go.etcd.io/etcd/server/v3/embed"

	"sagasuite/internal/devcerts"
	"sagasuite/internal/etcdauth"
	"sagasuite/internal/etcdnode"
)

// The checks of the suite's TLS: the certs one-shot makes the certificates
// of devcerts.Suite into a volume, etcd serves TLS with them as the local
// stack's embedded etcd does (etcdnode.WithTLS), etcd-auth provisions the
// accounts, and each process gets its own certificate's files the way
// internal/suite's secureEnv gives them.

// etcdPasswordEnv are the variables of an etcd password account
// (rpc-common/envconf): compose has none, each process's account is its
// certificate's common name, and a password account would stand in for it.
var etcdPasswordEnv = []string{"ETCD_USER", "ETCD_PASS"}

// flags reads the flags of a command line: -name=value, -name value (when
// the next item is no flag) and a bare -name (true), each with one dash or
// two.
func flags(args []string) map[string]string {
	out := map[string]string{}
	for i, a := range args {
		if !strings.HasPrefix(a, "-") {
			continue
		}
		name, value, ok := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !ok {
			value = "true"
			if i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") {
				value = args[i+1]
			}
		}
		out[name] = value
	}
	return out
}

// isTrue says whether a boolean flag's value is true.
func isTrue(v string) bool {
	b, err := strconv.ParseBool(v)
	return err == nil && b
}

// tlsVolume is the volume the certs one-shot writes the certificates into:
// the one mounted where its -dir flag (or that flag's default) points.
func (p *project) tlsVolume() (string, error) {
	s, cmd := p.compose.Services[certsService], p.cmds[certsService]
	if s == nil || cmd == nil {
		return "", fmt.Errorf("no service %s (./%s) to make the certificates", certsService, builds[certsService])
	}
	def, literal, declared := cmd.flagDecl("dir")
	if !declared {
		return "", fmt.Errorf("./%s declares no -dir flag", builds[certsService])
	}
	dir, ok := flags(s.Command)["dir"]
	if !ok {
		if !literal {
			return "", fmt.Errorf("service %s: set -dir; ./%s's default is not a literal", certsService, builds[certsService])
		}
		dir = def
	}
	dir = resolve(p.docker.final().workdir, dir)
	for _, m := range s.Volumes {
		if path.Clean(m.Target) != dir {
			continue
		}
		if m.Type != "volume" || m.Source == "" {
			return "", fmt.Errorf("service %s writes the certificates into %s, which is no named volume the other services could mount", certsService, dir)
		}
		return m.Source, nil
	}
	return "", fmt.Errorf("service %s writes the certificates into %s, which is no volume: they would die with its container", certsService, dir)
}

// tlsMount is where service name mounts the tls volume.
func (p *project) tlsMount(name, volume string) (mount, bool) {
	if s := p.compose.Services[name]; s != nil {
		for _, m := range s.Volumes {
			if m.Type == "volume" && m.Source == volume {
				return m, true
			}
		}
	}
	return mount{}, false
}

// identity is the devcerts identity called name.
func identity(name string) (devcerts.Identity, bool) {
	i := slices.IndexFunc(devcerts.Suite, func(id devcerts.Identity) bool { return id.Name == name })
	if i < 0 {
		return devcerts.Identity{}, false
	}
	return devcerts.Suite[i], true
}

// etcdAccounts are the etcd accounts etcd-auth makes: root and
// etcdauth.Suite's.
func etcdAccounts() []string {
	names := []string{etcdauth.Root}
	for _, a := range etcdauth.Suite {
		names = append(names, a.Name)
	}
	return names
}

// runsAs is the user service name runs as (uid:gid, or what the file says),
// and false when unknown (an image not built here that sets no user).
func (p *project) runsAs(name string) (string, bool) {
	s := p.compose.Services[name]
	switch {
	case s.User != "":
		return s.User, true
	case builds[name] != "":
		return p.docker.runtimeUser(), true
	}
	return "", false
}

func isRoot(user string) bool {
	u, _, _ := strings.Cut(user, ":")
	return u == "0" || u == "root"
}

// sameUser compares uid[:gid] forms; a side without a gid matches any.
func sameUser(a, b string) bool {
	au, ag, aok := strings.Cut(a, ":")
	bu, bg, bok := strings.Cut(b, ":")
	return au == bu && (!aok || !bok || ag == bg)
}

// checkCerts: the certs one-shot writes into a named volume, as root, and
// hands the files to the user the other images run as (the keys are 0600).
func checkCerts(p *project, r *report) {
	volume, err := p.tlsVolume()
	if err != nil {
		r.add("%v", err)
		return
	}
	if _, ok := p.compose.Volumes[volume]; !ok {
		r.add("service %s mounts volume %s, which the file's volumes do not declare", certsService, volume)
	}
	if m, _ := p.tlsMount(certsService, volume); m.ReadOnly {
		r.add("service %s mounts %s read-only, but writes the certificates there", certsService, volume)
	}
	s := p.compose.Services[certsService]
	owner, chown := flags(s.Command)["chown"]
	image := p.docker.runtimeUser()
	if !isRoot(image) && (!chown || !sameUser(owner, image)) {
		r.add("service %s: pass -chown %s: the other images run as %s, and the keys are written 0600 (-chown is %q)", certsService, image, image, owner)
	}
	if _, split := flags(s.Command)["split"]; !split {
		r.add("service %s: pass -split: without it every service that mounts %s holds every key, the CA's included", certsService, volume)
	} else if _, _, declared := p.cmds[certsService].flagDecl("split"); !declared {
		r.add("service %s: -split, but ./%s declares no such flag", certsService, builds[certsService])
	}
	if chown {
		if _, _, declared := p.cmds[certsService].flagDecl("chown"); !declared {
			r.add("service %s: -chown, but ./%s declares no such flag", certsService, builds[certsService])
		}
		if user, _ := p.runsAs(certsService); !isRoot(user) {
			r.add("service %s runs as %s, but only root can chown the files: set user: \"0\"", certsService, user)
		}
	}
}

// checkEtcdTLS: etcd serves clients over TLS with its certificate from the
// tls volume and requires a client certificate of the suite's CA, as the
// embedded etcd of the local stack does; its health check shows one;
// etcd-auth reaches it with root's.
func checkEtcdTLS(p *project, r *report) {
	volume, err := p.tlsVolume()
	if err != nil {
		return // checkCerts reports it
	}
	s := p.compose.Services[etcdService]
	if s == nil {
		return
	}
	m, ok := p.tlsMount(etcdService, volume)
	if !ok {
		r.add("service %s: mount the %s volume (read-only): its certificate is there", etcdService, volume)
		return
	}
	if !m.ReadOnly {
		r.add("service %s mounts %s read-write; mount it :ro", etcdService, volume)
	}
	dir := path.Clean(m.Target)
	// etcd's certificate is the one that names the host its clients dial.
	i := slices.IndexFunc(devcerts.Suite, func(id devcerts.Identity) bool { return slices.Contains(id.DNSNames, etcdService) })
	if i < 0 {
		r.add("no identity of devcerts.Suite names host %s: the clients would not accept etcd's certificate", etcdService)
		return
	}
	held := devcerts.Held(m.Volume.Subpath)
	if !slices.Contains(held, devcerts.Suite[i].Name) {
		r.add("service %s mounts %s's directory %q, which holds %v, not etcd's certificate %s", etcdService, volume, m.Volume.Subpath, held, devcerts.Suite[i].Name)
	}
	files := devcerts.Conf(dir, devcerts.Suite[i].Name)
	cfg, client := embed.NewConfig(), &url.URL{Scheme: "http"}
	etcdnode.WithTLS(files.CertFile, files.KeyFile, files.CAFile)(cfg, client)
	ti := cfg.ClientTLSInfo
	want := map[string]string{"cert-file": ti.CertFile, "key-file": ti.KeyFile, "trusted-ca-file": ti.TrustedCAFile}
	if ti.ClientCertAuth {
		// etcdauth's accounts have no password: only a client
		// certificate can name them.
		want["client-cert-auth"] = "true"
	}
	got := flags(s.Command)
	for _, name := range slices.Sorted(maps.Keys(want)) {
		v, ok := got[name]
		switch {
		case !ok:
			r.add("service %s: set --%s=%s, as internal/etcdnode.WithTLS runs the local stack's etcd", etcdService, name, want[name])
		case want[name] == "true" && !isTrue(v):
			r.add("service %s: --%s=%s, want true: the suite's etcd accounts are named by client certificates", etcdService, name, v)
		case want[name] != "true" && path.Clean(v) != want[name]:
			r.add("service %s: --%s=%s, but certs writes it to %s (identity %s)", etcdService, name, v, want[name], devcerts.Suite[i].Name)
		}
	}
	ports := p.etcdClientPorts()
	for _, name := range slices.Sorted(maps.Keys(got)) {
		if !strings.HasPrefix(name, "listen-client") && !strings.HasPrefix(name, "advertise-client") {
			continue
		}
		for _, raw := range strings.Split(got[name], ",") {
			u, err := url.Parse(strings.TrimSpace(raw))
			switch {
			case err != nil || u.Scheme != client.Scheme:
				r.add("service %s: --%s %q: want %s://, etcd serves clients over TLS only", etcdService, name, raw, client.Scheme)
			case strings.HasPrefix(name, "advertise") && (u.Hostname() != etcdService || !slices.Contains(ports, u.Port())):
				r.add("service %s: --%s %q: want %s://%s:PORT, a client port (%v) by the name its certificate carries", etcdService, name, raw, client.Scheme, etcdService, ports)
			}
		}
	}

	if hc := s.Healthcheck; hc != nil && len(hc.Test) > 0 && hc.Test[0] == "CMD" {
		hf := flags(hc.Test[1:])
		u, err := url.Parse(hf["endpoints"])
		if err != nil || u.Scheme != client.Scheme || !slices.Contains(ports, u.Port()) ||
			u.Hostname() != "127.0.0.1" && u.Hostname() != "localhost" {
			r.add("service %s: healthcheck --endpoints=%q: want %s://127.0.0.1:PORT, a client port (%v)", etcdService, hf["endpoints"], client.Scheme, ports)
		}
		if path.Clean(hf["cacert"]) != files.CAFile {
			r.add("service %s: healthcheck --cacert=%q, want %s", etcdService, hf["cacert"], files.CAFile)
		}
		if !slices.ContainsFunc(etcdAccounts(), func(a string) bool {
			c := devcerts.Conf(dir, a)
			return slices.Contains(held, a) && path.Clean(hf["cert"]) == c.CertFile && path.Clean(hf["key"]) == c.KeyFile
		}) {
			r.add("service %s: healthcheck --cert=%q --key=%q: etcd requires a client certificate; show one of an account its directory %q holds (%v; %s: %s)",
				etcdService, hf["cert"], hf["key"], m.Volume.Subpath, held, etcdauth.Root, devcerts.Conf(dir, etcdauth.Root).CertFile)
		}
	} else if hc != nil && len(hc.Test) > 0 {
		r.add("service %s: healthcheck %q: want [CMD, etcdctl, --endpoints=…, --cacert=…, --cert=…, --key=…, endpoint, health]", etcdService, hc.Test)
	}

	// etcd-auth logs in as root with root's certificate from its -tls dir.
	a, cmd := p.compose.Services[etcdAuthService], p.cmds[etcdAuthService]
	if a == nil || cmd == nil {
		return
	}
	af := flags(a.Command)
	am, ok := p.tlsMount(etcdAuthService, volume)
	if !ok {
		r.add("service %s: mount the %s volume (read-only): root's certificate is there", etcdAuthService, volume)
	} else if !am.ReadOnly {
		r.add("service %s mounts %s read-write; mount it :ro", etcdAuthService, volume)
	}
	if ok && !slices.Contains(devcerts.Held(am.Volume.Subpath), etcdauth.Root) {
		r.add("service %s mounts %s's directory %q, which does not hold root's certificate", etcdAuthService, volume, am.Volume.Subpath)
	}
	for _, f := range []string{"tls", "endpoints"} {
		if _, _, declared := cmd.flagDecl(f); !declared {
			r.add("./%s declares no -%s flag", builds[etcdAuthService], f)
		}
	}
	if ok && path.Clean(af["tls"]) != path.Clean(am.Target) {
		r.add("service %s: -tls %q, but it mounts the %s volume at %s", etcdAuthService, af["tls"], volume, am.Target)
	}
	endpoints, ok := af["endpoints"]
	if !ok {
		r.add("service %s: set -endpoints to the %s service's client port %v; its default is the container's loopback", etcdAuthService, etcdService, ports)
	}
	for _, h := range strings.Split(endpoints, ",") {
		if host, port, err := net.SplitHostPort(strings.TrimSpace(h)); ok && (err != nil || host != etcdService || !slices.Contains(ports, port)) {
			r.add("service %s: -endpoints entry %q is not the %s service's client port %v", etcdAuthService, h, etcdService, ports)
		}
	}
}

// checkPeerTLS: each process that speaks gRPC or etcd gets, as in
// internal/suite's secureEnv, its own certificate's files from the tls
// volume it mounts read-only; that certificate is one devcerts makes, its
// name an etcd account, and for a branch service it names the etcd key its
// callers verify. Every other service gets none of it.
func checkPeerTLS(p *project, r *report) {
	volume, err := p.tlsVolume()
	if err != nil {
		return // checkCerts reports it
	}
	// The keys belong to -chown's user, else to the user certs runs as.
	owner, chown := flags(p.compose.Services[certsService].Command)["chown"]
	if !chown {
		owner, _ = p.runsAs(certsService)
	}
	for _, name := range slices.Sorted(maps.Keys(p.identities)) {
		id := p.identities[name]
		cert, ok := identity(id)
		if !ok {
			r.add("%s gives %s the certificate %q, which devcerts.Suite does not make", suiteDir, name, id)
		}
		if !slices.Contains(etcdAccounts(), id) {
			r.add("%s gives %s the certificate %q, but etcdauth.Suite has no such etcd account", suiteDir, name, id)
		}
		if b := p.branch[name]; b != nil && ok && !slices.Contains(cert.DNSNames, b.Etcd.Key) {
			r.add("certificate %q does not name %s's etcd key %q, which its callers verify", id, name, b.Etcd.Key)
		}
		s := p.compose.Services[name]
		if s == nil {
			r.add("%s runs process %s, which is not a service of %s", suiteDir, name, composeName)
			continue
		}
		m, mounted := p.tlsMount(name, volume)
		if !mounted {
			r.add("service %s: mount the %s volume read-only: its certificate %s is there", name, volume, id)
			continue
		}
		if !m.ReadOnly {
			r.add("service %s mounts %s read-write; mount it :ro", name, volume)
		}
		if m.Volume.Subpath != id {
			r.add("service %s: mount only its own directory of %s (volume: { subpath: %s }), not %q: it must hold no other key", name, volume, id, m.Volume.Subpath)
		}
		files := reflect.ValueOf(devcerts.Conf(path.Clean(m.Target), id))
		for _, e := range p.secureEnv {
			f := files.FieldByName(e.field)
			if !f.IsValid() || f.Kind() != reflect.String {
				r.add("%s: secureEnv sets %s from field %s, which devcerts.Conf's result has not", suiteDir, e.name, e.field)
				continue
			}
			want := f.String()
			switch v, ok := s.Environment[e.name]; {
			case !ok:
				r.add("service %s: set %s=%s (its certificate %s), as %s's secureEnv does", name, e.name, want, id, suiteDir)
			case path.Clean(v) != want:
				r.add("service %s: %s=%s, want %s (its certificate %s)", name, e.name, v, want, id)
			}
		}
		for _, key := range etcdPasswordEnv {
			if _, ok := s.Environment[key]; ok {
				r.add("service %s sets %s: its etcd account is its certificate's (%s), with no password", name, key, id)
			}
		}
	}
	for _, name := range sortedServices(p) {
		s := p.compose.Services[name]
		if _, ok := p.identities[name]; !ok {
			for _, e := range p.secureEnv {
				if _, set := s.Environment[e.name]; set {
					r.add("service %s sets %s, but has no identity in %s: it speaks neither gRPC nor etcd", name, e.name, suiteDir)
				}
			}
		}
		m, ok := p.tlsMount(name, volume)
		if !ok || name == certsService {
			continue
		}
		if _, known := identity(m.Volume.Subpath); !known {
			r.add("service %s mounts %s %s: mount one identity's directory (volume: { subpath: NAME }), or it holds every key, the CA's included", name, volume,
				map[bool]string{true: "whole", false: fmt.Sprintf("at subpath %q, which is no identity's", m.Volume.Subpath)}[m.Volume.Subpath == ""])
		}
		if _, ok := p.identities[name]; !ok && name != etcdService && name != etcdAuthService {
			r.add("service %s mounts the %s volume but uses no certificate: it would hold every key for nothing", name, volume)
		}
		if user, known := p.runsAs(name); known && !isRoot(user) && !sameUser(user, owner) {
			r.add("service %s runs as %s, but certs hands the keys (0600) to %s", name, user, owner)
		}
	}
}

// waitsFor says whether service name starts only once dependency dep has
// met cond: name, or a service it waits for in turn, depends on dep with
// that condition.
func (p *project) waitsFor(name, dep, cond string) bool {
	seen := map[string]bool{}
	queue := []string{name}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		if seen[cur] {
			continue
		}
		seen[cur] = true
		s := p.compose.Services[cur]
		if s == nil {
			continue
		}
		if s.DependsOn[dep] == cond {
			return true
		}
		queue = append(queue, slices.Collect(maps.Keys(s.DependsOn))...)
	}
	return false
}
