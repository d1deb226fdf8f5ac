package chaos

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"

	"sagasuite/deploy/rebuild/snapshot"
	"sagasuite/deploy/repair/orphans"
	"sagasuite/deploy/sagacheck/check"
	"sagasuite/internal/readmodel"
	reg "sagasuite/internal/register"
	"sagasuite/internal/suite"
	"sagasuite/rpc-common/peertls"
	"sagasuite/rpc-common/userpb"
	"sagasuite/rpc-common/userscorepb"
)

// kind is what a planned registration is meant to provoke.
type kind int

const (
	fresh     kind = iota // a new username: 201
	rejected              // score 10: 422, compensated
	duplicate             // the username of an earlier fresh one: one of the two wins
)

// outcome is what a client finally got for one registration.
type outcome struct {
	kind     kind
	username string
	key      string // empty: the client sends no Idempotency-Key
	status   int    // the last answer; 0 when every attempt failed to connect
	id, gid  string
	attempts int
	// nothingWritten are the gids of attempts answered 503 "nothing was
	// written": a client without a key takes it at its word and registers
	// anew, so DTM must never have stored them.
	nothingWritten []string
}

func envInt(name string, fallback int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return fallback
}

// TestChaos drives registrations at CHAOS_CLIENTS concurrent clients (16)
// until at least CHAOS_REQUESTS (2000) were made and every fault of the
// schedule happened: kill -9 and restart of user-score, one of the two
// relays, user, the mailer, the projector, one DTM server and the gateway, a MariaDB
// restart, and finally one DTM server killed for good. Clients retry with their Idempotency-Key, as real ones
// would. Then it waits until DTM has finished every saga and checks the
// invariants and every answer the clients got.
func TestChaos(t *testing.T) {
	if stack == nil {
		t.Skip("the chaos test restarts MariaDB: run it with CHAOS=1 (make chaos)")
	}
	minRequests := envInt("CHAOS_REQUESTS", 2000)
	clients := envInt("CHAOS_CLIENTS", 16)
	run := fmt.Sprintf("%d", time.Now().UnixNano()%1e9)

	var (
		issued   atomic.Int64
		faultsOn atomic.Bool
		mu       sync.Mutex
		results  []outcome
		freshOK  []string // usernames registered so far, for duplicates
	)
	faultsOn.Store(true)
	next := func() (outcome, bool) {
		n := issued.Add(1) - 1
		if n >= int64(minRequests) && !faultsOn.Load() {
			return outcome{}, false
		}
		o := outcome{kind: fresh, username: fmt.Sprintf("c%s_%d", run, n), key: fmt.Sprintf("chaos-%s-%d", run, n)}
		switch n % 20 {
		case 0, 7, 14:
			o.kind = rejected
		case 5, 12, 19:
			o.key = "" // a client without a key: a new registration per attempt
		case 3, 10, 17:
			mu.Lock()
			if len(freshOK) > 0 {
				o.kind, o.username = duplicate, freshOK[int(n)%len(freshOK)]
			}
			mu.Unlock()
		}
		return o, true
	}

	start := time.Now()
	var wg sync.WaitGroup
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				o, ok := next()
				if !ok {
					return
				}
				o = registerUntilAnswered(o)
				mu.Lock()
				results = append(results, o)
				if o.kind == fresh && o.status == http.StatusCreated {
					freshOK = append(freshOK, o.username)
				}
				mu.Unlock()
			}
		}()
	}

	faults := runFaults(t)
	faultsOn.Store(false)
	wg.Wait()
	loadTime := time.Since(start)

	drainStart := time.Now()
	require.NoError(t, drain(t), "sagas still unfinished")
	drainTime := time.Since(drainStart)

	// DTM v1.19.0 runs the branches of a saga whose save failed (see
	// deploy/repair/orphans); when MariaDB went away at that moment, such a
	// saga's writes are in no store. Compensate them as operators would.
	time.Sleep(max(0, orphanGrace-time.Since(drainStart)))
	repaired, err := orphans.Run(context.Background(), orphans.Options{
		DTM: stack.DtmDB, User: stack.UserDB, UserScore: stack.ScoreDB,
		Users:  userpb.NewUserClient(dial(t, stack.UserAddr, "user.rpc")),
		Scores: userscorepb.NewUserScoreClient(dial(t, stack.ScoreAddr, "user-score.rpc")),
		Grace:  orphanGrace, DTMHTTP: stack.DtmHTTP,
	})
	require.NoError(t, err)

	// Then the mail: every outbox row done (the relay and the mailer were
	// killed, and MariaDB restarted, during the load).
	mailStart := time.Now()
	require.NoError(t, drainMail(t), "outbox rows still not done")
	mailTime := time.Since(mailStart)

	rdb := stack.Redis.Client()
	defer rdb.Close()
	rm, err := readmodel.New(rdb, "rm:")
	require.NoError(t, err)
	if repaired.Repaired+repaired.Compensated > 0 {
		// A repair that compensated a saga's last step removed a user the
		// read model may show: the operator rebuilds it (README).
		require.NoError(t, rm.Rebuild(context.Background(), func(ctx context.Context, load func([]readmodel.Row) error) error {
			_, err := snapshot.Reader{User: stack.UserDB, UserScore: stack.ScoreDB}.Read(ctx, func(p snapshot.Page) error { return load(p.Rows()) })
			return err
		}))
		t.Logf("the repair compensated %d sagas: read model rebuilt", repaired.Repaired+repaired.Compensated)
	}
	report, err := check.Run(context.Background(), check.Sources{
		DTM: stack.DtmDB, User: stack.UserDB, UserScore: stack.ScoreDB, ListLimit: 50,
		// Every row is done now: each completed registration must have
		// its mail and its place in the read model, however young.
		MaxMailAge: time.Nanosecond, ReadModel: rm, ReadModelLag: time.Nanosecond,
	})
	require.NoError(t, err)
	var text bytes.Buffer
	require.NoError(t, report.WriteText(&text))

	summary := summarize(t, results, faults, loadTime, drainTime, repaired.Repaired) + mailSummary(t, mailTime)
	t.Log("\n" + summary + "\n" + text.String())
	fmt.Println(summary)
	require.True(t, report.Clean(), "invariant violations:\n%s", text.String())
	checkAnswers(t, results)
}

