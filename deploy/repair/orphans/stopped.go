package orphans

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/dtm-labs/dtm/client/dtmcli"

	"sagasuite/internal/register"
	"sagasuite/internal/store"
)

// batchSize bounds one IN list and one page of DTM's store.
const batchSize = 500

// stopped finds failed register sagas whose user or score row is still
// there and, unless DryRun, compensates them through the barrier. It
// walks every failed register saga, in pages, since a stop can be as old
// as the saga (retention eventually removes finished sagas).
func stopped(ctx context.Context, o Options, res *Result) error {
	last := ""
	for {
		// By gid, its unique key: pages that do not move under inserts.
		gids, err := store.Strings(ctx, o.DTM,
			"SELECT gid FROM trans_global WHERE gid > ? AND gid LIKE ? AND status = ? ORDER BY gid LIMIT ?",
			last, register.GidPrefix+"%", dtmcli.StatusFailed, batchSize)
		if err != nil {
			return err
		}
		if len(gids) > 0 {
			last = gids[len(gids)-1]
		}
		left, err := withRows(ctx, o, gids)
		if err != nil {
			return err
		}
		for _, gid := range left {
			res.Stopped = append(res.Stopped, gid)
			if o.DryRun {
				continue
			}
			if err := compensate(ctx, o, gid); err != nil {
				return fmt.Errorf("%s: %w", gid, err)
			}
			res.Compensated++
		}
		if len(gids) < batchSize {
			return nil
		}
	}
}

// withRows returns the gids, in order, whose user or score row exists.
func withRows(ctx context.Context, o Options, gids []string) ([]string, error) {
	ids := make([]string, 0, len(gids))
	for _, gid := range gids {
		if id, ok := register.UserID(gid); ok {
			ids = append(ids, id)
		}
	}
	users, err := store.Present(ctx, o.User, "user", "id", ids)
	if err != nil {
		return nil, err
	}
	scores, err := store.Present(ctx, o.UserScore, "user_score", "user_id", ids)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, gid := range gids {
		if id, ok := register.UserID(gid); ok && (users[id] || scores[id]) {
			out = append(out, gid)
		}
	}
	return out, nil
}

// abandoned finds register sagas prepared longer than Grace ago and, unless
// DryRun (or without DTMHTTP), stops them through DTM's forceStop. A
// submit that wins the race against the stop makes the stop fail, and the
// saga then runs as usual: that error is not counted as one.
func abandoned(ctx context.Context, o Options, res *Result) error {
	now := o.Now
	if now.IsZero() {
		now = time.Now()
	}
	gids, err := store.Strings(ctx, o.DTM,
		"SELECT gid FROM trans_global WHERE status = ? AND gid LIKE ? AND create_time < ? ORDER BY id",
		dtmcli.StatusPrepared, register.GidPrefix+"%", store.DTMTime(now.Add(-o.Grace), o.DTMLocation))
	if err != nil {
		return err
	}
	res.Abandoned = gids
	if o.DryRun || o.DTMHTTP == "" {
		return nil
	}
	for _, gid := range gids {
		if err := forceStop(ctx, o.DTMHTTP, gid); err != nil {
			var still string
			if qerr := o.DTM.QueryRowContext(ctx, "SELECT status FROM trans_global WHERE gid = ?", gid).Scan(&still); qerr == nil && still != dtmcli.StatusPrepared {
				continue // submitted meanwhile: no longer abandoned
			}
			return fmt.Errorf("%s: %w", gid, err)
		}
		res.Ended++
	}
	return nil
}

// forceStop asks DTM to mark gid failed without running anything.
func forceStop(ctx context.Context, base, gid string) error {
	body, _ := json.Marshal(map[string]string{"gid": gid})
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(base, "/")+"/api/dtmsvr/forceStop", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		text, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("forceStop: HTTP %d: %s", resp.StatusCode, bytes.TrimSpace(text))
	}
	return nil
}
