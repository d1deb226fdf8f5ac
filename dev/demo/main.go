// Command demo tells the register saga's story against a running suite
// (`make run` in another terminal, then `make demo`): a registration that
// succeeds, one that is compensated, a duplicate username, then login and
// /user/info, and last a registration while user-score is down: it kills
// user-score (the runner restarts it), the gateway answers 202 pending, and
// DTM's retry finishes the saga. After each step it prints the saga's
// status and branches as the gateway reports them and the rows in both
// service databases.
//
// Settings: API_URL (default http://127.0.0.1:8888), CONSOLE_URL (default
// http://127.0.0.1:8890), MYSQL_DSN (default root with no password on
// 127.0.0.1:3306; databases user and user_score), and -data, the runner's
// data directory (default .data), where it keeps the pid files.
package main

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"

	"sagasuite/internal/emailcode"
	"sagasuite/internal/register"
	"sagasuite/internal/store"
)

type demo struct {
	api     string
	console string
	mail    string // the development mail server's HTTP API
	users   *sql.DB
	scores  *sql.DB
	failed  bool
	skipped []string // steps that could not be shown, and why
}

func main() {
	data := flag.String("data", ".data", "the runner's data directory (pid files in <data>/run)")
	flag.Parse()
	api := envOr("API_URL", "http://127.0.0.1:8888")
	console := strings.TrimSuffix(envOr("CONSOLE_URL", "http://127.0.0.1:8890"), "/")
	cfg, err := store.Config(envOr("MYSQL_DSN", store.DefaultDSN))
	if err != nil {
		fmt.Fprintf(os.Stderr, "MYSQL_DSN: %v\n", err)
		os.Exit(2)
	}
	cfg.Timeout = 3 * time.Second
	d := &demo{api: api, console: console, mail: strings.TrimSuffix(envOr("MAILBOX_URL", "http://127.0.0.1:8025"), "/"), users: open(cfg, store.Default.User), scores: open(cfg, store.Default.UserScore)}
	if code, _, err := d.call(http.MethodGet, "/sagas/ping", nil, ""); err != nil || code != http.StatusNotFound {
		fmt.Fprintf(os.Stderr, "the gateway at %s does not answer (%v): start the suite with `make run` first\n", api, err)
		os.Exit(2)
	}

	suffix := time.Now().Format("150405")
	alice, bob := "alice_"+suffix, "bob_"+suffix

	d.step("1. Register " + alice + " with score 5: all three steps succeed; the last records the verification mail in the outbox")
	first := d.register(alice, "alice-password", "female", 5, http.StatusCreated)

	d.step("2. Register " + bob + " with score 10: user-score rejects it, DTM compensates the user branch; the last step never runs, no mail")
	d.register(bob, "bob-password", "male", 10, http.StatusUnprocessableEntity)

	d.step("3. Register " + alice + " again: the user branch refuses the name; the original user stays")
	d.register(alice, "another-password", "male", 7, http.StatusConflict)
	d.rows("user id of step 1", first)

	d.step("4. Log in as " + alice + " and read /user/info with the token")
	_, body, _ := d.call(http.MethodPost, "/login", map[string]string{"username": alice, "password": "alice-password"}, "")
	var login struct{ Token string }
	_ = json.Unmarshal(body, &login)
	code, body, _ := d.call(http.MethodGet, "/user/info", nil, login.Token)
	d.expect("GET /user/info", code, http.StatusOK, body)

	d.step("5. " + alice + "'s verification mail: the mailer sent it once the last step committed; follow its link")
	d.verifyMail(alice + "@example.com")

	d.step("6. user-score down: 202, DTM retries, the console shows it succeed after the restart")
	d.userScoreDown(filepath.Join(*data, "run", "user-score.pid"), "carol_"+suffix)

	if d.failed {
		fmt.Println("\nThe demo did not go as told: see the lines marked UNEXPECTED.")
		os.Exit(1)
	}
	for _, s := range d.skipped {
		fmt.Println("\nSkipped: " + s)
	}
	fmt.Println("\nDone. The saga console shows the same sagas: " + d.console + "/")
}

// verifyMail waits for the one mail to address at the development mail
// server, prints it and follows its link; bob (compensated) has none.
func (d *demo) verifyMail(address string) {
	type message struct {
		ID      int
		Subject string
	}
	var msgs []message
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		resp, err := http.Get(d.mail + "/api/messages?to=" + address)
		if err != nil {
			d.skipped = append(d.skipped, "the mail step: the mail server at "+d.mail+" does not answer (MAILBOX_URL)")
			return
		}
		msgs = nil
		_ = json.NewDecoder(resp.Body).Decode(&msgs)
		resp.Body.Close()
		if len(msgs) > 0 {
			break
		}
	}
	if len(msgs) != 1 {
		fmt.Printf("   mail to %s: %d messages   UNEXPECTED: wanted 1 (is Redis up? see make run's output)\n", address, len(msgs))
		d.failed = true
		return
	}
	resp, err := http.Get(fmt.Sprintf("%s/api/messages/%d/raw", d.mail, msgs[0].ID))
	if err != nil {
		d.expect("GET the mail", 0, http.StatusOK, []byte(err.Error()))
		return
	}
	link := emailcode.FindLink(resp.Body)
	resp.Body.Close()
	fmt.Printf("   mail to %s: %q\n   link: %s\n", address, msgs[0].Subject, link)
	u, err := url.Parse(link)
	if err != nil || link == "" {
		fmt.Println("   UNEXPECTED: no verification link in the mail")
		d.failed = true
		return
	}
	code, body, _ := d.call(http.MethodGet, u.RequestURI(), nil, "")
	d.expect("GET /verify-email", code, http.StatusOK, body)
	code, body, _ = d.call(http.MethodGet, u.RequestURI(), nil, "")
	d.expect("GET /verify-email again", code, http.StatusGone, body)
}

