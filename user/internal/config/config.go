// Package config is the user service's configuration (etc/user.yaml).
package config

import "sagasuite/rpc-common/branchsvc"

// Config of the user service: a branch service's settings (listen address,
// etcd, database, TLS; branchsvc.Conf) and its own.
type Config struct {
	branchsvc.Conf
	// BcryptCost is the suite's bcrypt cost (the gateway's BCRYPT_COST):
	// the highest accepted in a stored hash. CreateUser refuses a hash of a
	// higher cost and login refuses to compare against one, since each step
	// doubles bcrypt's work (a planted cost-31 hash would cost hours of CPU
	// per login). Raise it with the gateway's, never lower it below the
	// cost of hashes already stored: their users could no longer log in.
	BcryptCost int `json:",default=10,range=[4:31],env=BCRYPT_COST"`
}
