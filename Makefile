# Saga suite: one go.mod; the processes are listed in internal/suite (Names).
GO ?= go
SHELL := /bin/bash
# go-zero's zrpc links a Kubernetes resolver (and client-go) unless built
# with no_k8s. The suite finds its services through etcd only, and the
# Kubernetes client was a third of a cold build's compile time (README, "A
# fast first build"). Every go command below builds with it, and so do the
# tests' own builds (internal/suite.Build), so that they share one cache.
export GOFLAGS := $(strip $(GOFLAGS) -tags=no_k8s)
BIN := $(CURDIR)/.bin
PROTO := rpc-common/proto

# DTM's client logger, linked into the tools through dtmcli, complains on
# stderr at start-up when LOG_LEVEL is unset; the tools log little anyway.
demo check retention repair: export LOG_LEVEL ?= warn

.PHONY: run mail demo test chaos fuzz check rebuild-read-model retention repair bench build build-run migrate gen check-gen admin check-admin lint

## run: build what the suite runs and start it locally (etcd embedded), Ctrl-C stops it
run: build-run
	$(BIN)/run

## mail: the development mail server alone (SMTP 127.0.0.1:2525, messages on http://127.0.0.1:8025/api/messages)
mail:
	$(GO) run ./dev/mail $(ARGS)

## demo: against a running suite, register, compensate, collide, log in; show sagas and rows
demo:
	$(GO) run ./dev/demo

## test: every test, against MariaDB/MySQL on 127.0.0.1:3306 (TEST_MYSQL_DSN)
test:
	set -o pipefail; $(GO) test -count=1 -timeout 15m ./... | grep -v '\[no test files\]'
	# tracing compiled out (the benchmark's baseline): the no-op spans
	$(GO) test -count=1 -tags no_k8s,notrace ./internal/tracing

## chaos: registrations under load while every process is killed and MariaDB restarted, then the checker
## (it restarts this machine's MariaDB; CHAOS_REQUESTS is the minimum number of registrations)
CHAOS_REQUESTS ?= 2000
chaos:
	CHAOS=1 CHAOS_REQUESTS=$(CHAOS_REQUESTS) $(GO) test -count=1 -timeout 20m -v -run TestChaos ./test/chaos

## fuzz: the request-decoding and token-parsing fuzz targets, bounded by executions
## (FUZZTIME=60s for a time budget; go1.26's coordinator can then report a spurious
## "context deadline exceeded" at the deadline, golang/go#75804, so CI counts executions)
FUZZ_DECODE ?= 20000x
FUZZ_TOKEN ?= 200000x
fuzz:
	$(GO) test -run '^$$' -fuzz FuzzDecodeRegister -fuzztime $(or $(FUZZTIME),$(FUZZ_DECODE)) ./userapi/internal/handler
	$(GO) test -run '^$$' -fuzz FuzzParseToken -fuzztime $(or $(FUZZTIME),$(FUZZ_TOKEN)) ./userapi/internal/auth

## check: the invariant checker against the local suite (MYSQL_DSN, USER_DB, USER_SCORE_DB, DTM_DB;
## the read model in REDIS_ADDR, default 127.0.0.1:6379, as make run uses it)
check:
	$(GO) run ./deploy/sagacheck -redis "$${REDIS_ADDR:-127.0.0.1:6379}" $(ARGS)

## rebuild-read-model: rebuild the Redis read model from both service databases, safe under traffic
## (MYSQL_DSN, USER_DB, USER_SCORE_DB, REDIS_ADDR, READ_MODEL_PREFIX; ARGS='-page 500')
rebuild-read-model:
	$(GO) run ./deploy/rebuild $(ARGS)

## retention: delete barrier rows of sagas finished long ago (ARGS='-older-than 168h -dry-run')
retention:
	$(GO) run ./deploy/retention $(ARGS)

## repair: compensate writes of register sagas DTM never recorded (lists; ARGS=-apply acts)
repair:
	$(GO) run ./deploy/repair $(ARGS)

## bench: POST /register against DTM's floor and the outbox, tracing, read and mail figures on a private stack, three runs (~20 min); writes docs/bench.md and docs/bench.svg
bench:
	$(GO) run ./bench $(ARGS)

## build-run: compile what `make run` runs into .bin/ (the operator tools build when their target runs)
build-run:
	$(GO) build -o $(BIN)/ ./dtm ./user ./user-score ./userapi ./console ./dev/mail ./relay ./mailer ./projector ./dev/run

## build: compile every command into .bin/
build: build-run
	$(GO) build -o $(BIN)/ ./dev/etcd ./deploy/migrate ./deploy/sagacheck ./deploy/retention ./deploy/repair ./deploy/rebuild ./deploy/certs ./deploy/etcdauth

## migrate: create the databases and tables (idempotent; MYSQL_DSN)
migrate:
	$(GO) run ./deploy/migrate

## gen: regenerate the gRPC code with the pinned protoc plugins (tools/go.mod)
gen:
	GOBIN=$(BIN) $(GO) install -modfile=tools/go.mod tool
	protoc -I $(PROTO) -I /usr/include \
		--plugin=protoc-gen-go=$(BIN)/protoc-gen-go \
		--plugin=protoc-gen-go-grpc=$(BIN)/protoc-gen-go-grpc \
		--go_out=rpc-common --go_opt=module=sagasuite/rpc-common \
		--go-grpc_out=rpc-common --go-grpc_opt=module=sagasuite/rpc-common \
		$(PROTO)/*.proto

## check-gen: fail if the committed generated code is not what gen produces
check-gen: gen
	git diff --exit-code -- rpc-common

## admin: rebuild DTM's dashboard (dtm/admin/dist, committed) from the pinned DTM's admin/ source and lockfile (Node.js, npm)
admin:
	$(GO) run ./dev/admin

## check-admin: fail if the committed dtm/admin/dist is not what admin builds (a rebuild in a temp dir, compared byte for byte)
check-admin:
	$(GO) run ./dev/admin -check

## lint: gofmt and go vet
lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...