func (d *demo) step(title string) { fmt.Printf("\n\033[1m%s\033[0m\n", title) }

// register posts a registration, checks the status, prints the saga and the
// rows, and returns the user id the saga was about.
func (d *demo) register(username, password, gender string, score int, want int) string {
	code, body, err := d.call(http.MethodPost, "/register", map[string]any{
		"username": username, "password": password, "email": username + "@example.com", "gender": gender, "score": score,
	}, "")
	if err != nil {
		d.expect("POST /register", 0, want, []byte(err.Error()))
		return ""
	}
	d.expect("POST /register", code, want, body)
	var answer struct{ Gid string }
	_ = json.Unmarshal(body, &answer)
	if answer.Gid == "" {
		return ""
	}
	d.saga(answer.Gid)
	id, _ := register.UserID(answer.Gid)
	d.rows("rows for this saga's user id", id)
	return id
}

type sagaAnswer struct {
	Status, Reason string
	Branches       []struct {
		BranchID string `json:"branch_id"`
		Op       string
		Method   string
		Status   string
	}
}

// settled says whether DTM has written the branch statuses that a finished
// saga implies; it writes them in batches, shortly after the saga's status.
func (s sagaAnswer) settled() bool {
	if s.Status != "succeeded" && s.Status != "failed" {
		return false
	}
	compensated := map[string]bool{}
	failedAction := false
	for _, b := range s.Branches {
		if b.Op == "compensate" && b.Status == "succeeded" {
			compensated[b.BranchID] = true
		}
		failedAction = failedAction || b.Op == "action" && b.Status == "failed"
	}
	if s.Status == "failed" && !failedAction { // the action that failed it
		return false
	}
	for _, b := range s.Branches {
		switch {
		case b.Op != "action":
		case s.Status == "succeeded" && b.Status != "succeeded":
			return false
		case s.Status == "failed" && b.Status != "pending" && !compensated[b.BranchID]:
			return false
		}
	}
	return true
}

func (d *demo) saga(gid string) {
	var s sagaAnswer
	for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		_, body, err := d.call(http.MethodGet, "/sagas/"+gid, nil, "")
		if err != nil {
			fmt.Printf("   saga %s: %v\n", gid, err)
			return
		}
		s = sagaAnswer{}
		_ = json.Unmarshal(body, &s)
		if s.settled() || time.Now().After(deadline) {
			break
		}
	}
	fmt.Printf("   saga %s: %s %s\n", gid, s.Status, s.Reason)
	for _, b := range s.Branches {
		fmt.Printf("     branch %s %-10s %-22s %s\n", b.BranchID, b.Op, b.Method, b.Status)
	}
}

func (d *demo) rows(label, id string) {
	user, score, outbox := "none", "none", "none"
	var username, gender string
	var complete bool
	var points int64
	if err := d.users.QueryRow("SELECT username, gender, completed_at IS NOT NULL FROM `user` WHERE id = ?", id).Scan(&username, &gender, &complete); err == nil {
		user = username + " (" + gender + map[bool]string{true: ", complete", false: ", not complete"}[complete] + ")"
	} else if err != sql.ErrNoRows {
		user = "error: " + err.Error()
	}
	var done bool
	var outcome string
	if err := d.users.QueryRow("SELECT done_at IS NOT NULL, outcome FROM outbox WHERE user_id = ? AND kind = 'verify-email'", id).Scan(&done, &outcome); err == nil {
		outbox = "verify-email, " + map[bool]string{true: "done: " + outcome, false: "waiting for the mailer"}[done]
	} else if err != sql.ErrNoRows {
		outbox = "error: " + err.Error()
	}
	if err := d.scores.QueryRow("SELECT score FROM user_score WHERE user_id = ?", id).Scan(&points); err == nil {
		score = fmt.Sprint(points)
	} else if err != sql.ErrNoRows {
		score = "error: " + err.Error()
	}
	fmt.Printf("   %s %s: user row: %s; user_score row: %s; outbox row: %s\n", label, id, user, score, outbox)
}

func (d *demo) expect(what string, got, want int, body []byte) {
	mark := ""
	if got != want {
		mark = fmt.Sprintf("   UNEXPECTED: wanted %d", want)
		d.failed = true
	}
	fmt.Printf("   %s → %d %s%s\n", what, got, strings.TrimSpace(string(body)), mark)
}

func (d *demo) call(method, path string, body any, token string) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		data, _ := json.Marshal(body)
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, d.api+path, rd)
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	client := &http.Client{Timeout: 15 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	return resp.StatusCode, data, err
}

// open prepares a pool on db without connecting: a database that is down
// shows as an error in the rows printed.
func open(server *mysql.Config, db string) *sql.DB {
	conn, err := store.Open(store.In(server, db))
	if err != nil {
		fmt.Fprintf(os.Stderr, "database %s: %v\n", db, err)
		os.Exit(2)
	}
	return conn
}

func envOr(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}
