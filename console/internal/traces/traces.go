// Package traces is the saga console's trace collector for local use: an
// OTLP/HTTP receiver (POST /v1/traces, protobuf or JSON, gzip or not) that
// keeps a bounded window of recent traces in memory, and the reads the
// console's waterfall needs. It is for a developer's machine, not a
// tracing backend: point the processes at Jaeger, Tempo or an OTel
// collector in production (TRACE_ENDPOINT), which speak the same protocol.
//
// Bounds: at most MaxTraces traces (the least recently updated go first)
// and MaxSpans spans per trace (later ones are counted, not kept); a
// request body of at most MaxBody bytes, decompressed.
package traces

import (
	"compress/gzip"
	"encoding/hex"
	"errors"
	"io"
	"mime"
	"net/http"
	"sort"
	"sync"
	"time"

	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	common "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// Bounds of the store and of one export request.
const (
	MaxTraces = 1000
	MaxSpans  = 1000
	MaxBody   = 8 << 20
)

// Span is one span as the waterfall shows it.
type Span struct {
	TraceID  string            `json:"trace_id"`
	SpanID   string            `json:"span_id"`
	ParentID string            `json:"parent_id,omitempty"`
	Service  string            `json:"service"`
	Name     string            `json:"name"`
	Kind     string            `json:"kind"`
	Start    time.Time         `json:"start"`
	End      time.Time         `json:"end"`
	Error    bool              `json:"error"`
	Status   string            `json:"status,omitempty"`
	Attrs    map[string]string `json:"attributes,omitempty"`
}

// Trace is the spans of one trace the store holds, by start time.
type Trace struct {
	TraceID string `json:"trace_id"`
	Spans   []Span `json:"spans"`
	// Dropped counts the spans past MaxSpans.
	Dropped int `json:"dropped,omitempty"`
}

type entry struct {
	spans   []Span
	seen    map[string]bool // span ids, for exporters that resend
	dropped int
	updated uint64
}

// Store is the bounded window of recent traces.
type Store struct {
	mu     sync.Mutex
	traces map[string]*entry
	clock  uint64
	max    int
}

// NewStore is an empty store of at most MaxTraces traces.
func NewStore() *Store { return &Store{traces: map[string]*entry{}, max: MaxTraces} }

// Add keeps spans, evicting the least recently updated traces beyond the
// bound.
func (s *Store) Add(spans []Span) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, sp := range spans {
		e := s.traces[sp.TraceID]
		if e == nil {
			e = &entry{seen: map[string]bool{}}
			s.traces[sp.TraceID] = e
		}
		s.clock++
		e.updated = s.clock
		switch {
		case e.seen[sp.SpanID]:
		case len(e.spans) >= MaxSpans:
			e.dropped++
		default:
			e.seen[sp.SpanID] = true
			e.spans = append(e.spans, sp)
		}
	}
	for len(s.traces) > s.max {
		var oldest string
		var at uint64
		for id, e := range s.traces {
			if oldest == "" || e.updated < at {
				oldest, at = id, e.updated
			}
		}
		delete(s.traces, oldest)
	}
}

// Get returns the trace of id (32 hex digits), false when it is not held.
func (s *Store) Get(id string) (Trace, bool) {
	s.mu.Lock()
	e, ok := s.traces[id]
	var t Trace
	if ok {
		t = Trace{TraceID: id, Spans: append([]Span(nil), e.spans...), Dropped: e.dropped}
	}
	s.mu.Unlock()
	sort.SliceStable(t.Spans, func(i, j int) bool { return t.Spans[i].Start.Before(t.Spans[j].Start) })
	return t, ok
}

// Len is the number of traces held.
func (s *Store) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.traces)
}

