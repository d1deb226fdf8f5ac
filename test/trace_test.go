package test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"sagasuite/internal/stacktest"
	"sagasuite/internal/tracing"
)

// span is one span as the console's /api/traces/{id} answers it.
type span struct {
	SpanID   string            `json:"span_id"`
	ParentID string            `json:"parent_id"`
	Service  string            `json:"service"`
	Name     string            `json:"name"`
	Kind     string            `json:"kind"`
	Error    bool              `json:"error"`
	Attrs    map[string]string `json:"attributes"`
}

// traceSpans reads what the console collected of trace id (nil before any).
func traceSpans(t *testing.T, id string) []span {
	t.Helper()
	resp, err := http.Get(stack.ConsoleURL + "/api/traces/" + id)
	require.NoError(t, err)
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return nil
	}
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var tr struct {
		Spans []span `json:"spans"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&tr))
	return tr.Spans
}

// waitTrace waits until trace id holds a span named each of names (a span
// name ends with it: go-zero names a gRPC server span by its full method).
func waitTrace(t *testing.T, id string, names ...string) []span {
	t.Helper()
	var spans []span
	err := stacktest.WaitFor(30*time.Second, fmt.Sprintf("trace %s with %v", id, names), func() bool {
		spans = traceSpans(t, id)
		for _, n := range names {
			if findSpan(spans, n) == nil {
				return false
			}
		}
		return complete(spans) // each process exports in its own batches
	})
	require.NoError(t, err, "spans so far: %v", spanNames(spans))
	return spans
}

func findSpan(spans []span, name string) *span {
	for i, s := range spans {
		if strings.HasSuffix(s.Name, name) {
			return &spans[i]
		}
	}
	return nil
}

func spanNames(spans []span) []string {
	var out []string
	for _, s := range spans {
		out = append(out, s.Service+":"+s.Name)
	}
	return out
}

// complete: every span's parent has arrived.
func complete(spans []span) bool {
	ids := map[string]bool{}
	for _, s := range spans {
		ids[s.SpanID] = true
	}
	for _, s := range spans {
		if s.ParentID != "" && !ids[s.ParentID] {
			return false
		}
	}
	return true
}

// requireTree: every span's parent is in the trace but the one root's.
func requireTree(t *testing.T, spans []span) {
	t.Helper()
	ids := map[string]bool{}
	for _, s := range spans {
		ids[s.SpanID] = true
	}
	roots := 0
	for _, s := range spans {
		switch {
		case s.ParentID == "":
			roots++
		case !ids[s.ParentID]:
			t.Errorf("span %s:%s has parent %s, which is not in the trace", s.Service, s.Name, s.ParentID)
		}
	}
	require.Equal(t, 1, roots, "one root: %v", spanNames(spans))
}

// registerTraced registers r and returns the answer and its trace id, from
// the answer's traceparent, which GET /sagas/{gid} names too.
func registerTraced(t *testing.T, r registration, header ...string) (answer, string) {
	t.Helper()
	a := call(t, http.MethodPost, "/register", r.withEmail(), header...)
	id := tracing.TraceIDOf(a.Header.Get("traceparent"))
	require.NotEmpty(t, id, "the answer carries its trace: %v", a.Header)
	s := call(t, http.MethodGet, "/sagas/"+a.str("gid"), nil)
	require.Equal(t, id, s.str("trace_id"), s.Raw)
	return a, id
}

// TestOneTracePerRegistration: a registration's spans, from the gateway
// through DTM to every branch, then through the outbox, the relay and
// asynq to the mailer's SMTP call and the projector's update of the read
// model, are one trace, one tree.
func TestOneTracePerRegistration(t *testing.T) {
	a, id := registerTraced(t, registration{Username: uniqueName("traced"), Password: "password-trace", Gender: "other", Score: 3})
	require.Equal(t, http.StatusCreated, a.Status, a.Raw)
	spans := waitTrace(t, id, "/register", "dtm.Submit", "CreateUser", "InitScore", "CompleteUser",
		"outbox.Publish verify-email", "outbox:verify-email", "smtp.Send",
		"outbox.Publish registration-completed", "outbox:registration-completed", "readmodel.Apply registration-completed")
	requireTree(t, spans)
	services := map[string]bool{}
	for _, s := range spans {
		services[s.Service] = true
	}
	byID := map[string]span{}
	for _, s := range spans {
		byID[s.SpanID] = s
	}
	require.Equal(t, "CompleteUser", lastPart(byID[findSpan(spans, "outbox.Publish verify-email").ParentID].Name),
		"the outbox row's work hangs under the step that wrote it")
	require.Equal(t, "outbox.Publish verify-email", byID[findSpan(spans, "outbox:verify-email").ParentID].Name,
		"the mailer's task under its publication")
	for _, s := range []string{"userapi", "user.rpc", "user-score.rpc", "relay", "mailer", "projector"} {
		require.True(t, services[s], "%s in %v", s, spanNames(spans))
	}
	require.Equal(t, "server", findSpan(spans, "CreateUser").Kind)
}

// TestCompensationJoinsTheTrace: a score-10 registration's compensations
// are in its trace, the refused action marked as an error.
func TestCompensationJoinsTheTrace(t *testing.T) {
	a, id := registerTraced(t, registration{Username: uniqueName("tracedten"), Password: "password-trace", Gender: "male", Score: 10})
	require.Equal(t, http.StatusUnprocessableEntity, a.Status, a.Raw)
	spans := waitTrace(t, id, "/register", "dtm.Submit", "CreateUser", "InitScore", "CreateUserCompensate", "InitScoreCompensate")
	requireTree(t, spans)
	require.True(t, findSpan(spans, "InitScore").Error, "the refusal is an error in the trace")
	require.Nil(t, findSpan(spans, "CompleteUser"), "the last step never ran")
}

// TestCallersCannotNameTheTrace: whatever trace context a client sends,
// well-formed or hostile, the gateway answers normally and starts a trace
// of its own.
func TestCallersCannotNameTheTrace(t *testing.T) {
	for i, h := range []string{
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", // well-formed: still not continued
		"00-00000000000000000000000000000000-0000000000000000-01",
		"garbage", strings.Repeat("0", 4096), "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\nX-Evil: 1",
	} {
		h = strings.NewReplacer("\r", "", "\n", "").Replace(h)
		a, id := registerTraced(t, registration{Username: uniqueName(fmt.Sprintf("tracehdr%d", i)), Password: "password-trace", Gender: "other", Score: 4},
			"traceparent", h, "tracestate", "evil=1", "baggage", "user=admin")
		require.Equal(t, http.StatusCreated, a.Status, "%q: %s", h, a.Raw)
		require.NotEqual(t, "4bf92f3577b34da6a3ce929d0e0e4736", id, "the caller's trace is not continued")
		require.NotEqual(t, tracing.TraceIDOf(h), id)
	}
}

func lastPart(name string) string { return name[strings.LastIndexByte(name, '/')+1:] }