// orphanGrace is how long after the load the crash test takes a barrier
// row without a saga for one DTM will never record.
const orphanGrace = 5 * time.Second

// dial connects to a branch service as the operator's repair tool.
func dial(t *testing.T, addr, serverName string) *grpc.ClientConn {
	conn, err := stack.DialBranch(addr, serverName, peertls.Repair)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	return conn
}

// registerUntilAnswered sends one registration, retrying with the same
// Idempotency-Key while the gateway is unreachable or answers 5xx; a 202
// is an answer (the saga is pending; checked after the drain). A client
// without a key retries too, each attempt a registration of its own.
func registerUntilAnswered(o outcome) outcome {
	score := 5
	if o.kind == rejected {
		score = 10
	}
	body, _ := json.Marshal(map[string]any{"username": o.username, "password": "chaos-password", "email": o.username + "@example.test", "gender": "other", "score": score})
	client := &http.Client{Timeout: 15 * time.Second}
	for o.attempts = 1; o.attempts <= 150; o.attempts++ {
		req, _ := http.NewRequest(http.MethodPost, stack.APIURL+"/register", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if o.key != "" {
			req.Header.Set("Idempotency-Key", o.key)
		}
		resp, err := client.Do(req)
		if err == nil {
			data, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			o.status = resp.StatusCode
			var a struct{ ID, Gid, Message string }
			_ = json.Unmarshal(data, &a)
			o.id, o.gid = a.ID, a.Gid
			if o.status == http.StatusServiceUnavailable && strings.Contains(a.Message, "nothing was written") && a.Gid != "" {
				o.nothingWritten = append(o.nothingWritten, a.Gid)
			}
			if o.status < 500 {
				return o
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	return o
}

// fault is one event of the schedule, with how long recovery took.
type fault struct {
	name     string
	recovery time.Duration
}

// runFaults works through the schedule while the clients run.
func runFaults(t *testing.T) []fault {
	var done []fault
	crash := func(name string) {
		p := stack.Proc(name)
		p.Kill()
		time.Sleep(1500 * time.Millisecond) // the outage the clients live through
		began := time.Now()
		require.NoError(t, p.Start())
		require.NoError(t, waitUp(name))
		done = append(done, fault{"kill -9 and restart " + name, time.Since(began)})
	}
	time.Sleep(2 * time.Second) // load first
	for _, name := range []string{"user-score", "relay", "user", "mailer", "projector", "dtm", "userapi"} {
		crash(name)
		time.Sleep(1500 * time.Millisecond)
	}

	began := time.Now()
	restartMariaDB(t)
	// DTM may not survive its store going away; bring back what died.
	for _, name := range []string{"dtm", "dtm-2", "user", "user-score", "user-2", "user-score-2", "userapi", "relay", "relay-2", "mailer", "projector"} {
		if !stack.Proc(name).Running() {
			t.Logf("%s exited while MariaDB was down; restarting it", name)
			require.NoError(t, stack.Proc(name).Start())
			require.NoError(t, waitUp(name))
		}
	}
	done = append(done, fault{"restart MariaDB", time.Since(began)})
	time.Sleep(2 * time.Second)

	stack.Proc("dtm-2").Kill() // for good: dtm must finish dtm-2's sagas
	done = append(done, fault{"kill -9 dtm-2 for good", 0})
	time.Sleep(3 * time.Second)
	return done
}

// waitUp waits until a restarted process serves again.
func waitUp(name string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var url string
	switch name {
	case "dtm":
		url = stack.DtmHTTP + "/api/dtmsvr/query?gid=up"
	case "userapi":
		url = stack.APIURL + "/sagas/up"
	case "user", "user-score", "relay", "mailer", "projector":
		url = stack.DevURL[name] + "/healthz"
	default: // replicas: their etcd key outlives them, so give them a moment
		time.Sleep(time.Second)
		return nil
	}
	return suite.WaitFor(ctx, url, func() bool { return suite.Answers(ctx, url) })
}

// restartMariaDB stops the machine's MariaDB and starts it again, as its
// service manager would, and waits until it accepts connections.
func restartMariaDB(t *testing.T) {
	stop := exec.Command("start-stop-daemon", "--stop", "--retry", "30", "--exec", "/usr/sbin/mariadbd")
	out, err := stop.CombinedOutput()
	require.NoError(t, err, "stopping MariaDB: %s", out)
	time.Sleep(2 * time.Second)
	start := exec.Command("start-stop-daemon", "--start", "--oknodo", "--background", "--exec", "/usr/sbin/mariadbd")
	out, err = start.CombinedOutput()
	require.NoError(t, err, "starting MariaDB: %s", out)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	require.NoError(t, suite.WaitFor(ctx, "MariaDB", func() bool { return stack.DtmDB.PingContext(ctx) == nil }))
}

// drain waits until DTM has finished every saga, asking it to retry the
// waiting ones now rather than after their doubling backoff.
func drain(t *testing.T) error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	lastReset := time.Time{}
	return suite.WaitFor(ctx, "every saga to finish", func() bool {
		if time.Since(lastReset) > 2*time.Second {
			lastReset = time.Now()
			resp, err := http.Get(stack.DtmHTTP + "/api/dtmsvr/resetCronTime?timeout=0&limit=10000")
			if err == nil {
				resp.Body.Close()
			}
		}
		var n int
		err := stack.DtmDB.QueryRowContext(ctx, "SELECT COUNT(*) FROM trans_global WHERE status NOT IN ('succeed', 'failed')").Scan(&n)
		return err == nil && n == 0
	})
}

// drainMail waits until every outbox row is done. The mailer killed
// during the load left tasks active in Redis; asynq hands them out again
// once their lease (30 s) ran out and its recoverer (every minute) saw it:
// up to 90 s after the kill.
func drainMail(t *testing.T) error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	return suite.WaitFor(ctx, "every outbox row done", func() bool {
		var n int
		err := stack.UserDB.QueryRowContext(ctx, "SELECT COUNT(*) FROM outbox WHERE done_at IS NULL").Scan(&n)
		return err == nil && n == 0
	})
}

// mailSummary counts the mail: delivery records against the messages the
// mail server received. More messages than records is the at-least-once
// window firing (a mailer killed between the SMTP server's acceptance and
// its record): the same link sent twice.
func mailSummary(t *testing.T, took time.Duration) string {
	var records int
	require.NoError(t, stack.UserDB.QueryRow("SELECT COUNT(*) FROM email_delivery").Scan(&records))
	resp, err := http.Get(stack.MailURL + "/api/stats")
	require.NoError(t, err)
	defer resp.Body.Close()
	var stats struct{ Received int }
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&stats))
	return fmt.Sprintf("mail: %d delivery records, %d messages received (%d sent twice), outbox drained in %s\n",
		records, stats.Received, stats.Received-records, took.Round(time.Millisecond))
}

