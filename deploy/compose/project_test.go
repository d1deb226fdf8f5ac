package compose

import (
	"fmt"
	"maps"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"time"

	dtmconfig "github.com/dtm-labs/dtm/dtmsvr/config"
	"github.com/zeromicro/go-zero/core/conf"
	"github.com/zeromicro/go-zero/core/service"
	"github.com/zeromicro/go-zero/rest"
	"github.com/zeromicro/go-zero/zrpc"
	"gopkg.in/yaml.v3"

	"sagasuite/internal/store"
)

// What docker-compose.yml must describe. Ports, keys and database names
// are not repeated here: the checks read them from the code and configs.
const (
	composeName = "docker-compose.yml"
	// mysqlService and etcdService are the names the other services reach
	// them by; dtmService is the DTM server's.
	mysqlService = "mysql"
	etcdService  = "etcd"
	dtmService   = "dtm"
	mysqlImage   = "mariadb:10.11"
	// mysqlPort is what the MariaDB image listens on.
	mysqlPort = "3306"
	// etcdImage is followed by the etcd server version in go.mod, the one
	// the tests run embedded.
	etcdImage = "quay.io/coreos/etcd:"
	// probeDir is the health-check probe every image built here carries.
	probeDir = "deploy/healthcheck"
	// consoleHealthPath is the console's saga list, its health check.
	consoleHealthPath = "/api/sagas"
	// certsService makes the certificates into the tls volume;
	// etcdAuthService turns etcd's authentication on.
	certsService    = "certs"
	etcdAuthService = "etcd-auth"
	// suiteDir holds secureEnv: the TLS environment the local stack and the
	// tests give each process, which compose mirrors.
	suiteDir = "internal/suite"
	// redisService holds asynq's queues (the relay's and the mailer's), from
	// redisImage, which listens on redisPort unless its --port says
	// otherwise.
	redisService = "redis"
	redisImage   = "redis:7"
	redisPort    = "6379"
	// mailService is the development mail server (dev/mail); its HTTP API
	// lists the messages at mailHealthPath, its health check.
	mailService    = "mail"
	mailHealthPath = "/api/messages"
	// rebuildService rebuilds the read model on demand (deploy/rebuild).
	rebuildService = "rebuild"
	// dockerStopTimeout is how long Docker waits after SIGTERM before it
	// kills a container whose stop_grace_period is not set.
	dockerStopTimeout = 10 * time.Second

	started   = "service_started"
	healthy   = "service_healthy"
	completed = "service_completed_successfully"
)

// builds maps each service built from our Dockerfile to its SERVICE build
// argument, the package path of its command.
var builds = map[string]string{
	"migrate":       "deploy/migrate",
	certsService:    "deploy/certs",
	etcdAuthService: "deploy/etcdauth",
	"dtm":           "dtm",
	"user":          "user",
	"user-score":    "user-score",
	"userapi":       "userapi",
	"console":       "console",
	"relay":         "relay",
	"mailer":        "mailer",
	"projector":     "projector",
	mailService:     "dev/mail",
	rebuildService:  "deploy/rebuild",
}

// goZero are the go-zero servers, which find each other through etcd.
var goZero = []string{"user", "user-score", "userapi"}

// devServers are the services with a dev server as go-zero configures it
// (DevServer in their YAML, DEV_SERVER_HOST and DEV_SERVER_PORT), whose
// /healthz their health check probes. The relay, the mailer and the
// projector serve it themselves, from the same settings.
var devServers = []string{"user", "user-score", "userapi", "relay", "mailer", "projector"}

// workers are the services that read the outbox from the user database
// and asynq's queues from Redis.
var workers = []string{"relay", "mailer", "projector"}

// redisClients are the services that reach the redis service: the workers
// for asynq's queues (the projector also for the read model it writes),
// the gateway for the read model, the console for asynq's web UI and the
// read model, the rebuild tool for the read model it replaces.
var redisClients = []string{"relay", "mailer", "projector", "userapi", "console", rebuildService}

