// Package compose holds the test that checks docker-compose.yml against the
// code: the services it builds exist, the ports, etcd keys, databases and
// environment variables it sets are the ones the commands and their configs
// use, only the dashboards and the gateway are published (on 127.0.0.1),
// every long-running service has a health check, and no secret is written
// into the file. It also checks the suite's TLS as the code sets it up:
// the certs one-shot makes devcerts' certificates into a volume for the
// images' user, etcd serves them with client certificates required (as
// internal/etcdnode does), etcd-auth provisions the accounts, each process
// gets its own certificate's files the way internal/suite's secureEnv gives
// them, and everything waits for the certificates and accounts it needs.
// No Docker engine is needed.
package compose
