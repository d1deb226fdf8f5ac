package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"sagasuite/bench/load"
	"sagasuite/bench/report"
	"sagasuite/bench/stack"
	"sagasuite/internal/httpget"
	"sagasuite/internal/mailbox"
	"sagasuite/internal/register"
	"sagasuite/internal/store"
)

// This file measures the outbox's pipeline after the registration: how long
// the verification mail takes to reach the mail server at a steady rate of
// registrations (mailLatency), and how fast relays publish a backlog of
// outbox rows (backlogDrain).

// mailResult is what mailLatency measured.
type mailResult struct {
	Rate     float64       // registrations offered per second
	Duration time.Duration // how long they were offered
	Sent     int
	Created  int // answered 201
	// NotCreated counts every other answer and every request without one
	// (Statuses[0]).
	NotCreated int
	Statuses   map[int]int
	ErrText    string // one transport error, if any
	// CreatedRate is the 201s per second from the first request to the
	// last 201.
	CreatedRate float64
	// Lag is how late, at worst, a request started after its slot: the
	// load generator's own delay. Far above a few ms, the rate offered was
	// not the one asked for.
	Lag time.Duration
	// AnswerP99 is the 99th percentile of the 201s' response times.
	AnswerP99 time.Duration
	// Lat are the delivered mails' latencies, sorted: the mail server's
	// acceptance time of the first message to each address minus the time
	// this process received the address's 201 (one machine, one clock). A
	// mail may arrive before its 201 does (the outbox row commits before
	// DTM answers the gateway): such a latency is negative, as measured.
	Lat           []time.Duration
	P50, P99, Max time.Duration // nearest-rank, of Lat
	// FirstP50 and LastP50 are the median latencies of the first and of
	// the last quarter of the 201s: far apart, the mail fell behind the
	// rate (a queue grew through the run) and P50 depends on d.
	FirstP50, LastP50 time.Duration
	// Missing counts the 201s whose mail had not arrived mailWait after
	// the last answer.
	Missing int
}

func (r mailResult) String() string {
	return fmt.Sprintf("%d sent at %.0f/s for %s (start lag ≤ %s ms): %d × 201 (%.1f/s, answer p99 %s ms), %d not 201; "+
		"mail latency p50 %s p99 %s max %s ms over %d mails (p50 of the first quarter %s, of the last %s), %d never arrived",
		r.Sent, r.Rate, r.Duration, report.Ms(r.Lag), r.Created, r.CreatedRate, report.Ms(r.AnswerP99), r.NotCreated,
		report.Ms(r.P50), report.Ms(r.P99), report.Ms(r.Max), len(r.Lat), report.Ms(r.FirstP50), report.Ms(r.LastP50), r.Missing)
}

// mailWait bounds the wait for the mails after the last answer.
const mailWait = time.Minute

// mailPoll is how often the mail server is read while the mails arrive.
// It keeps only its newest mailbox.DefaultKeep messages: read every
// mailPoll, it may receive that many in between (2,000 a second) before
// one is lost unread, which arrivals then reports as an error.
const mailPoll = 500 * time.Millisecond