// Receiver is the OTLP/HTTP trace endpoint (POST /v1/traces) feeding s.
func Receiver(s *Store) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/traces", func(w http.ResponseWriter, r *http.Request) {
		req, asJSON, err := decode(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		s.Add(Spans(req))
		var body []byte
		if asJSON {
			w.Header().Set("Content-Type", "application/json")
			body, _ = protojson.Marshal(&coltrace.ExportTraceServiceResponse{})
		} else {
			w.Header().Set("Content-Type", "application/x-protobuf")
			body, _ = proto.Marshal(&coltrace.ExportTraceServiceResponse{})
		}
		_, _ = w.Write(body)
	})
	return mux
}

func decode(r *http.Request) (*coltrace.ExportTraceServiceRequest, bool, error) {
	var body io.Reader = http.MaxBytesReader(nil, r.Body, MaxBody)
	if r.Header.Get("Content-Encoding") == "gzip" {
		z, err := gzip.NewReader(body)
		if err != nil {
			return nil, false, err
		}
		defer z.Close()
		body = z
	}
	data, err := io.ReadAll(io.LimitReader(body, MaxBody+1))
	if err != nil {
		return nil, false, err
	}
	if len(data) > MaxBody {
		return nil, false, errors.New("export request too large")
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	req := &coltrace.ExportTraceServiceRequest{}
	switch ct {
	case "application/x-protobuf":
		return req, false, proto.Unmarshal(data, req)
	case "application/json":
		return req, true, protojson.Unmarshal(data, req)
	}
	return nil, false, errors.New("content type must be application/x-protobuf or application/json")
}

// Spans flattens an export request; spans without a valid trace or span
// id are skipped.
func Spans(req *coltrace.ExportTraceServiceRequest) []Span {
	var out []Span
	for _, rs := range req.GetResourceSpans() {
		service := attr(rs.GetResource().GetAttributes(), "service.name")
		for _, ss := range rs.GetScopeSpans() {
			for _, sp := range ss.GetSpans() {
				if len(sp.GetTraceId()) != 16 || len(sp.GetSpanId()) != 8 {
					continue
				}
				s := Span{
					TraceID: hex.EncodeToString(sp.GetTraceId()), SpanID: hex.EncodeToString(sp.GetSpanId()),
					Service: service, Name: sp.GetName(), Kind: kindName(sp.GetKind()),
					Start: time.Unix(0, int64(sp.GetStartTimeUnixNano())).UTC(),
					End:   time.Unix(0, int64(sp.GetEndTimeUnixNano())).UTC(),
					Error: sp.GetStatus().GetCode() == tracepb.Status_STATUS_CODE_ERROR, Status: sp.GetStatus().GetMessage(),
				}
				if len(sp.GetParentSpanId()) == 8 {
					s.ParentID = hex.EncodeToString(sp.GetParentSpanId())
				}
				for _, kv := range sp.GetAttributes() {
					if s.Attrs == nil {
						s.Attrs = map[string]string{}
					}
					if len(s.Attrs) < 32 {
						s.Attrs[kv.GetKey()] = value(kv.GetValue())
					}
				}
				out = append(out, s)
			}
		}
	}
	return out
}

func attr(kvs []*common.KeyValue, key string) string {
	for _, kv := range kvs {
		if kv.GetKey() == key {
			return value(kv.GetValue())
		}
	}
	return ""
}

func value(v *common.AnyValue) string {
	switch x := v.GetValue().(type) {
	case *common.AnyValue_StringValue:
		return x.StringValue
	case nil:
		return ""
	default:
		b, _ := protojson.Marshal(v)
		return string(b)
	}
}

func kindName(k tracepb.Span_SpanKind) string {
	switch k {
	case tracepb.Span_SPAN_KIND_SERVER:
		return "server"
	case tracepb.Span_SPAN_KIND_CLIENT:
		return "client"
	case tracepb.Span_SPAN_KIND_PRODUCER:
		return "producer"
	case tracepb.Span_SPAN_KIND_CONSUMER:
		return "consumer"
	}
	return "internal"
}
