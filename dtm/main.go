// Command dtm runs the DTM server (github.com/dtm-labs/dtm v1.19.0) with
// our configuration, in its own process. dtm's stock main cannot be built
// inside this module: it imports every microservice driver, one of which
// does not compile against our gRPC version.
//
//	go run ./dtm -c dtm/conf.yaml
package main

import (
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"net/url"
	"os"
	"os/signal"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	_ "github.com/dtm-labs/driver-gozero" // registers dtm-driver-gozero (etcd)
	"github.com/dtm-labs/dtm/dtmsvr"
	"github.com/dtm-labs/dtm/dtmsvr/config"
	"github.com/dtm-labs/dtm/dtmsvr/storage/registry"
	"github.com/dtm-labs/dtmdriver"
	"github.com/dtm-labs/logger"
	"github.com/zeromicro/go-zero/core/discov"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"

	"sagasuite/rpc-common/envconf"
	"sagasuite/rpc-common/peertls"
)

func main() {
	confFile := flag.String("c", "dtm/conf.yaml", "DTM server configuration file")
	flag.Parse()

	// The same steps as dtm's own entry.
	dtmsvr.Version = dtmVersion() // DTM's Makefile sets it (-ldflags); the dashboard warns if it differs from its own
	config.MustLoadConfig(*confFile)
	conf := &config.Config
	applyEnv(conf)
	logger.InitLog2(conf.LogLevel, conf.Log.Outputs, conf.Log.RotationEnable, conf.Log.RotationConfigJSON)
	logger.WithLogger(newRedacting(conf.LogLevel))
	etcdAccess(conf.MicroService.Target)
	branchTLS := secureBranches()
	quietGorm()
	registry.WaitStoreUp()
	serveDebug(os.Getenv("DEBUG_LISTEN"))
	httpLn := listenHTTP(conf.HTTPPort)
	app := dtmsvr.StartSvr()
	addDashboard(app, conf.AdminBasePath)
	go serveHTTP(httpLn, app)
	// Without the cron nothing is ever retried and no timeout fires.
	go dtmsvr.CronExpiredTrans(-1)
	fmt.Printf("dtm ready: http %s grpc :%d, registered as %s, branches over %s\n",
		httpLn.Addr(), conf.GrpcPort, conf.MicroService.Target, peertls.Mode(branchTLS))

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	<-stop
	logger.Infof("dtm shutting down")
}

// applyEnv lets the environment win over the file. (DTM itself reads the
// environment first and lets the file override it, which makes a shipped
// config impossible to adjust per deployment.)
func applyEnv(c *config.Type) {
	str := func(dst *string, name string) {
		if v := os.Getenv(name); v != "" {
			*dst = v
		}
	}
	num := func(dst *int64, name string) {
		if v := os.Getenv(name); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				logger.FatalfIf(true, "%s=%q: not a number", name, v)
			}
			*dst = n
		}
	}
	str(&c.Store.Driver, "STORE_DRIVER")
	str(&c.Store.Host, "STORE_HOST")
	num(&c.Store.Port, "STORE_PORT")
	str(&c.Store.User, "STORE_USER")
	str(&c.Store.Password, "STORE_PASSWORD")
	str(&c.Store.Db, "STORE_DB")
	num(&c.HTTPPort, "HTTP_PORT")
	num(&c.GrpcPort, "GRPC_PORT")
	str(&c.MicroService.Target, "MICRO_SERVICE_TARGET")
	str(&c.MicroService.EndPoint, "MICRO_SERVICE_END_POINT")
	str(&c.LogLevel, "LOG_LEVEL")
	num(&c.UpdateBranchSync, "UPDATE_BRANCH_SYNC")
}