// checkAnswers: every 201 is a user that exists with both rows; every 409
// and 422 left nothing behind; every 202 ended one way or the other.
func checkAnswers(t *testing.T, results []outcome) {
	present := func(id string) (user, score bool) {
		var n int
		require.NoError(t, stack.UserDB.QueryRow("SELECT COUNT(*) FROM `user` WHERE id = ?", id).Scan(&n))
		user = n == 1
		require.NoError(t, stack.ScoreDB.QueryRow("SELECT COUNT(*) FROM user_score WHERE user_id = ?", id).Scan(&n))
		return user, n == 1
	}
	for _, o := range results {
		// "nothing was written" is a promise: the saga of such an attempt
		// is in no store and wrote no row.
		for _, gid := range o.nothingWritten {
			var n int
			require.NoError(t, stack.DtmDB.QueryRow("SELECT COUNT(*) FROM trans_global WHERE gid = ?", gid).Scan(&n))
			require.Zero(t, n, "%s was answered 503 'nothing was written', but DTM stored it", gid)
			user, score := present(strings.TrimPrefix(gid, reg.GidPrefix))
			require.False(t, user || score, "%s was answered 503 'nothing was written', but wrote rows", gid)
		}
		id := strings.TrimPrefix(o.gid, reg.GidPrefix)
		switch o.status {
		case http.StatusCreated:
			require.NotEmpty(t, o.id, "a 201 carries the id")
			user, score := present(o.id)
			require.True(t, user && score, "201 for %s (%s) but rows user=%v score=%v", o.username, o.id, user, score)
			var name string
			require.NoError(t, stack.UserDB.QueryRow("SELECT username FROM `user` WHERE id = ?", o.id).Scan(&name))
			require.Equal(t, o.username, name)
		case http.StatusConflict, http.StatusUnprocessableEntity:
			require.NotEmpty(t, id)
			user, score := present(id)
			require.False(t, user || score, "%d for %s but rows user=%v score=%v", o.status, o.gid, user, score)
		case http.StatusAccepted:
			// Pending: the outcome was not known in time. Either DTM holds
			// the saga, now finished, and the rows match its end; or DTM
			// never recorded it (its store was down) and nothing was
			// written: GET /sagas/{gid} answers 404 and the client retries.
			var status string
			err := stack.DtmDB.QueryRow("SELECT status FROM trans_global WHERE gid = ?", o.gid).Scan(&status)
			if errors.Is(err, sql.ErrNoRows) {
				status = "never recorded"
			} else {
				require.NoError(t, err)
			}
			user, score := present(id)
			require.Equal(t, status == "succeed", user && score, "pending %s ended %s with rows user=%v score=%v", o.gid, status, user, score)
			require.Equal(t, status == "succeed", user || score)
		default:
			t.Errorf("%s got no definitive answer after %d attempts (last status %d)", o.key, o.attempts, o.status)
		}
		if o.kind == rejected && o.status != http.StatusAccepted {
			require.Equal(t, http.StatusUnprocessableEntity, o.status, "score 10 for %s", o.username)
		}
	}
}

