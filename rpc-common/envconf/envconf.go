// Package envconf lets the environment override settings that live in
// go-zero's own config structs (ListenOn, Etcd.Hosts, …), where a `env=`
// tag cannot be added. Our own fields use go-zero's `json:",env=NAME"` tag.
package envconf

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/zeromicro/go-zero/core/discov"
	"github.com/zeromicro/go-zero/core/service"
	"github.com/zeromicro/go-zero/core/trace"

	"sagasuite/internal/tracing"
)

// String sets *dst to $name when that variable is set and not empty.
func String(dst *string, name string) {
	if v := os.Getenv(name); v != "" {
		*dst = v
	}
}

// List sets *dst to the comma-separated items of $name when it is set.
func List(dst *[]string, name string) {
	v := os.Getenv(name)
	if v == "" {
		return
	}
	var items []string
	for _, item := range strings.Split(v, ",") {
		if item = strings.TrimSpace(item); item != "" {
			items = append(items, item)
		}
	}
	*dst = items
}

// Int sets *dst to $name when it is set; a value that is not a number is
// an error, not silently ignored.
func Int(dst *int, name string) error {
	v := os.Getenv(name)
	if v == "" {
		return nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return fmt.Errorf("%s=%q: not a number", name, v)
	}
	*dst = n
	return nil
}

// DevServer applies DEV_SERVER_HOST and DEV_SERVER_PORT to go-zero's dev
// server (health probe /healthz and Prometheus /metrics).
func DevServer(c *service.DevServerConfig) error {
	String(&c.Host, "DEV_SERVER_HOST")
	return Int(&c.Port, "DEV_SERVER_PORT")
}

// Etcd applies the etcd settings every process shares: ETCD_HOSTS, the
// account (ETCD_USER, ETCD_PASS) when etcd has authentication on, and the
// client certificate and CA (ETCD_CERT, ETCD_KEY, ETCD_CA) when etcd
// serves TLS.
func Etcd(c *discov.EtcdConf) {
	List(&c.Hosts, "ETCD_HOSTS")
	EtcdAccess(c)
}

// EtcdAccess applies Etcd's settings but the hosts.
func EtcdAccess(c *discov.EtcdConf) {
	String(&c.User, "ETCD_USER")
	String(&c.Pass, "ETCD_PASS")
	String(&c.CertFile, "ETCD_CERT")
	String(&c.CertKeyFile, "ETCD_KEY")
	String(&c.CACertFile, "ETCD_CA")
}

// Telemetry applies the trace export settings: TRACE_ENDPOINT (host:port
// of an OTLP collector, or a Zipkin URL), TRACE_BATCHER (otlphttp by
// default, otlpgrpc, zipkin), TRACE_SAMPLER (0..1, default 1). name is the service's name in
// the traces unless the config names one. With no endpoint, tracing is
// off (Disabled): go-zero would otherwise record every span and drop it,
// which cost about a tenth of a branch service's CPU.
func Telemetry(c *trace.Config, name string) error {
	String(&c.Endpoint, "TRACE_ENDPOINT")
	String(&c.Batcher, "TRACE_BATCHER")
	if c.Sampler == 0 {
		// go-zero's default (1.0) is not applied when the yaml has no
		// Telemetry section; sampling nothing is tracing off, said by
		// leaving the endpoint unset.
		c.Sampler = 1
	}
	if v := os.Getenv("TRACE_SAMPLER"); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f < 0 || f > 1 {
			return fmt.Errorf("TRACE_SAMPLER=%q: not a number from 0 to 1", v)
		}
		c.Sampler = f
	}
	if c.Name == "" {
		c.Name = name
	}
	if c.Batcher == "" {
		c.Batcher = "otlphttp"
	}
	c.Disabled = c.Disabled || c.Endpoint == "" || !tracing.Compiled
	return nil
}
