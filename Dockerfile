# One image per command of this module:
#   docker build --build-arg SERVICE=user -t sagasuite-user .
# SERVICE is a package path: dtm, user, user-score, userapi, console, relay,
# mailer, projector, dev/mail, and the one-shots deploy/migrate, deploy/certs,
# deploy/etcdauth, deploy/rebuild. Every image also holds /app/healthcheck
# (deploy/healthcheck), the probe docker-compose.yml's health checks run:
# the runtime image has no shell and no curl. It runs as distroless's
# nonroot user (uid/gid 65532), to whom the certs one-shot hands the keys.
FROM golang:1.26-bookworm AS build
WORKDIR /src
ENV CGO_ENABLED=0
COPY go.mod go.sum ./
# go.mod replaces GORM's SQL Server driver with this directory (its doc says why).
COPY dtm/nosqlserver ./dtm/nosqlserver
RUN go mod download
COPY . .
RUN --mount=type=cache,target=/root/.cache/go-build \
	go build -trimpath -o /out/healthcheck ./deploy/healthcheck
# Declared this late on purpose: a build argument takes part in the cache key
# of every RUN after it, so the steps above are shared by all the images.
ARG SERVICE
# no_k8s leaves go-zero's Kubernetes resolver (and client-go) out: the suite
# finds its services through etcd (Makefile, GOFLAGS).
RUN --mount=type=cache,target=/root/.cache/go-build \
	: "${SERVICE:?pass --build-arg SERVICE=<package path>}" && \
	go build -trimpath -tags no_k8s -o /out/app "./${SERVICE}"

FROM gcr.io/distroless/static-debian12:nonroot
WORKDIR /app
COPY --from=build /out/app /app/app
COPY --from=build /out/healthcheck /app/healthcheck
# Each command reads its config relative to /app, as from the repository root.
COPY --from=build /src/dtm/conf.yaml /app/dtm/conf.yaml
COPY --from=build /src/user/etc /app/user/etc
COPY --from=build /src/user-score/etc /app/user-score/etc
COPY --from=build /src/userapi/etc /app/userapi/etc
COPY --from=build /src/relay/etc /app/relay/etc
COPY --from=build /src/mailer/etc /app/mailer/etc
COPY --from=build /src/projector/etc /app/projector/etc
ENTRYPOINT ["/app/app"]
