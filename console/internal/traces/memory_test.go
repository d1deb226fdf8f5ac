package traces

import (
	"fmt"
	"runtime"
	"testing"
	"time"
)

// registrationTrace is a trace shaped like a registration's: spans of
// seven services, names and attribute keys from a small set, a few values
// that repeat in every trace (statements, methods) and a few that do not
// (ids).
func registrationTrace(n int) []Span {
	services := []string{"userapi", "dtm", "user.rpc", "user-score.rpc", "relay", "mailer", "projector"}
	names := []string{"POST /register", "dtm.Submit", "/user.User/CreateUser", "/userscore.UserScore/InitScore",
		"/user.User/CompleteUser", "sql.exec", "sql.query", "outbox.publish", "verify-email", "registration-completed"}
	trace := fmt.Sprintf("%032x", n+1)
	gid := fmt.Sprintf("register-0190f5d2-7b8a-7c3e-9d1f-%012x", n)
	start := time.Unix(1_800_000_000, 0)
	spans := make([]Span, 30)
	for i := range spans {
		spans[i] = Span{
			TraceID: trace, SpanID: fmt.Sprintf("%016x", n*100+i+1), Service: services[i%len(services)],
			Name: names[i%len(names)], Kind: "server", Start: start.Add(time.Duration(i) * time.Millisecond).UTC(),
			End: start.Add(time.Duration(i+1) * time.Millisecond).UTC(),
			Attrs: map[string]string{
				"rpc.system":    "grpc",
				"rpc.method":    names[i%len(names)],
				"db.statement":  "INSERT INTO outbox (id, kind, user_id, gid, payload, trace_parent) VALUES (?, ?, ?, ?, ?, ?)",
				"saga.gid":      gid,
				"net.peer.name": "127.0.0.1",
			},
		}
		if i > 0 {
			spans[i].ParentID = fmt.Sprintf("%016x", n*100+i)
		}
	}
	return spans
}

// TestMemoryOfAFullWindow fills a store with MaxTraces registration-shaped
// traces and checks that one comes back exactly as it went in (the compact
// form loses nothing the waterfall shows); it logs the store's live heap,
// per span (most of the console's private memory once its window is
// full: 966 bytes a span when the store kept the decoded spans, about 335 now).
func TestMemoryOfAFullWindow(t *testing.T) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	s := NewStore()
	var want []Span
	for i := range MaxTraces {
		want = registrationTrace(i)
		s.Add(request(t, want)) // decoded as the receiver decodes it: the store keeps what it needs of it
	}
	want = append([]Span(nil), want...)
	runtime.GC()
	runtime.ReadMemStats(&after)
	live := float64(after.HeapAlloc) - float64(before.HeapAlloc) // the last trace's input included: 1/1000th
	t.Logf("%d traces of %d spans: %.1f MB live, %.0f bytes per span", MaxTraces, len(want), live/1e6, live/float64(MaxTraces*len(want)))
	got, ok := s.Get(want[0].TraceID)
	if !ok || len(got.Spans) != len(want) {
		t.Fatalf("the last trace is not whole: %v, %d spans", ok, len(got.Spans))
	}
	for i := range want {
		if fmt.Sprint(got.Spans[i]) != fmt.Sprint(want[i]) {
			t.Fatalf("span %d: got %v, want %v", i, got.Spans[i], want[i])
		}
	}
	runtime.KeepAlive(s)
}