// readModel are the services that share the read model in Redis: the
// projector writes it (first), the rebuild replaces it, the others read it.
var readModel = []string{"projector", "userapi", "console", rebuildService}

// tools are the services run by hand (docker compose run --rm NAME), never
// by `docker compose up`: each is in a profile, and no other service is.
var tools = map[string]bool{rebuildService: true}

// toolFlags are the flags of a tool's command that set what the checks
// compare, each with the variable the checks read instead: the file gives
// a tool its settings in its environment, not on its command line.
var toolFlags = map[string]map[string]string{
	rebuildService: {"dsn": "MYSQL_DSN", "user-db": "USER_DB", "user-score-db": "USER_SCORE_DB", "dtm-db": "DTM_DB",
		"redis": "REDIS_ADDR", "prefix": "READ_MODEL_PREFIX"},
}

// oneShot services run to completion; every other one is long-running.
var oneShot = map[string]bool{"migrate": true, certsService: true, etcdAuthService: true, rebuildService: true}

// publishers are the only services with ports on the host.
var publishers = map[string]bool{"userapi": true, dtmService: true, "console": true, mailService: true}

// startOrder lists the depends_on edges the stack needs.
var startOrder = []struct{ service, dependency, condition string }{
	{"migrate", mysqlService, healthy},
	{etcdService, certsService, completed},
	{etcdAuthService, etcdService, healthy},
	{dtmService, "migrate", completed},
	{dtmService, etcdService, healthy},
	{dtmService, etcdAuthService, completed},
	{"user", "migrate", completed},
	{"user", etcdService, healthy},
	{"user", etcdAuthService, completed},
	{"user-score", "migrate", completed},
	{"user-score", etcdService, healthy},
	{"user-score", etcdAuthService, completed},
	{"userapi", dtmService, healthy},
	{"userapi", "user", healthy},
	{"userapi", "user-score", healthy},
	{"console", "migrate", completed},
	{"console", dtmService, healthy},
	{"relay", "migrate", completed},
	{"relay", redisService, healthy},
	{"mailer", "migrate", completed},
	// The mailer's /healthz answers 503 until Redis answers.
	{"mailer", redisService, healthy},
	{"mailer", mailService, healthy},
	{"projector", "migrate", completed},
	// The projector's /healthz answers 503 until Redis answers.
	{"projector", redisService, healthy},
	// The gateway and the console read the read model, but serve without
	// it (its reads answer 503 while Redis is down; registrations and the
	// saga list do not need it): Redis is started first, not waited for.
	{"userapi", redisService, started},
	{"console", redisService, started},
	// It reads the tables migrate makes and writes into Redis.
	{rebuildService, "migrate", completed},
	{rebuildService, redisService, healthy},
}

// branchConf is the part of user.yaml / user-score.yaml the checks use,
// read with go-zero's own loader and types (defaults included).
type branchConf struct {
	zrpc.RpcServerConf
	DataSource string
}

// gatewayConf is the part of userapi.yaml the checks use; of ReadModel,
// what the file says (the defaults are in the code's tags).
type gatewayConf struct {
	rest.RestConf
	UserRpc      zrpc.RpcClientConf
	UserScoreRpc zrpc.RpcClientConf
	ReadModel    struct {
		Prefix string `json:",optional"`
	} `json:",optional"`
}

// workerConf is the part of relay.yaml, mailer.yaml and projector.yaml the
// checks use (their config packages are internal to them): go-zero's
// service settings and what each file says of the rest, empty where it
// says nothing.
type workerConf struct {
	service.ServiceConf
	DataSource string `json:",optional"`
	RedisAddr  string `json:",optional"`
	// The projector's.
	ReadModelPrefix string `json:",optional"`
	// The mailer's.
	SmtpAddr        string        `json:",optional"`
	PublicBaseURL   string        `json:",optional"`
	CodeKey         string        `json:",optional"`
	ShutdownTimeout time.Duration `json:",optional"`
}

