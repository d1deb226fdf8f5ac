package compose

import (
	"net/url"
	"path"
	"strings"
	"time"
)

// The checks of the transactional outbox's part of the stack: Redis, which
// holds asynq's queues; the relay, which publishes the user database's
// outbox rows there; the mailer, which sends the mails; the development
// mail server, which keeps them; the projector, which applies the events
// to the read model.

// checkQueuesAndMail: the redisClients reach the redis service (with its
// password, if it has one); the mailer sends to the mail service's SMTP
// port and links to the gateway as published; the console reads the mail
// service's HTTP API.
func checkQueuesAndMail(p *project, r *report) {
	if rs := p.compose.Services[redisService]; rs != nil {
		rf := flags(rs.Command)
		port := redisPort
		if v, ok := rf["port"]; ok {
			port = v
		}
		want, password := redisService+":"+port, rf["requirepass"]
		for _, name := range redisClients {
			if p.compose.Services[name] == nil {
				continue
			}
			switch v, ok := p.env(name, "REDIS_ADDR"); {
			case !ok:
				r.add("service %s: set REDIS_ADDR=%s; by default it looks for Redis on the container's loopback", name, want)
			case v != want:
				r.add("service %s: REDIS_ADDR=%q, want %s (the %s service)", name, v, want, redisService)
			}
			if v, _ := p.env(name, "REDIS_PASSWORD"); v != password {
				r.add("service %s: REDIS_PASSWORD=%q, but the %s service's --requirepass is %q", name, v, redisService, password)
			}
		}
	}

	if p.compose.Services[mailService] != nil {
		if p.compose.Services["mailer"] != nil {
			port, err := p.listenAt(mailService, "SMTP_LISTEN")
			want := mailService + ":" + port
			switch v, ok := p.env("mailer", "SMTP_ADDR"); {
			case err != nil:
				r.add("service %s: %v", mailService, err)
			case !ok:
				r.add("service mailer: set SMTP_ADDR=%s; by default it sends to the container's loopback", want)
			case v != want:
				r.add("service mailer: SMTP_ADDR=%q, want %s (the %s service's SMTP_LISTEN)", v, want, mailService)
			}
		}
		if p.compose.Services["console"] != nil {
			port, err := p.listenAt(mailService, "MAIL_HTTP_LISTEN")
			host := mailService + ":" + port
			v, ok := p.env("console", "MAILBOX_URL")
			u, perr := url.Parse(v)
			switch {
			case err != nil:
				r.add("service %s: %v", mailService, err)
			case !ok:
				r.add("service console: set MAILBOX_URL=http://%s; by default it reads the container's loopback", host)
			case perr != nil || u.Scheme != "http" || u.Host != host || strings.Trim(u.Path, "/") != "":
				r.add("service console: MAILBOX_URL=%q, want http://%s (the %s service's MAIL_HTTP_LISTEN)", v, host, mailService)
			}
		}
	}

	// The link in a mail is opened on the host: it must name the gateway
	// where it is published.
	if p.compose.Services["mailer"] != nil && p.compose.Services["userapi"] != nil {
		target, _, err := p.listenPort("userapi")
		published := ""
		for _, pt := range p.compose.Services["userapi"].Ports {
			if pt.Target == target && pt.HostIP == "127.0.0.1" {
				published = pt.Published
			}
		}
		if err != nil || published == "" {
			return // checkPublished reports it
		}
		want := "http://127.0.0.1:" + published
		v, ok := p.env("mailer", "PUBLIC_BASE_URL")
		u, perr := url.Parse(v)
		switch {
		case !ok:
			r.add("service mailer: set PUBLIC_BASE_URL=%s, the gateway as published", want)
		case perr != nil || u.Scheme != "http" || (u.Hostname() != "127.0.0.1" && u.Hostname() != "localhost") ||
			u.Port() != published || strings.Trim(u.Path, "/") != "":
			r.add("service mailer: PUBLIC_BASE_URL=%q, want %s: the links in the mails must reach the gateway as published on the host", v, want)
		}
	}
}

// checkMailDir: the mail server keeps its messages on a named volume its
// user can write. A message lost is lost for good: the mailer records each
// mail it sent and does not send it again.
func checkMailDir(p *project, r *report) {
	s, cmd := p.compose.Services[mailService], p.cmds[mailService]
	if s == nil || cmd == nil {
		return
	}
	def, _ := cmd.defaultOf("MAIL_DIR")
	dir, set := s.Environment["MAIL_DIR"]
	if v, ok := flags(s.Command)["dir"]; ok {
		if v == "" {
			return // -dir '': in memory, by choice
		}
		dir, set = v, true
	}
	switch {
	case !set:
		r.add("service %s: set MAIL_DIR to a directory on a named volume: by default ./%s keeps the messages in %q, inside the container", mailService, builds[mailService], def)
		return
	case dir == "":
		r.add("service %s: MAIL_DIR is empty, which ./%s reads as unset (%q): name a directory on a named volume, or pass -dir '' to keep the messages in memory", mailService, builds[mailService], def)
		return
	}
	dir = resolve(p.docker.final().workdir, dir)
	var m *mount
	for i, v := range s.Volumes {
		t := path.Clean(v.Target)
		if v.Type == "volume" && v.Source != "" && (dir == t || strings.HasPrefix(dir, t+"/")) {
			m = &s.Volumes[i]
		}
	}
	if m == nil {
		r.add("service %s: MAIL_DIR=%s is on no named volume: the messages would go with the container", mailService, dir)
		return
	}
	if m.ReadOnly {
		r.add("service %s mounts %s read-only, but keeps the messages there", mailService, m.Source)
	}
	// A new volume takes the owner of the directory it is mounted on in the
	// image; Docker creates a missing one as root's.
	if user, known := p.runsAs(mailService); known && !isRoot(user) {
		if home := p.docker.runtimeHome(); home != "" && s.User == "" && path.Clean(m.Target) != home {
			r.add("service %s mounts volume %s at %s, which the image does not hold for %s: the volume's root would be root's and the server could not write it; mount it at %s (its home)",
				mailService, m.Source, m.Target, user, home)
		}
	}
}

// checkStopGrace: a service whose config gives it longer than Docker's
// default to stop after SIGTERM gets that long (stop_grace_period), or
// Docker kills it with its work in flight.
func checkStopGrace(p *project, r *report) {
	for _, name := range sortedServices(p) {
		sc := p.serviceConf(name)
		if sc == nil {
			continue
		}
		need, setting := sc.Shutdown.WaitTime, "Shutdown.WaitTime"
		if w := p.worker[name]; w != nil && w.ShutdownTimeout > need {
			need, setting = w.ShutdownTimeout, "ShutdownTimeout"
		}
		grace := dockerStopTimeout
		if v := p.compose.Services[name].StopGracePeriod; v != "" {
			d, err := time.ParseDuration(v)
			if err != nil {
				r.add("service %s: stop_grace_period %q: %v", name, v, err)
				continue
			}
			grace = d
		}
		if grace < need {
			r.add("service %s: %s gives it %s to stop after SIGTERM (%s), but Docker kills it after %s: set stop_grace_period to %s or more",
				name, p.configs[name], need, setting, grace, need)
		}
	}
}
