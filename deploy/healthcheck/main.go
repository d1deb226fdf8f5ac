// Command healthcheck is the probe behind every health check in
// docker-compose.yml. Our images are distroless (no shell, no curl), so each
// one carries this binary as /app/healthcheck:
//
//	healthcheck http://127.0.0.1:6470/healthz
//
// It exits 0 when the URL answers 2xx within two seconds, 1 otherwise (and
// says why on stderr, which docker keeps in the container's health log).
package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"sagasuite/internal/httpget"
)

// timeout is the whole probe's budget, below compose's 3 s check timeout so
// that a hanging service is reported by us, with a reason, not killed by docker.
const timeout = 2 * time.Second

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: healthcheck URL")
		os.Exit(1)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := probe(ctx, os.Args[1]); err != nil {
		fmt.Fprintf(os.Stderr, "healthcheck: %v\n", err)
		os.Exit(1)
	}
}

// probe GETs url and accepts only a 2xx answer within ctx's deadline.
func probe(ctx context.Context, url string) error {
	_, err := httpget.Get(ctx, url, time.Hour, 1<<20) // ctx holds the deadline
	return err
}
