// Package snapshot reads the write side's state of the read model
// (internal/readmodel): every complete user with its score, as
// readmodel.Rows. The rebuild (deploy/rebuild) loads them into a fresh
// generation; the saga check (deploy/sagacheck) compares the live one with
// them.
//
// The two databases may live on different servers, so there is no join:
// complete users are read from the user database in pages, in id order
// (keyset pagination: memory stays bounded by the page, and a page costs
// the same at the end of the table as at its start), and each page's
// scores from the user-score database with one IN list. Each user is read
// by one statement, so a row is one consistent state of its user; a score
// never changes after its insert and is committed before the user is
// complete (the saga's score step runs before its last step), so reading
// it afterwards gives the score of that state. Nothing is locked: the
// reads are plain autocommit SELECTs beside the running services.
//
// Times are read with store.EpochMs, the expression the user service's
// events are written with, so that a snapshot row and an event of the same
// user say the same instant to the ms.
package snapshot

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"sagasuite/internal/readmodel"
	"sagasuite/internal/store"
)

// DefaultPageSize is how many users one page holds when Reader.PageSize is
// zero: one IN list of that many ids is well within MySQL's limits.
const DefaultPageSize = 1000

// Reader reads the snapshot.
type Reader struct {
	User      *sql.DB // user service: user
	UserScore *sql.DB // user-score service: user_score
	// PageSize is the number of users per page; zero means
	// DefaultPageSize.
	PageSize int
	// Cutoff, when not empty, is a DATETIME of the user database's own
	// clock ("2006-01-02 15:04:05.000", see Cutoff): every User then says
	// whether it completed, and was verified, before it. The saga check
	// uses it for its lag allowance; the rebuild leaves it empty.
	Cutoff string
}

// User is one complete user with a score: the row the read model should
// hold, and how old it is.
type User struct {
	readmodel.Row
	// CompletedBefore and VerifiedBefore say whether the registration
	// completed, and the address was verified, before Reader.Cutoff
	// (false when the Reader has none).
	CompletedBefore, VerifiedBefore bool
}

// Page is one page of the snapshot, in id order.
type Page struct {
	Users []User
	// Unscored are the complete users of the page without a score row:
	// skipped, since a registration completes only after its score was
	// written (a write-side defect, which the saga check's rule 3
	// reports).
	Unscored []string
}

// Rows are the page's users as snapshot rows.
func (p Page) Rows() []readmodel.Row {
	rows := make([]readmodel.Row, len(p.Users))
	for i, u := range p.Users {
		rows[i] = u.Row
	}
	return rows
}

// Stats count what a Read read.
type Stats struct {
	Users    int // complete users with a score: rows produced
	Unscored int // complete users without a score row: skipped
	Pages    int
}

// Read reads the snapshot and hands each page to each, in id order; it
// stops at each's first error and returns it.
func (r Reader) Read(ctx context.Context, each func(Page) error) (Stats, error) {
	if r.User == nil || r.UserScore == nil {
		return Stats{}, fmt.Errorf("snapshot: Reader needs the User and UserScore databases")
	}
	size := r.PageSize
	if size <= 0 {
		size = DefaultPageSize
	}
	var st Stats
	last := ""
	for {
		page, n, next, err := r.page(ctx, last, size)
		if err != nil {
			return st, err
		}
		if n == 0 {
			return st, nil
		}
		st.Pages++
		st.Users += len(page.Users)
		st.Unscored += len(page.Unscored)
		if err := each(page); err != nil {
			return st, err
		}
		if n < size {
			return st, nil
		}
		last = next
	}
}

// page reads the complete users after id last and their scores. n is the
// number of users read, complete with a score or not, and next the last
// one's id.
func (r Reader) page(ctx context.Context, last string, size int) (Page, int, string, error) {
	before := "FALSE, FALSE"
	args := []any{last, size}
	if r.Cutoff != "" {
		before = "completed_at < ?, email_verified_at IS NOT NULL AND email_verified_at < ?"
		args = append([]any{r.Cutoff, r.Cutoff}, args...)
	}
	rows, err := r.User.QueryContext(ctx,
		"SELECT id, username, gender, "+store.EpochMs("create_time")+", "+store.EpochMs("email_verified_at")+", "+before+
			" FROM `user` WHERE completed_at IS NOT NULL AND id > ? ORDER BY id LIMIT ?", args...)
	if err != nil {
		return Page{}, 0, "", fmt.Errorf("snapshot: read users: %w", err)
	}
	var users []User
	for rows.Next() {
		var u User
		var registered, verified int64
		if err := rows.Scan(&u.UserID, &u.Username, &u.Gender, &registered, &verified, &u.CompletedBefore, &u.VerifiedBefore); err != nil {
			rows.Close()
			return Page{}, 0, "", fmt.Errorf("snapshot: read users: %w", err)
		}
		u.RegisteredAt, u.Version = time.UnixMilli(registered).UTC(), readmodel.VersionRegistered
		if verified != 0 {
			u.EmailVerified, u.EmailVerifiedAt, u.Version = true, time.UnixMilli(verified).UTC(), readmodel.VersionEmailVerified
		}
		users = append(users, u)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return Page{}, 0, "", fmt.Errorf("snapshot: read users: %w", err)
	}
	if len(users) == 0 {
		return Page{}, 0, "", nil
	}

	ids := make([]string, len(users))
	for i, u := range users {
		ids[i] = u.UserID
	}
	scores, err := Scores(ctx, r.UserScore, ids)
	if err != nil {
		return Page{}, 0, "", err
	}
	var p Page
	for _, u := range users {
		score, ok := scores[u.UserID]
		if !ok {
			p.Unscored = append(p.Unscored, u.UserID)
			continue
		}
		u.Score = score
		p.Users = append(p.Users, u)
	}
	return p, len(users), users[len(users)-1].UserID, nil
}

// Scores reads the score of each of ids that has one, with one IN list:
// the caller passes one page.
func Scores(ctx context.Context, db *sql.DB, ids []string) (map[string]int64, error) {
	out := make(map[string]int64, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	list, args := store.InList(ids)
	rows, err := db.QueryContext(ctx, "SELECT user_id, score FROM user_score WHERE user_id IN ("+list+")", args...)
	if err != nil {
		return nil, fmt.Errorf("snapshot: read scores: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var score int64
		if err := rows.Scan(&id, &score); err != nil {
			return nil, fmt.Errorf("snapshot: read scores: %w", err)
		}
		out[id] = score
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("snapshot: read scores: %w", err)
	}
	return out, nil
}

// Cutoff is the user database's clock, lag ago, as Reader.Cutoff takes
// it: ages are measured by the server that wrote the times (package
// store), never by this process's clock.
func Cutoff(ctx context.Context, db *sql.DB, lag time.Duration) (string, error) {
	var s string
	err := db.QueryRowContext(ctx, "SELECT DATE_FORMAT(NOW(3) - INTERVAL ? MICROSECOND, '%Y-%m-%d %H:%i:%s.%f')",
		int64(lag/time.Microsecond)).Scan(&s)
	if err != nil {
		return "", fmt.Errorf("snapshot: the user database's clock: %w", err)
	}
	return s, nil
}