func summarize(t *testing.T, results []outcome, faults []fault, load, drain time.Duration, orphaned int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "chaos: %d registrations from %d clients in %s, drained in %s\n", len(results), envInt("CHAOS_CLIENTS", 16), load.Round(time.Millisecond), drain.Round(time.Millisecond))
	byStatus := map[int]int{}
	retried := 0
	for _, o := range results {
		byStatus[o.status]++
		if o.attempts > 1 {
			retried++
		}
	}
	codes := make([]int, 0, len(byStatus))
	for c := range byStatus {
		codes = append(codes, c)
	}
	sort.Ints(codes)
	fmt.Fprintf(&b, "  %-34s %8s\n", "final answer", "count")
	for _, c := range codes {
		fmt.Fprintf(&b, "  %-34s %8d\n", fmt.Sprintf("HTTP %d", c), byStatus[c])
	}
	fmt.Fprintf(&b, "  %-34s %8d\n", "answered after a retry", retried)
	nothing := 0
	for _, o := range results {
		nothing += len(o.nothingWritten)
	}
	fmt.Fprintf(&b, "  %-34s %8d\n", "503 'nothing was written', checked", nothing)
	neverRecorded := 0
	for _, o := range results {
		if o.status == http.StatusAccepted {
			var n int
			require.NoError(t, stack.DtmDB.QueryRow("SELECT COUNT(*) FROM trans_global WHERE gid = ?", o.gid).Scan(&n))
			if n == 0 {
				neverRecorded++
			}
		}
	}
	fmt.Fprintf(&b, "  %-34s %8d\n", "202 that DTM never recorded", neverRecorded)
	fmt.Fprintf(&b, "  %-34s %8d\n", "unrecorded sagas compensated", orphaned)
	rows, err := stack.DtmDB.Query("SELECT status, COUNT(*) FROM trans_global GROUP BY status ORDER BY status")
	require.NoError(t, err)
	defer rows.Close()
	fmt.Fprintf(&b, "  %-34s %8s\n", "sagas by final state", "count")
	for rows.Next() {
		var status string
		var n int
		require.NoError(t, rows.Scan(&status, &n))
		fmt.Fprintf(&b, "  %-34s %8d\n", status, n)
	}
	fmt.Fprintf(&b, "  %-34s %8s\n", "fault", "recovery")
	for _, f := range faults {
		fmt.Fprintf(&b, "  %-34s %8s\n", f.name, f.recovery.Round(10*time.Millisecond))
	}
	return b.String()
}
