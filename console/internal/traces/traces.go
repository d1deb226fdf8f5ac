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
	"container/list"
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

// Store is the bounded window of recent traces. It keeps each span
// compactly (span): ids as bytes, times as nanoseconds, attributes as a
// sorted slice, and the strings every trace repeats (services, names,
// kinds, attribute keys, and values such as statements and methods) once,
// so that a full window of registrations takes a third of the memory the
// decoded spans would (TestMemoryOfAFullWindow logs it).
type Store struct {
	mu     sync.Mutex
	traces map[[16]byte]*entry
	lru    list.List // of *entry, the least recently updated at the front
	names  interner
	max    int
}

type entry struct {
	id      [16]byte
	spans   []span
	dropped int
	at      *list.Element
}

// span is one span as the store keeps it.
type span struct {
	id, parent [8]byte
	hasParent  bool
	err        bool
	service    string
	name       string
	kind       string
	status     string
	start, end int64 // Unix nanoseconds
	attrs      []keyValue
}

type keyValue struct{ key, value string }

// NewStore is an empty store of at most MaxTraces traces.
func NewStore() *Store { return &Store{traces: map[[16]byte]*entry{}, max: MaxTraces} }

// Add keeps the spans of an export request, evicting the least recently
// updated traces beyond the bound. Spans without a valid trace or span id
// are skipped; a span whose id its trace already holds (an exporter
// resending) is kept once.
func (s *Store) Add(req *coltrace.ExportTraceServiceRequest) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, rs := range req.GetResourceSpans() {
		service := s.names.of(attr(rs.GetResource().GetAttributes(), "service.name"))
		for _, ss := range rs.GetScopeSpans() {
			for _, sp := range ss.GetSpans() {
				if len(sp.GetTraceId()) != 16 || len(sp.GetSpanId()) != 8 {
					continue
				}
				s.add([16]byte(sp.GetTraceId()), s.compact(service, sp))
			}
		}
	}
	for len(s.traces) > s.max {
		e := s.lru.Remove(s.lru.Front()).(*entry)
		delete(s.traces, e.id)
	}
}

func (s *Store) add(tid [16]byte, c span) {
	e := s.traces[tid]
	if e == nil {
		e = &entry{id: tid}
		e.at = s.lru.PushBack(e)
		s.traces[tid] = e
	} else {
		s.lru.MoveToBack(e.at)
	}
	switch {
	case e.has(c.id):
	case len(e.spans) >= MaxSpans:
		e.dropped++
	default:
		e.spans = append(e.spans, c)
	}
}

func (e *entry) has(id [8]byte) bool {
	for i := range e.spans {
		if e.spans[i].id == id {
			return true
		}
	}
	return false
}

// maxAttrs is how many attributes of a span are kept.
const maxAttrs = 32

func (s *Store) compact(service string, sp *tracepb.Span) span {
	c := span{
		id: [8]byte(sp.GetSpanId()), err: sp.GetStatus().GetCode() == tracepb.Status_STATUS_CODE_ERROR,
		service: service, name: s.names.of(sp.GetName()), kind: kindName(sp.GetKind()),
		status: s.names.of(sp.GetStatus().GetMessage()),
		start:  int64(sp.GetStartTimeUnixNano()), end: int64(sp.GetEndTimeUnixNano()),
	}
	if p := sp.GetParentSpanId(); len(p) == 8 {
		c.parent, c.hasParent = [8]byte(p), true
	}
	if kvs := sp.GetAttributes(); len(kvs) > 0 {
		c.attrs = make([]keyValue, 0, min(len(kvs), maxAttrs))
		for _, kv := range kvs[:min(len(kvs), maxAttrs)] {
			c.attrs = append(c.attrs, keyValue{s.names.of(kv.GetKey()), s.names.of(value(kv.GetValue()))})
		}
		sort.SliceStable(c.attrs, func(i, j int) bool { return c.attrs[i].key < c.attrs[j].key })
	}
	return c
}

func (c *span) expand(trace string) Span {
	sp := Span{
		TraceID: trace, SpanID: hex.EncodeToString(c.id[:]), Service: c.service, Name: c.name, Kind: c.kind,
		Start: time.Unix(0, c.start).UTC(), End: time.Unix(0, c.end).UTC(), Error: c.err, Status: c.status,
	}
	if c.hasParent {
		sp.ParentID = hex.EncodeToString(c.parent[:])
	}
	if len(c.attrs) > 0 {
		sp.Attrs = make(map[string]string, len(c.attrs))
		for _, a := range c.attrs {
			sp.Attrs[a.key] = a.value
		}
	}
	return sp
}

// decodeID parses an id of len(dst) bytes in hex into dst; false for
// anything else.
func decodeID(dst []byte, h string) bool {
	if len(h) != 2*len(dst) {
		return false
	}
	_, err := hex.Decode(dst, []byte(h))
	return err == nil
}

// interner keeps one copy of the strings spans repeat. It is bounded: a
// string longer than maxInterned is kept as it is, and the table starts
// afresh once it holds maxStrings (the spans keep the copies they have),
// so that values that never repeat (ids) cost one table's worth at most.
type interner map[string]string

const (
	maxInterned = 256
	maxStrings  = 8192
)

func (in *interner) of(v string) string {
	if v == "" || len(v) > maxInterned {
		return v
	}
	if got, ok := (*in)[v]; ok {
		return got
	}
	if *in == nil || len(*in) >= maxStrings {
		*in = make(interner, 256)
	}
	(*in)[v] = v
	return v
}

// Get returns the trace of id (32 hex digits), false when it is not held.
func (s *Store) Get(id string) (Trace, bool) {
	var tid [16]byte
	if !decodeID(tid[:], id) {
		return Trace{}, false
	}
	s.mu.Lock()
	e, ok := s.traces[tid]
	var t Trace
	if ok {
		t = Trace{TraceID: id, Spans: make([]Span, len(e.spans)), Dropped: e.dropped}
		for i := range e.spans {
			t.Spans[i] = e.spans[i].expand(id)
		}
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
		s.Add(req)
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
