// Package compose holds the test that checks docker-compose.yml against the
// code: the services it builds exist, the ports, etcd keys, databases and
// environment variables it sets are the ones the commands and their configs
// use, only the dashboards, the gateway and the mail server's HTTP API are
// published (on 127.0.0.1), every long-running service has a health check,
// and no secret is written into the file. It also checks the suite's TLS as
// the code sets it up: the certs one-shot makes devcerts' certificates into
// a volume for the images' user, etcd serves them with client certificates
// required (as internal/etcdnode does), etcd-auth provisions the accounts,
// each process gets its own certificate's files the way internal/suite's
// secureEnv gives them, and everything waits for the certificates and
// accounts it needs. And the outbox's part: the relay, the mailer, the
// projector, the gateway and the console reach the redis service, the
// projector and the readers of its read model use one key prefix, the
// workers read the user database, the mailer sends to the mail service's
// SMTP port and links to the gateway as published, the console reads the
// mail service's HTTP API, the mail server keeps its messages on a volume
// it can write, the mailer's code key comes only from the environment, and
// the mailer and the projector get the time to stop that their configs
// give them. The rebuild tool, which replaces the read model, reaches the
// same MySQL databases and Redis keys, and only by hand: it is in a
// profile, and nothing `docker compose up` starts waits for it. No Docker
// engine is needed.
package compose