// mailLatency sends POST /register open-loop, a request every 1/rate s for
// d whatever the answers (each on its own goroutine, over one keep-alive
// client), and measures, for each 201, how long the verification mail
// took to reach the development mail server. body gives each request a
// fresh username and email.
//
// The mail server is read during the run, not afterwards: it keeps only
// its newest mailbox.DefaultKeep messages, fewer than one run at a useful
// rate sends. The whole listing is read every mailPoll (one request, not
// one per address), and a message numbered after the run's start that
// left the box unread fails the measurement rather than count as missing.
func mailLatency(ctx context.Context, s *stack.Stack, body func() []byte, rate float64, d time.Duration) (mailResult, error) {
	n := int(rate * d.Seconds())
	if rate <= 0 || n < 1 {
		return mailResult{}, fmt.Errorf("mail latency: %.1f/s for %s is not one request", rate, d)
	}
	// Built before the clock starts: a slot is not spent making its body,
	// and a body without an address fails before anything is sent.
	bodies := make([][]byte, n)
	emails := make([]string, n)
	for i := range bodies {
		bodies[i] = body()
		var b struct {
			Email string `json:"email"`
		}
		if err := json.Unmarshal(bodies[i], &b); err != nil || b.Email == "" {
			return mailResult{}, fmt.Errorf("mail latency: a registration body without an email: %s", bodies[i])
		}
		emails[i] = register.CanonicalEmail(b.Email)
	}
	db, err := store.Open(store.In(s.MySQL, s.DBs.User))
	if err != nil {
		return mailResult{}, err
	}
	defer db.Close()
	if err := idle(ctx, db); err != nil {
		return mailResult{}, fmt.Errorf("mail latency: %w", err)
	}
	api := mailAPI(s.MailURL())
	st, err := api.stats(ctx)
	if err != nil {
		return mailResult{}, fmt.Errorf("mail latency: %w", err)
	}
	arr := &arrivals{seen: st.Received, first: map[string]time.Time{}}
	answered := make(chan []answer, 1)
	collected := make(chan error, 1)
	go func() { collected <- arr.collect(ctx, api, answered) }()

	res := mailResult{Rate: rate, Duration: d, Statuses: map[int]int{}}
	client := load.NewClient(max(16, int(rate)))
	defer client.CloseIdleConnections()
	url := s.APIURL() + "/register"
	var (
		mu      sync.Mutex
		created []answer
		took    []time.Duration
		last    time.Time
		wg      sync.WaitGroup
	)
	start := time.Now()
	for i := range n {
		slot := start.Add(time.Duration(float64(i) * float64(time.Second) / rate))
		if wait := time.Until(slot); wait > 0 {
			select {
			case <-ctx.Done():
			case <-time.After(wait):
			}
		}
		if ctx.Err() != nil {
			break
		}
		res.Lag = max(res.Lag, time.Since(slot))
		res.Sent++
		wg.Add(1)
		go func() {
			defer wg.Done()
			sent := time.Now()
			code, at, err := post(ctx, client, url, bodies[i])
			mu.Lock()
			defer mu.Unlock()
			res.Statuses[code]++
			if err != nil && res.ErrText == "" {
				res.ErrText = err.Error()
			}
			if code == http.StatusCreated {
				created = append(created, answer{email: emails[i], at: at})
				took = append(took, at.Sub(sent))
				if at.After(last) {
					last = at
				}
			}
		}()
	}
	wg.Wait()
	answered <- created
	if err := <-collected; err != nil {
		return res, fmt.Errorf("mail latency: %w", err)
	}
	if ctx.Err() != nil {
		return res, ctx.Err()
	}
	res.Created = len(created)
	res.NotCreated = res.Sent - res.Created
	if res.Created == 0 {
		return res, fmt.Errorf("mail latency: no registration answered 201 (statuses %v; %s)", res.Statuses, res.ErrText)
	}
	res.CreatedRate = float64(res.Created) / last.Sub(start).Seconds()
	slices.Sort(took)
	res.AnswerP99 = load.Percentile(took, 99)
	inOrder, missing := latencies(created, arr.first)
	res.Missing = missing
	res.FirstP50, res.LastP50 = trend(inOrder)
	res.Lat = slices.Sorted(slices.Values(inOrder))
	res.P50, res.P99 = load.Percentile(res.Lat, 50), load.Percentile(res.Lat, 99)
	if len(res.Lat) > 0 {
		res.Max = res.Lat[len(res.Lat)-1]
	}
	return res, nil
}

// answer is one 201: the address registered and when the answer came.
type answer struct {
	email string // canonical (register.CanonicalEmail)
	at    time.Time
}

