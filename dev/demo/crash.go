package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"sagasuite/internal/httpget"
	"sagasuite/internal/register"
)

const (
	// scoreHealth is user-score's go-zero health probe (its dev server).
	scoreHealth = "http://127.0.0.1:6471/healthz"
	// settleWithin bounds the wait for DTM's retry. DTM doubles a saga's
	// interval (RetryInterval, 10 s) at each failed branch call, the first
	// one included, and its cron looks every 3 s: the first retry comes
	// 20–23 s after the failed call, the second 40 s after that one.
	settleWithin = 60 * time.Second
)

// byHand is how to tell step 5's story without the demo's help.
const byHand = `by hand: kill -9 user-score (its pid: ss -ltnp 'sport = :8081'), register at once
     with the first curl line ` + "`make run`" + ` printed (new username), and watch
     GET /sagas/{gid} turn from pending to succeeded once ` + "`make run`" + ` has restarted it`

// userScoreDown kills user-score, registers while it is down and follows
// the saga until DTM's retry, after the runner's restart, finishes it.
// When user-score cannot be killed from here it says how to do it by hand
// and marks the step skipped.
func (d *demo) userScoreDown(pidFile, username string) {
	skip := func(why string) {
		fmt.Printf("   SKIPPED: %s\n     %s\n", why, byHand)
		d.skipped = append(d.skipped, "step 5 (user-score down): "+why)
	}
	if !waitUntil(15*time.Second, func() bool { return answers(scoreHealth) }) {
		skip("user-score's health probe " + scoreHealth + " does not answer")
		return
	}
	pid, err := childPid(pidFile, "user-score")
	if err != nil {
		skip(err.Error())
		return
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		skip(fmt.Sprintf("kill -9 %d: %v (run the demo as the user that runs `make run`)", pid, err))
		return
	}
	killed := time.Now()
	since := func() string { return fmt.Sprintf("+%4.1fs", time.Since(killed).Seconds()) }
	fmt.Printf("   %s killed user-score (kill -9 %d, pid from %s)\n", since(), pid, pidFile)
	// Its listening sockets close with it, before the runner even reaps it.
	waitUntil(2*time.Second, func() bool { return !answers(scoreHealth) })

	// The runner restarts it within a second or so; say when, as it happens.
	ctx, cancel := context.WithTimeout(context.Background(), settleWithin)
	defer cancel()
	back := make(chan struct{})
	restarted := 0 // the new pid, read after back is closed
	go func() {
		defer close(back)
		for ; ctx.Err() == nil; sleep(ctx, 100*time.Millisecond) {
			if now, err := readPid(pidFile); err == nil && now != pid && answers(scoreHealth) {
				fmt.Printf("   %s user-score is back: the runner restarted it as pid %d, its health probe answers\n", since(), now)
				restarted = now
				return
			}
		}
	}()

	code, body, err := d.call(http.MethodPost, "/register", map[string]any{
		"username": username, "password": "carol-password", "email": username + "@example.com", "gender": "female", "score": 7,
	}, "")
	var answer struct{ Gid, Status string }
	_ = json.Unmarshal(body, &answer)
	switch {
	case err != nil:
		d.expect("POST /register", 0, http.StatusAccepted, []byte(err.Error()))
		return
	case code == http.StatusAccepted:
		fmt.Printf("   %s POST /register → %d %s\n", since(), code, strings.TrimSpace(string(body)))
		if answer.Status != "pending" || answer.Gid == "" {
			d.failed = true
			fmt.Println("   UNEXPECTED: a 202 names the gid and says pending")
			if answer.Gid == "" {
				return
			}
		} else {
			fmt.Println("          (DTM could not reach InitScore; the gateway waited its 5 s result timeout. DTM retries")
			fmt.Println("          about 20 s after the failed call: its RetryInterval, 10 s, doubled once, on a 3 s cron)")
		}
	case code == http.StatusCreated:
		// DTM called InitScore after the restart: correct, but not the story.
		fmt.Printf("   %s POST /register → %d %s\n", since(), code, strings.TrimSpace(string(body)))
		fmt.Println("   RACE: 201, not 202: the runner had restarted user-score before DTM called it, so no retry was needed; run `make demo` again to see the 202")
	default:
		d.expect("POST /register", code, http.StatusAccepted, body)
		if answer.Gid == "" {
			return
		}
	}

	// Follow the saga until it succeeded, saying each status once.
	last := ""
	for ; ctx.Err() == nil && last != "succeeded"; sleep(ctx, 250*time.Millisecond) {
		code, body, err := d.call(http.MethodGet, "/sagas/"+answer.Gid, nil, "")
		var s sagaAnswer
		switch {
		case err != nil:
			s.Status = "unknown (" + err.Error() + ")"
		case code != http.StatusOK:
			s.Status = fmt.Sprintf("unknown (HTTP %d %s)", code, strings.TrimSpace(string(body)))
		default:
			_ = json.Unmarshal(body, &s)
		}
		if s.Status != last {
			fmt.Printf("   %s saga %s: %s\n", since(), answer.Gid, s.Status)
			last = s.Status
		}
	}
	cancel()
	<-back
	if restarted == 0 {
		fmt.Println("   user-score was not seen back (a new pid in the pid file and its health probe answering)")
	}
	if last != "succeeded" {
		d.failed = true
		fmt.Printf("   UNEXPECTED: the saga is still %s after %s", last, settleWithin)
		if !answers(scoreHealth) {
			fmt.Print("; user-score did not come back (does this `make run` restart its children?)")
		}
		fmt.Println()
	}
	d.saga(answer.Gid)
	id, _ := register.UserID(answer.Gid)
	d.rows("rows for this saga's user id", id)
	fmt.Printf("   in the console: %s/#%s\n", d.console, answer.Gid)
}

// childPid reads the pid the runner wrote for name and checks that it is
// that command, not a pid reused since by something else.
func childPid(pidFile, name string) (int, error) {
	pid, err := readPid(pidFile)
	if errors.Is(err, os.ErrNotExist) {
		return 0, fmt.Errorf("no pid file %s (is the suite running under `make run`, from this directory?)", pidFile)
	}
	if err != nil {
		return 0, err
	}
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	if err != nil {
		return 0, fmt.Errorf("pid %d from %s: %w", pid, pidFile, err)
	}
	// A binary rebuilt while it runs reads as "… (deleted)".
	if base := filepath.Base(strings.TrimSuffix(exe, " (deleted)")); base != name {
		return 0, fmt.Errorf("pid %d from %s runs %s, not %s", pid, pidFile, base, name)
	}
	return pid, nil
}

func readPid(pidFile string) (int, error) {
	data, err := os.ReadFile(pidFile)
	if err != nil {
		return 0, err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("%s holds no pid: %q", pidFile, data)
	}
	return pid, nil
}

// answers says whether url answers 200 within a second.
func answers(url string) bool {
	code, err := httpget.Status(context.Background(), url, time.Second)
	return err == nil && code == http.StatusOK
}

// waitUntil polls cond every 50 ms for up to d and says whether it held.
func waitUntil(d time.Duration, cond func() bool) bool {
	for deadline := time.Now().Add(d); !cond(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			return false
		}
	}
	return true
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}