// project is what the checks compare: the compose file and, from the
// repository, the Dockerfile and the code and configs of every command.
type project struct {
	root        string
	module      string
	compose     *composeFile
	raw         string
	docker      *dockerfile
	etcdVersion string
	cmds        map[string]*command // by service, for the services in builds
	configs     map[string]string   // repository path of each service's config

	branch  map[string]*branchConf // user and user-score
	gateway gatewayConf
	dtm     dtmconfig.Type
	worker  map[string]*workerConf // relay, mailer and projector

	// identities maps each process that speaks gRPC or etcd to its
	// certificate (devcerts name), and secureEnv are the variables that
	// give it that certificate's files: internal/suite's, read from source.
	identities map[string]string
	secureEnv  []envFile
}

// loadProject reads docker-compose.yml in root and everything it refers to.
func loadProject(root string) (*project, error) {
	p := &project{root: root, cmds: map[string]*command{}, configs: map[string]string{},
		branch: map[string]*branchConf{}, worker: map[string]*workerConf{}}
	gomod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		return nil, err
	}
	if m := regexp.MustCompile(`(?m)^module\s+(\S+)`).FindSubmatch(gomod); m != nil {
		p.module = string(m[1])
	}
	if m := regexp.MustCompile(`go\.etcd\.io/etcd/server/v3\s+(v\S+)`).FindSubmatch(gomod); m != nil {
		p.etcdVersion = string(m[1])
	}
	raw, err := os.ReadFile(filepath.Join(root, composeName))
	if err != nil {
		return nil, err
	}
	p.raw = string(raw)
	if p.compose, err = parseCompose(raw); err != nil {
		return nil, fmt.Errorf("%s: %w", composeName, err)
	}
	// The Dockerfile of the first service built here; checkFiles makes
	// sure all of them use the same one.
	for _, name := range slices.Sorted(maps.Keys(builds)) {
		if s := p.compose.Services[name]; s != nil && s.Build != nil {
			text, err := os.ReadFile(filepath.Join(root, s.Build.Context, dockerfileOf(s.Build)))
			if err != nil {
				return nil, fmt.Errorf("service %s: %w", name, err)
			}
			p.docker = parseDockerfile(string(text))
			break
		}
	}
	if p.docker == nil {
		return nil, fmt.Errorf("%s builds none of %v", composeName, slices.Sorted(maps.Keys(builds)))
	}
	for name, pkg := range builds {
		if _, err := os.Stat(filepath.Join(root, pkg)); err != nil {
			continue // checkFiles reports it
		}
		if p.cmds[name], err = readCommand(root, p.module, pkg); err != nil {
			return nil, fmt.Errorf("service %s: reading ./%s: %w", name, pkg, err)
		}
	}
	for _, name := range append([]string{"user", "user-score", "userapi", dtmService}, workers...) {
		if p.cmds[name] == nil {
			return nil, fmt.Errorf("service %s: no source in ./%s", name, builds[name])
		}
		if p.configs[name], err = p.configFile(name); err != nil {
			return nil, fmt.Errorf("service %s: %w", name, err)
		}
	}
	for _, name := range []string{"user", "user-score"} {
		p.branch[name] = &branchConf{}
		if err := conf.Load(filepath.Join(root, p.configs[name]), p.branch[name]); err != nil {
			return nil, fmt.Errorf("%s: %w", p.configs[name], err)
		}
	}
	if err := conf.Load(filepath.Join(root, p.configs["userapi"]), &p.gateway); err != nil {
		return nil, fmt.Errorf("%s: %w", p.configs["userapi"], err)
	}
	for _, name := range workers {
		p.worker[name] = &workerConf{}
		if err := conf.Load(filepath.Join(root, p.configs[name]), p.worker[name]); err != nil {
			return nil, fmt.Errorf("%s: %w", p.configs[name], err)
		}
	}
	data, err := os.ReadFile(filepath.Join(root, p.configs[dtmService]))
	if err != nil {
		return nil, err
	}
	if err := yaml.Unmarshal(data, &p.dtm); err != nil {
		return nil, fmt.Errorf("%s: %w", p.configs[dtmService], err)
	}
	applyDefaults(reflect.ValueOf(&p.dtm).Elem())
	if p.identities, p.secureEnv, err = readSecureEnv(filepath.Join(root, suiteDir)); err != nil {
		return nil, err
	}
	return p, nil
}

