// Package server is the console's HTTP face: a read-only JSON API over DTM
// and the service databases, and the embedded page that polls it. Nothing
// it answers names an internal address: branches are service key and
// method, failures are a code and a fixed message (details go to the log).
package server

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/zeromicro/go-zero/core/logx"
	"github.com/zeromicro/go-zero/rest/httpx"

	"sagasuite/console/internal/sagaview"
	"sagasuite/console/internal/server/ui"
	"sagasuite/console/internal/traces"
	"sagasuite/internal/dtmread"
	"sagasuite/internal/readmodel"
	"sagasuite/internal/register"
	"sagasuite/internal/tracing"
)

// The list's limit: the default fills a screen; the cap keeps the answer
// small.
const (
	defaultLimit = 50
	maxLimit     = 100
)

// listBudget bounds one listing's paging through DTM (dtmhttp reads until
// it has the limit): the page polls every second, so a listing that would
// take longer answers what it found so far, marked incomplete.
const listBudget = 2 * time.Second

// IncompleteHeader is set (to "true") on a /api/sagas answer that may miss
// older register sagas: DTM holds so many other transactions that the
// listing's time budget ran out, or DTM failed part way. The body keeps
// its shape, a JSON array of what was found; the page shows a note.
const IncompleteHeader = "Sagas-Incomplete"

// Error codes of the JSON API, in the gateway's {"code","message"} shape.
const (
	codeInvalidArgument = "INVALID_ARGUMENT"
	codeNotFound        = "NOT_FOUND"
	codeUnavailable     = "UNAVAILABLE"
)

// RowFinder reads the business rows of one registration; rows.Reader in
// production, a fake in tests.
type RowFinder interface {
	Find(ctx context.Context, userID string) (sagaview.Rows, error)
}

// MailFinder lists the mail a development mail box holds for an address;
// mail.Box in production, nil when the console has no mail box to ask.
type MailFinder interface {
	Messages(ctx context.Context, address string) ([]sagaview.Mail, error)
}

// ProfileFinder reads a user's profile from the read model; a
// readmodel.Store in production, nil when the console has no Redis.
type ProfileFinder interface {
	Profile(ctx context.Context, id string) (readmodel.ProfileAnswer, error)
}

// Options are the console's optional parts.
type Options struct {
	// Mail is the mail box whose messages the saga detail shows.
	Mail MailFinder
	// ReadModel is the read model whose profile of the user the saga
	// detail shows.
	ReadModel ProfileFinder
	// Queues, when set, is served under /queues/ (asynq's web UI,
	// asynqmon, read-only), with the looser content policy it needs.
	Queues http.Handler
	// Traces, when set, is the trace store GET /api/traces/{id} reads
	// (the console's own OTLP receiver fills it).
	Traces *traces.Store
}

type handler struct {
	dtm    *dtmread.Client
	rows   RowFinder
	mail   MailFinder
	rm     ProfileFinder
	traces *traces.Store
	now    func() time.Time
	budget time.Duration // listBudget; shorter in tests
}

// New returns the console's routes:
//
//	GET /                 the page (and its console.js, console.css)
//	GET /api/sagas        recent register sagas, newest first (?limit=1..100);
//	                      IncompleteHeader when the list may miss some
//	GET /api/sagas/{gid}  one saga, its branches, business rows, mail and
//	                      read-model profile
//	GET /api/traces/{id}  the spans of a trace the console collected
//	GET /queues/          asynq's web UI, when Options.Queues is set
func New(dtm *dtmread.Client, rows RowFinder, opts Options) http.Handler {
	return newHandler(dtm, rows, opts, time.Now, listBudget)
}

// newHandler lets tests fix the clock that ages are measured against and
// the listing's budget.
func newHandler(dtm *dtmread.Client, rows RowFinder, opts Options, now func() time.Time, budget time.Duration) http.Handler {
	h := &handler{dtm: dtm, rows: rows, mail: opts.Mail, rm: opts.ReadModel, traces: opts.Traces, now: now, budget: budget}
	mux := http.NewServeMux()
	if opts.Queues != nil {
		mux.Handle("GET /queues/", queuePolicy(opts.Queues))
	}
	mux.HandleFunc("GET /api/sagas", h.list)
	mux.HandleFunc("GET /api/sagas/{gid}", h.detail)
	mux.HandleFunc("GET /api/traces/{id}", h.trace)
	mux.HandleFunc("GET /api/", func(w http.ResponseWriter, r *http.Request) {
		writeError(r.Context(), w, http.StatusNotFound, codeNotFound, "no such endpoint")
	})
	mux.Handle("GET /", http.FileServerFS(ui.Files))
	return withHeaders(mux)
}

func (h *handler) list(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	limit := defaultLimit
	if s := r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxLimit {
			writeError(ctx, w, http.StatusBadRequest, codeInvalidArgument, "limit must be 1.."+strconv.Itoa(maxLimit))
			return
		}
		limit = n
	}
	listing, cancel := context.WithTimeout(ctx, h.budget)
	ts, err := h.dtm.RecentSagas(listing, register.GidPrefix, limit)
	cancel()
	switch {
	case errors.Is(err, dtmread.ErrIncomplete):
		logx.WithContext(ctx).Infof("list sagas: answered incomplete: %v", err)
		w.Header().Set(IncompleteHeader, "true")
	case err != nil:
		logx.WithContext(ctx).Errorf("list sagas: %v", err)
		writeError(ctx, w, http.StatusServiceUnavailable, codeUnavailable, "DTM is unreachable")
		return
	}
	httpx.OkJsonCtx(ctx, w, sagaview.Recent(ts, h.now(), limit))
}