// post sends one registration and returns its status (0 without an
// answer) and the time the answer's head arrived.
func post(ctx context.Context, client *http.Client, url string, body []byte) (int, time.Time, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, time.Time{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	at := time.Now()
	if err != nil {
		return 0, at, err
	}
	_, _ = io.Copy(io.Discard, resp.Body) // the connection is reused
	resp.Body.Close()
	return resp.StatusCode, at, nil
}

// latencies matches every 201 with the first mail to its address: the
// delivered ones' latencies, in the order of the 201s, and how many had
// none.
func latencies(created []answer, first map[string]time.Time) ([]time.Duration, int) {
	created = slices.SortedFunc(slices.Values(created), func(x, y answer) int { return x.at.Compare(y.at) })
	lat := make([]time.Duration, 0, len(created))
	missing := 0
	for _, a := range created {
		got, ok := first[a.email]
		if !ok {
			missing++
			continue
		}
		lat = append(lat, got.Sub(a.at))
	}
	return lat, missing
}

// trend is the median of the first and of the last quarter of lat (in
// the order of the 201s); 0, 0 for fewer than 4.
func trend(lat []time.Duration) (first, last time.Duration) {
	q := len(lat) / 4
	if q == 0 {
		return 0, 0
	}
	median := func(part []time.Duration) time.Duration {
		return load.Percentile(slices.Sorted(slices.Values(part)), 50)
	}
	return median(lat[:q]), median(lat[len(lat)-q:])
}

// mailAPI is the base URL of the development mail server's HTTP API
// (internal/mailbox's Handler).
type mailAPI string

type boxStats struct {
	Received int `json:"received"` // every message ever numbered
	Kept     int `json:"kept"`
}

func (m mailAPI) stats(ctx context.Context) (boxStats, error) {
	var st boxStats
	return st, m.get(ctx, "/api/stats", &st)
}

// messages are the kept messages, newest first.
func (m mailAPI) messages(ctx context.Context) ([]mailbox.Message, error) {
	var msgs []mailbox.Message
	return msgs, m.get(ctx, "/api/messages", &msgs)
}

func (m mailAPI) get(ctx context.Context, path string, v any) error {
	// The verification mail is under 1 kB of JSON; a message at most
	// mailbox.MaxMessageBytes.
	data, err := httpget.Get(ctx, string(m)+path, 10*time.Second, 64<<20)
	if err != nil {
		return fmt.Errorf("mail server: %w", err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("mail server: %s: %w", path, err)
	}
	return nil
}

// arrivals are the messages the mail server received after a point.
type arrivals struct {
	seen  int                  // the highest message number read
	first map[string]time.Time // canonical address → its first message's Received
}

// collect reads the mail server every mailPoll until answered brings the
// run's 201s, then until each of them has its mail or mailWait has passed.
func (a *arrivals) collect(ctx context.Context, api mailAPI, answered <-chan []answer) error {
	var want []answer
	var deadline time.Time
	for {
		if err := a.poll(ctx, api); err != nil {
			return err
		}
		wait := mailPoll
		if answered == nil {
			if _, missing := latencies(want, a.first); missing == 0 || time.Now().After(deadline) {
				return nil
			}
			wait = 200 * time.Millisecond
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case want = <-answered:
			answered, deadline = nil, time.Now().Add(mailWait)
		case <-time.After(wait):
		}
	}
}

// poll reads the listing when the box numbered a message since the last.
func (a *arrivals) poll(ctx context.Context, api mailAPI) error {
	st, err := api.stats(ctx)
	if err != nil || st.Received <= a.seen {
		return err
	}
	msgs, err := api.messages(ctx)
	if err != nil {
		return err
	}
	return a.absorb(msgs)
}

// absorb takes one listing (any order) and fails when the box no longer
// holds a message numbered after seen that was never read: the box keeps
// its newest messages, numbered without gaps.
func (a *arrivals) absorb(msgs []mailbox.Message) error {
	top, oldest := a.seen, 0
	for _, m := range msgs {
		if m.ID <= a.seen {
			continue
		}
		top = max(top, m.ID)
		if oldest == 0 || m.ID < oldest {
			oldest = m.ID
		}
		for _, to := range m.To {
			to = register.CanonicalEmail(to)
			if t, ok := a.first[to]; !ok || m.Received.Before(t) {
				a.first[to] = m.Received
			}
		}
	}
	if oldest > a.seen+1 {
		return fmt.Errorf("the mail server dropped messages %d to %d unread (it keeps its newest %d): read it more often",
			a.seen+1, oldest-1, mailbox.DefaultKeep)
	}
	a.seen = top
	return nil
}

// drainResult is what backlogDrain measured.
type drainResult struct {
	Rows   int // the backlog: outbox rows never published when the relays started
	Relays int
	// Ready is how long the relays took from their start to answering
	// their health probe; FirstAfter, to the backlog's first publication
	// (the database's published_at, one machine, one clock).
	Ready, FirstAfter time.Duration
	// Wall is from the relays' start until no backlog row was unpublished
	// (polled every drainPoll), WallRate the rows per second over it.
	Wall     time.Duration
	WallRate float64
	// Span is from the first to the last published_at of the backlog
	// (ms resolution): the relays' work, without their start-up.
	Span     time.Duration
	SpanRate float64
	// ToDone is from the relays' start until every backlog row was done
	// (done_at set by the mailer and the projector).
	ToDone time.Duration
	// Published is what each relay says it published
	// (relay_outbox_published_total), in start order: the stack's own
	// first. Each relay that took part has a share.
	Published []int
}

func (r drainResult) String() string {
	return fmt.Sprintf("%d rows, %d relays (ready in %s ms, first publication after %s ms): all published after %s ms (%.0f rows/s), "+
		"first to last published_at %s ms (%.0f rows/s); all done after %s ms; published by each relay %v",
		r.Rows, r.Relays, report.Ms(r.Ready), report.Ms(r.FirstAfter), report.Ms(r.Wall), r.WallRate,
		report.Ms(r.Span), r.SpanRate, report.Ms(r.ToDone), r.Published)
}

const (
	// backlogConc is the closed loop of registrations that builds the
	// backlog.
	backlogConc = 16
	// drainPoll is how often the drain is read.
	drainPoll = 20 * time.Millisecond
	// unpublished are the rows never published; done_at IS NULL (always
	// true of them) lets MySQL read the due index instead of the table.
	unpublished = "done_at IS NULL AND published_at IS NULL"
)

// backlogDrain stops the stack's relay, registers (backlogConc closed-loop
// clients) until the user database's outbox holds at least rows rows
// never published (each registration writes two: verify-email and
// registration-completed), then starts relays relay processes at once,
// the stack's own and copies of it, and measures how fast they publish
// the backlog, and how long the mailer and the projector, which kept
// running, take to do it. It leaves the stack with its one relay running
// and the backlog done.
func backlogDrain(ctx context.Context, s *stack.Stack, body func() []byte, rows, relays int) (res drainResult, err error) {
	if rows < 1 || relays < 1 {
		return res, fmt.Errorf("backlog drain: %d rows with %d relays", rows, relays)
	}
	db, err := store.Open(store.In(s.MySQL, s.DBs.User))
	if err != nil {
		return res, err
	}
	defer db.Close()
	if err := idle(ctx, db); err != nil {
		return res, fmt.Errorf("backlog drain: %w", err)
	}
	names := []string{"relay"}
	for i := 2; i <= relays; i++ {
		names = append(names, fmt.Sprintf("relay-%d", i))
	}
	s.Stop("relay")
	defer func() {
		for _, name := range names[1:] {
			s.Stop(name)
		}
		if s.PID("relay") == 0 { // stopped, or it never came back
			restart, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
			defer cancel()
			if rerr := s.Restart(restart, "relay"); rerr != nil {
				err = errors.Join(err, fmt.Errorf("restarting the relay: %w (see %s)", rerr, s.Log("relay")))
			}
		}
	}()
	for _, name := range names[1:] {
		if err := s.Copy("relay", name); err != nil {
			return res, err
		}
	}

	if err := fillBacklog(ctx, s, db, body, rows); err != nil {
		return res, fmt.Errorf("backlog drain: %w", err)
	}
	// The backlog is what is unpublished now; it is found again, published,
	// by published_at ≥ since, in the database's clock and zone.
	var since string
	if err := db.QueryRowContext(ctx, "SELECT CAST(NOW(3) AS CHAR), (SELECT COUNT(*) FROM outbox WHERE "+unpublished+")").
		Scan(&since, &res.Rows); err != nil {
		return res, err
	}
	res.Relays = relays
	fmt.Printf("  backlog of %d rows; starting %d relays …\n", res.Rows, relays)

	start := time.Now()
	pubCtx, stopPub := context.WithCancel(ctx)
	defer stopPub()
	published := make(chan error, 1)
	var pubAt time.Time
	go func() {
		var err error
		pubAt, err = waitNone(pubCtx, db, unpublished, nil, drainPoll, time.Minute+time.Duration(res.Rows)*time.Millisecond)
		published <- err
	}()
	if err := s.Start(ctx, names...); err != nil {
		return res, fmt.Errorf("backlog drain: %w", err)
	}
	res.Ready = time.Since(start)
	if err := <-published; err != nil {
		return res, fmt.Errorf("backlog drain: publishing: %w", err)
	}
	res.Wall = pubAt.Sub(start)

	var n int
	var first, last int64
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*), "+store.EpochMs("MIN(published_at)")+", "+store.EpochMs("MAX(published_at)")+
		" FROM outbox WHERE published_at >= ?", since).Scan(&n, &first, &last); err != nil {
		return res, err
	}
	// A registration answered other than 201 may have completed after
	// the count: its rows are in the drain too.
	if n < res.Rows {
		return res, fmt.Errorf("backlog drain: %d rows were unpublished, %d are published since %s", res.Rows, n, since)
	}
	res.Rows = n
	res.Span = time.Duration(last-first) * time.Millisecond
	if res.Span <= 0 {
		return res, fmt.Errorf("backlog drain: %d rows published within 1 ms: too few to measure", n)
	}
	res.FirstAfter = time.UnixMilli(first).Sub(start)
	res.WallRate = float64(n) / res.Wall.Seconds()
	res.SpanRate = float64(n) / res.Span.Seconds()
	// Each relay counts from its start: the stack's own was stopped too.
	for _, name := range names {
		c, err := publishedBy(ctx, s.DevURL(name))
		if err != nil {
			return res, fmt.Errorf("backlog drain: %s: %w", name, err)
		}
		res.Published = append(res.Published, c)
	}

	doneAt, err := waitNone(ctx, db, "done_at IS NULL AND published_at >= ?", []any{since}, 100*time.Millisecond,
		2*time.Minute+time.Duration(n)*10*time.Millisecond)
	if err != nil {
		return res, fmt.Errorf("backlog drain: done: %w", err)
	}
	res.ToDone = doneAt.Sub(start)
	if name, ok := s.Running(); !ok {
		return res, fmt.Errorf("backlog drain: %s exited; see %s", name, s.Log(name))
	}
	return res, nil
}