// etcdAccess gives DTM's etcd client (go-zero's, through the driver: it
// registers DTM and resolves the branches) the account and TLS material
// of ETCD_USER/ETCD_PASS and ETCD_CERT/ETCD_KEY/ETCD_CA, for the etcd
// hosts of target (etcd://host1,host2/dtmservice).
func etcdAccess(target string) {
	u, err := url.Parse(target)
	if err != nil || u.Host == "" {
		return
	}
	c := discov.EtcdConf{Hosts: strings.Split(u.Host, ",")}
	envconf.EtcdAccess(&c)
	if c.HasAccount() {
		discov.RegisterAccount(c.Hosts, c.User, c.Pass)
	}
	if c.CertFile != "" || c.CertKeyFile != "" || c.CACertFile != "" {
		logger.FatalIfError(discov.RegisterTLS(c.Hosts, c.CertFile, c.CertKeyFile, c.CACertFile, false))
	}
}

// secureBranches turns on mutual TLS for DTM's branch calls when TLS_CERT,
// TLS_KEY and TLS_CA are set: DTM's own client dials insecurely, so each
// call is rerouted onto a TLS connection by a driver middleware (see
// rpc-common/peertls.Rerouter).
func secureBranches() bool {
	c := peertls.Conf{}
	c.ApplyEnv()
	on, err := c.Enabled()
	logger.FatalIfError(err)
	if !on {
		return false
	}
	_, err = c.ClientCreds("") // fail at start, not at the first branch
	logger.FatalIfError(err)
	r := peertls.NewRerouter(c, grpc.WithConnectParams(grpc.ConnectParams{
		// A restarted branch service is found again within a second or two,
		// not after gRPC's backoff of up to two minutes.
		Backoff:           backoff.Config{BaseDelay: 100 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: 2 * time.Second},
		MinConnectTimeout: 2 * time.Second,
	}))
	dtmdriver.Middlewares.Grpc = append(dtmdriver.Middlewares.Grpc, r.Intercept)
	return true
}

// serveDebug serves Go's profiler (/debug/pprof/) on addr, when one is
// given: off by default, and meant for 127.0.0.1 only (the benchmark
// profiles DTM through it).
func serveDebug(addr string) {
	if addr == "" {
		return
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "OK") })
	ln, err := net.Listen("tcp", addr)
	logger.FatalfIf(err != nil, "DEBUG_LISTEN=%s: %v", addr, err)
	go func() { logger.Errorf("debug server: %v", http.Serve(ln, mux)) }()
}

// payload matches the base64 saga payloads DTM prints in its per-call log
// lines; ours carry password hashes, which do not belong in a log.
var payload = regexp.MustCompile(`[A-Za-z0-9+/]{32,}={0,2}`)

// redacting is DTM's logger with saga payloads cut out of every line. DTM
// calls Debugf and Infof on every request whatever the level, so a line is
// formatted (and searched for payloads) only when its level is enabled.
type redacting struct {
	l     *zap.Logger
	level zap.AtomicLevel
}

func (r redacting) log(l zapcore.Level, format string, args []any) {
	if l < zapcore.ErrorLevel && !r.level.Enabled(l) {
		return
	}
	msg := fmt.Sprintf(format, args...)
	if l >= zapcore.ErrorLevel {
		var keep bool
		if l, keep = levelOf(l, msg); !keep || !r.level.Enabled(l) {
			return
		}
	}
	r.l.Log(l, payload.ReplaceAllString(msg, "<payload>"))
}

func (r redacting) Debugf(format string, args ...any) { r.log(zapcore.DebugLevel, format, args) }
func (r redacting) Infof(format string, args ...any)  { r.log(zapcore.InfoLevel, format, args) }
func (r redacting) Warnf(format string, args ...any)  { r.log(zapcore.WarnLevel, format, args) }
func (r redacting) Errorf(format string, args ...any) { r.log(zapcore.ErrorLevel, format, args) }

// newRedacting builds a logger like DTM's own (JSON on stderr at level).
func newRedacting(level string) redacting {
	cfg := zap.NewProductionConfig()
	if err := cfg.Level.UnmarshalText([]byte(level)); err != nil {
		logger.FatalIfError(err)
	}
	cfg.EncoderConfig.EncodeTime = zapcore.ISO8601TimeEncoder
	cfg.OutputPaths = []string{"stderr"}
	l, err := cfg.Build(zap.AddCallerSkip(3))
	logger.FatalIfError(err)
	return redacting{l: l, level: cfg.Level}
}
