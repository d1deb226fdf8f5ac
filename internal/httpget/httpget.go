// Package httpget is the suite's one way to GET a URL within a deadline
// and judge the answer: the readiness probes, the health check, the DTM
// reader and the tools all ask this, and all read the body before judging,
// so that a handler failing mid-answer does not pass for healthy.
package httpget

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"
)

// Get GETs url, giving up after timeout (or at ctx's deadline, if sooner),
// and returns the body of a 2xx answer, at most limit bytes of it (a longer
// body is an error). Any other status is an error that names it.
func Get(ctx context.Context, url string, timeout time.Duration, limit int64) ([]byte, error) {
	code, body, err := get(ctx, url, timeout, limit)
	switch {
	case code != 0 && (code < 200 || code > 299):
		return nil, fmt.Errorf("GET %s: HTTP %d", url, code)
	case err != nil:
		return nil, err
	}
	return body, nil
}

// Status GETs url as Get does and returns the answer's status code, for a
// caller to whom any complete answer counts (a server that answers 404 is
// up).
func Status(ctx context.Context, url string, timeout time.Duration) (int, error) {
	code, _, err := get(ctx, url, timeout, 1<<20)
	if err != nil {
		return 0, err
	}
	return code, nil
}

func get(ctx context.Context, url string, timeout time.Duration, limit int64) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	switch {
	case err != nil:
		return resp.StatusCode, nil, fmt.Errorf("GET %s: reading the answer: %w", url, err)
	case int64(len(body)) > limit:
		return resp.StatusCode, nil, fmt.Errorf("GET %s: the answer exceeds %d bytes", url, limit)
	}
	return resp.StatusCode, body, nil
}
