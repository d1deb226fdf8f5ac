// Command etcdauth turns on etcd's authentication for the suite (see
// internal/etcdauth): one account per process, named by its certificate's
// common name, allowed to write only its own registration. It logs in as
// root with the root certificate (or -root-password) and can run again.
// `make run` and the tests do this for their embedded etcd; compose runs it
// once against its etcd.
//
//	go run ./deploy/etcdauth -endpoints etcd:2379 -tls /tls
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"sagasuite/internal/etcdauth"
	"sagasuite/internal/suite"
)

func main() {
	endpoints := flag.String("endpoints", envOr("ETCD_HOSTS", "127.0.0.1:2379"), "etcd endpoints, comma-separated (env ETCD_HOSTS)")
	tlsDir := flag.String("tls", ".data/tls", "the suite's certificates (deploy/certs); etcd must serve TLS with client-cert-auth")
	rootPassword := flag.String("root-password", os.Getenv("ETCD_ROOT_PASSWORD"), "root's password, if root has one (env ETCD_ROOT_PASSWORD)")
	flag.Parse()

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg, err := suite.Layout{EtcdHosts: strings.Split(*endpoints, ","), TLSDir: *tlsDir}.EtcdConfig("root")
	if err == nil {
		err = etcdauth.Provision(ctx, cfg, *rootPassword, etcdauth.Suite)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "etcdauth: %v\n", err)
		os.Exit(1)
	}
	names := make([]string, len(etcdauth.Suite))
	for i, a := range etcdauth.Suite {
		names[i] = a.Name
	}
	fmt.Printf("etcd authentication on at %s; accounts root, %s\n", *endpoints, strings.Join(names, ", "))
}

func envOr(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}
