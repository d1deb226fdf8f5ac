// Package floorrpc names the floors' branch service, which the floors
// command serves and registers in etcd, and which DTM calls for the floor
// sagas, whether the floors command or the benchmark itself submits them.
package floorrpc

import "strings"

const (
	// Key is the etcd key the branch service registers under.
	Key = "bench-floor.rpc"
	// Service is its gRPC service name (registered by hand: no protoc step,
	// Empty in and out).
	Service = "benchfloor.Floor"
)

// URL is a branch URL of method in the form DTM's go-zero driver resolves:
// etcd://<hosts>/<key>/<service>/<method>.
func URL(etcdHosts []string, method string) string {
	return "etcd://" + strings.Join(etcdHosts, ",") + "/" + Key + "/" + Service + "/" + method
}