// fillBacklog registers until the outbox holds at least rows unpublished
// rows.
func fillBacklog(ctx context.Context, s *stack.Stack, db *sql.DB, body func() []byte, rows int) error {
	client := load.NewClient(backlogConc)
	defer client.CloseIdleConnections()
	url := s.APIURL() + "/register"
	do := load.HTTP(client, func() (*http.Request, error) {
		req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body()))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/json")
		return req, nil
	})
	deadline := time.Now().Add(5 * time.Minute)
	for {
		var n int
		if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM outbox WHERE "+unpublished).Scan(&n); err != nil {
			return err
		}
		switch {
		case n >= rows:
			return nil
		case time.Now().After(deadline):
			return fmt.Errorf("%d of %d rows after 5 minutes of registrations", n, rows)
		}
		// Rounds short enough that the backlog ends near rows.
		r := load.Run(ctx, backlogConc, 500*time.Millisecond, do)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if r.OK() == 0 {
			return fmt.Errorf("no registration succeeded (statuses %v; %s)", r.Statuses, r.ErrText)
		}
	}
}

// idleBound bounds the wait for the outbox's earlier work (idle).
const idleBound = 10 * time.Minute

// idle waits until every outbox row is done: the mail and the read model
// of earlier load (a sweep registers faster than one mailer sends) would
// otherwise be measured with the measurement's own.
func idle(ctx context.Context, db *sql.DB) error {
	var n int
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM outbox WHERE done_at IS NULL").Scan(&n); err != nil {
		return err
	}
	if n == 0 {
		return nil
	}
	fmt.Printf("  waiting for the outbox's %d rows not done yet …\n", n)
	_, err := waitNone(ctx, db, "done_at IS NULL", nil, 200*time.Millisecond, idleBound)
	return err
}