// configFile is the repository path of the config file service name runs
// with: the command's config flag (from the compose command, else its
// default in the source), found in the image through a bind mount or the
// Dockerfile's COPY from the build context.
func (p *project) configFile(name string) (string, error) {
	flagName, file, ok := p.cmds[name].configFlag()
	if !ok {
		return "", fmt.Errorf("no flag.String(…, \"….yaml\", …) naming a config file in ./%s", builds[name])
	}
	cmd := p.compose.Services[name].Command
	if i := slices.Index(cmd, "-"+flagName); i >= 0 && i+1 < len(cmd) {
		file = cmd[i+1]
	}
	inImage := file
	if !path.IsAbs(inImage) {
		inImage = resolve(p.docker.final().workdir, file)
	}
	for _, m := range p.compose.Services[name].Volumes {
		if m.Type == "bind" && path.Clean(m.Target) == inImage {
			if !m.ReadOnly {
				return "", fmt.Errorf("config %s is mounted read-write; mount it :ro", inImage)
			}
			return filepath.Clean(m.Source), nil
		}
	}
	src, from, ok := p.docker.copiedFrom(inImage)
	if !ok {
		return "", fmt.Errorf("the image has no %s (the Dockerfile does not copy it in and no bind mount provides it)", inImage)
	}
	rel, ok := from.fromContext(src)
	if !ok {
		return "", fmt.Errorf("the image's %s is %s of stage %q, which is not from the build context", inImage, src, from.name)
	}
	return rel, nil
}

// applyDefaults sets the zero fields of DTM's config to their `default`
// tags, as DTM's loader does.
func applyDefaults(v reflect.Value) {
	for i := range v.NumField() {
		f, tag := v.Field(i), v.Type().Field(i).Tag.Get("default")
		switch {
		case !f.CanSet():
		case f.Kind() == reflect.Struct:
			applyDefaults(f)
		case tag == "" || !f.IsZero():
		case f.Kind() == reflect.Int64:
			n, _ := strconv.ParseInt(tag, 10, 64)
			f.SetInt(n)
		case f.Kind() == reflect.String:
			f.SetString(tag)
		}
	}
}

func dockerfileOf(b *buildSpec) string {
	if b.Dockerfile != "" {
		return b.Dockerfile
	}
	return "Dockerfile"
}

// serviceConf is go-zero's service settings of service name (Name, Log,
// DevServer, Shutdown), as its YAML says, or nil for a service without.
func (p *project) serviceConf(name string) *service.ServiceConf {
	switch {
	case p.branch[name] != nil:
		return &p.branch[name].ServiceConf
	case name == "userapi":
		return &p.gateway.ServiceConf
	case p.worker[name] != nil:
		return &p.worker[name].ServiceConf
	}
	return nil
}

// env returns service name's environment variable key.
func (p *project) env(name, key string) (string, bool) {
	s := p.compose.Services[name]
	if s == nil {
		return "", false
	}
	v, ok := s.Environment[key]
	return v, ok
}

// databases are the names migrate creates.
func (p *project) databases() store.Databases { return p.databasesOf("migrate") }

// databasesOf are the database names an operator command (internal/schema's
// flags) uses as service name runs it: the schema package's defaults
// unless the compose file overrides them.
func (p *project) databasesOf(name string) store.Databases {
	dbs := store.Default
	for key, dst := range map[string]*string{"USER_DB": &dbs.User, "USER_SCORE_DB": &dbs.UserScore, "DTM_DB": &dbs.DTM} {
		if v, ok := p.env(name, key); ok && v != "" {
			*dst = v
		}
	}
	return dbs
}