func (h *handler) detail(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	gid := r.PathValue("gid")
	userID, ok := register.UserID(gid)
	if !ok {
		writeError(ctx, w, http.StatusBadRequest, codeInvalidArgument, "not a register saga gid ("+register.GidPrefix+"<user id>)")
		return
	}
	saga, err := h.dtm.Query(ctx, gid)
	if errors.Is(err, dtmread.ErrNotFound) {
		writeError(ctx, w, http.StatusNotFound, codeNotFound, "DTM knows no saga "+gid)
		return
	}
	if err != nil {
		logx.WithContext(ctx).Errorf("query saga %s: %v", gid, err)
		writeError(ctx, w, http.StatusServiceUnavailable, codeUnavailable, "DTM is unreachable")
		return
	}
	// After DTM, never before: see sagaview.Describe.
	rows, err := h.rows.Find(ctx, userID)
	if err != nil {
		logx.WithContext(ctx).Errorf("rows of saga %s: %v", gid, err)
		writeError(ctx, w, http.StatusServiceUnavailable, codeUnavailable, "a service database is unreachable")
		return
	}
	rows.Mail = []sagaview.Mail{}
	switch address := mailAddress(saga, rows); {
	case h.mail == nil:
		rows.MailNote = "the console has no mail box to ask (MAILBOX_URL)"
	case address == "":
		rows.MailNote = "this registration names no address"
	default:
		if rows.Mail, err = h.mail.Messages(ctx, address); err != nil {
			logx.WithContext(ctx).Infof("mail of saga %s: %v", gid, err)
			rows.Mail, rows.MailNote = []sagaview.Mail{}, "the mail box is unreachable"
		}
	}
	rows.ReadModel = h.readModel(ctx, userID)
	httpx.OkJsonCtx(ctx, w, sagaview.Describe(saga, rows))
}

// trace answers the spans the console holds of trace id (32 hex digits):
// 404 when it holds none (tracing off, the spans not exported yet, or
// gone from the window), 503 when it collects none.
func (h *handler) trace(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id := r.PathValue("id")
	if tracing.TraceIDOf("00-"+id+"-0000000000000001-01") != id {
		writeError(ctx, w, http.StatusBadRequest, codeInvalidArgument, "a trace id is 32 lower-case hex digits, not all zero")
		return
	}
	if h.traces == nil {
		writeError(ctx, w, http.StatusServiceUnavailable, codeUnavailable, "the console collects no traces (OTLP_LISTEN is off)")
		return
	}
	t, ok := h.traces.Get(id)
	if !ok {
		writeError(ctx, w, http.StatusNotFound, codeNotFound, "the console holds no span of this trace")
		return
	}
	httpx.OkJsonCtx(ctx, w, t)
}

// readModel is what the read model holds of the user, or why it is not
// known.
func (h *handler) readModel(ctx context.Context, userID string) sagaview.ReadModelRow {
	if h.rm == nil {
		return sagaview.ReadModelRow{Note: "the console has no read model to ask (REDIS_ADDR)"}
	}
	a, err := h.rm.Profile(ctx, userID)
	if err != nil {
		logx.WithContext(ctx).Infof("read model of %s: %v", userID, err)
		return sagaview.ReadModelRow{Note: "the read model is unreachable"}
	}
	r := sagaview.ReadModelRow{Present: a.Found, EmailVerified: a.Profile.EmailVerified}
	if a.Found {
		score := a.Profile.Score
		r.Score = &score
	}
	if !a.AsOf.IsZero() {
		r.AsOf = a.AsOf.UTC().Format(time.RFC3339Nano)
	}
	return r
}

// mailAddress is the address the registration's mail goes to: the user
// row's, or, once that is gone (compensated), the one its saga carried, so
// that the page can show that none was sent to it.
func mailAddress(saga *dtmread.Saga, rows sagaview.Rows) string {
	if rows.User.Email != "" {
		return rows.User.Email
	}
	if p, err := register.Decode(saga.ActionPayloads()); err == nil {
		return p.User.Email
	}
	return ""
}

type apiError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func writeError(ctx context.Context, w http.ResponseWriter, status int, code, msg string) {
	httpx.WriteJsonCtx(ctx, w, status, apiError{Code: code, Message: msg})
}

// queuePolicy replaces, for asynq's web UI, the console's content policy
// with the one that UI needs: its page runs inline scripts. It still loads
// nothing from another origin (its stylesheet link to Google's fonts is
// refused, and it falls back to the system's fonts).
func queuePolicy(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'")
		next.ServeHTTP(w, r)
	})
}

// withHeaders keeps every answer local and fresh: the CSP allows only this
// origin (the page needs nothing else, and a stray external reference
// fails loudly), and nothing is cached so a poll always sees DTM's latest.
func withHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}
