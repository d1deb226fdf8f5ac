// Package config is the user-score service's configuration
// (etc/user-score.yaml).
package config

import "sagasuite/rpc-common/branchsvc"

// Config of the user-score service: a branch service's settings (listen
// address, etcd, database, TLS; branchsvc.Conf) and its own.
type Config struct {
	branchsvc.Conf
	// RejectScore, when set, is an initial score InitScore refuses.
	RejectScore *int64 `json:",optional,env=REJECT_SCORE"`
}
