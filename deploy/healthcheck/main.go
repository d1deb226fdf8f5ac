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
	"io"
	"net/http"
	"os"
	"time"
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
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	// Read (a bounded part of) the body so that a handler failing mid-answer
	// does not pass for healthy.
	if _, err := io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20)); err != nil {
		return fmt.Errorf("GET %s: reading the answer: %w", url, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return nil
}