// waitNone polls, every poll, until no outbox row matches where, and
// returns when the poll that found none was answered; it gives up after
// bound.
func waitNone(ctx context.Context, db *sql.DB, where string, args []any, poll, bound time.Duration) (time.Time, error) {
	deadline := time.Now().Add(bound)
	for {
		var n int
		if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM outbox WHERE "+where, args...).Scan(&n); err != nil {
			return time.Time{}, err
		}
		now := time.Now()
		switch {
		case n == 0:
			return now, nil
		case now.After(deadline):
			return time.Time{}, fmt.Errorf("%d rows still %s after %s", n, strings.ReplaceAll(where, "?", "…"), bound)
		}
		select {
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		case <-time.After(poll):
		}
	}
}

// publishedBy is the rows the relay whose dev server is at url says it
// published since it started: relay_outbox_published_total, every kind
// and result.
func publishedBy(ctx context.Context, url string) (int, error) {
	data, err := httpget.Get(ctx, url+"/metrics", 10*time.Second, 16<<20)
	if err != nil {
		return 0, err
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(bytes.NewReader(data))
	if err != nil {
		return 0, fmt.Errorf("%s/metrics: %w", url, err)
	}
	total := 0.0
	if f, ok := families["relay_outbox_published_total"]; ok {
		for _, m := range f.GetMetric() {
			total += m.GetCounter().GetValue()
		}
	}
	return int(total), nil
}
