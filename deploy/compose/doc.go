// Package compose holds the test that checks docker-compose.yml against the
// code: the services it builds exist, the ports, etcd keys, databases and
// environment variables it sets are the ones the commands and their configs
// use, only the dashboards and the gateway are published (on 127.0.0.1),
// every long-running service has a health check, and no secret is written
// into the file. No Docker engine is needed.
package compose
