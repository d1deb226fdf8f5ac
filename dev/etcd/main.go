// Command etcd runs a single-node etcd (the real server, embedded) for local
// development, so that nobody has to install etcd to try the suite:
//
//	go run ./dev/etcd                       # 127.0.0.1:2379, data in .data/etcd
//	go run ./dev/etcd -listen 127.0.0.1:23790 -dir /tmp/etcd
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"sagasuite/internal/etcdnode"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:2379", "client address")
	dir := flag.String("dir", ".data/etcd", "data directory")
	flag.Parse()

	node, err := etcdnode.Start(*dir, *listen)
	if err != nil {
		fmt.Fprintf(os.Stderr, "etcd: %v\n", err)
		os.Exit(1)
	}
	defer node.Close()
	fmt.Printf("etcd ready on %s (data in %s)\n", node.Endpoint(), *dir)

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	select {
	case <-stop:
	case err := <-node.Err():
		fmt.Fprintf(os.Stderr, "etcd: %v\n", err)
		os.Exit(1)
	}
}
