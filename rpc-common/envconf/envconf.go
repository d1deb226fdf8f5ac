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
