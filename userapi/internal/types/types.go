// Package types holds the gateway's request and response bodies.
package types

import "sagasuite/internal/dtmread"

// RegisterReq is the body of POST /register.
type RegisterReq struct {
	Username string `json:"username"`
	Password string `json:"password"`
	Email    string `json:"email"`
	Gender   string `json:"gender"`
	Score    int64  `json:"score"`
}

// RegisterResp answers POST /register: 201 with status "succeeded" or 202
// with status "pending".
type RegisterResp struct {
	ID     string `json:"id,omitempty"`
	Gid    string `json:"gid"`
	Status string `json:"status"`
}

// LoginReq is the body of POST /login.
type LoginReq struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// LoginResp carries a bearer token and its expiry (Unix seconds).
type LoginResp struct {
	Token     string `json:"token"`
	ExpiresAt int64  `json:"expires_at"`
}

// UserInfoResp answers GET /user/info.
type UserInfoResp struct {
	ID       string `json:"id"`
	Username string `json:"username"`
	// Email is empty for a user registered before addresses were asked for.
	Email string `json:"email"`
	// EmailVerified: the link of the verification mail was followed.
	EmailVerified bool   `json:"email_verified"`
	Gender        string `json:"gender"`
	Score         int64  `json:"score"`
}

// VerifyEmailResp answers GET /verify-email.
type VerifyEmailResp struct {
	ID            string `json:"id"`
	Email         string `json:"email"`
	EmailVerified bool   `json:"email_verified"`
}

// Saga status values, as the gateway (and the console) report them.
const (
	StatusSucceeded = dtmread.Succeeded
	StatusFailed    = dtmread.Failed
	StatusPending   = dtmread.Pending
)

// SagaResp answers GET /sagas/{gid}.
type SagaResp struct {
	Gid    string `json:"gid"`
	Status string `json:"status"`
	// Reason is the stable code of a failed saga (USERNAME_TAKEN, …).
	Reason   string       `json:"reason,omitempty"`
	Branches []SagaBranch `json:"branches"`
	// TraceID is the registration's trace (W3C, 32 hex digits), when it
	// was traced.
	TraceID string `json:"trace_id,omitempty"`
}

// SagaBranch is one action or compensation of a saga, named by service key
// and method; the internal URL DTM calls is never shown.
type SagaBranch struct {
	BranchID   string `json:"branch_id"`
	Op         string `json:"op"`
	Service    string `json:"service"`
	Method     string `json:"method"`
	Status     string `json:"status"`
	FinishTime string `json:"finish_time,omitempty"`
}

// ProfileResp answers GET /users/{id}: a public profile, from the read
// model. Times are RFC 3339 in UTC, to the ms; as_of is the time of the
// newest event the read model applied (null before any).
type ProfileResp struct {
	ID            string  `json:"id"`
	Username      string  `json:"username"`
	Gender        string  `json:"gender"`
	Score         int64   `json:"score"`
	EmailVerified bool    `json:"email_verified"`
	RegisteredAt  string  `json:"registered_at"`
	AsOf          *string `json:"as_of"`
}

// LeaderboardResp answers GET /leaderboard: a page of users by score,
// highest first, ties by earlier registration; total counts every ranked
// user.
type LeaderboardResp struct {
	Entries []LeaderboardEntry `json:"entries"`
	Limit   int                `json:"limit"`
	Offset  int                `json:"offset"`
	Total   int64              `json:"total"`
	AsOf    *string            `json:"as_of"`
}

// LeaderboardEntry is one ranked user; rank is 1-based over the board.
type LeaderboardEntry struct {
	Rank     int64  `json:"rank"`
	ID       string `json:"id"`
	Username string `json:"username"`
	Score    int64  `json:"score"`
}
