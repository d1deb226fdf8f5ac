// Package readmodel is the Redis read model behind public profiles and the
// leaderboard: data of both services (username and gender from the user
// service, the score from user-score), fed from committed events and
// answered in one round trip. It is the store only: what delivers the
// events (outbox → asynq → a projector) and what serves HTTP are elsewhere.
//
// # Events and versions
//
// A user's events carry versions that are unique per user and grow with
// each event the write side produces: RegistrationCompleted is version 1,
// EmailVerified version 2. Events arrive at least once and in any order.
// Each event type sets its own fields, so the final state does not depend
// on the order; what must not happen is an event applied twice, or a
// snapshot's older state written over a newer event. Both are prevented by
// recording, per user and generation, which versions are applied: a floor
// (every version ≤ floor is applied: what a snapshot row says) and a marker
// per applied version above it. An event whose version is ≤ the floor or
// already marked changes nothing.
//
// # Key layout
//
// Every key starts with the store's base "{prefix}": the braces make the
// prefix a hash tag, so in a cluster all of a store's keys live in one slot
// and one script may touch all of them. With prefix "rm:":
//
//	{rm:}live            string: the live generation's number (absent: 0)
//	{rm:}building        string: the generation being rebuilt (absent: none)
//	{rm:}seq             string: the last generation number allocated
//	{rm:}<g>:u:<id>      hash: user <id>'s profile in generation <g>:
//	                       username, gender, score, registered_at (ms),
//	                       email_verified ("1"), email_verified_at (ms),
//	                       and the guard: _floor, _v<version> ("1")
//	{rm:}<g>:lb          zset: the leaderboard of generation <g>
//	{rm:}<g>:asof        string: ms of the newest event generation <g> applied
//
// A generation's keys all match "{rm:}<g>:*", which is how a replaced or
// abandoned generation is found and UNLINKed (SCAN MATCH, in batches).
//
// # Leaderboard order
//
// The order is score descending, then registration time ascending, then
// user id ascending (bytewise). A sorted set orders by score ascending and
// then by member bytewise, so the zset score is the negated score and the
// member is the registration time in ms, zero-padded to 13 digits, a ":"
// and the id: ZRANGE (ascending) is exactly the order wanted. The score is
// the zset score alone, never combined with the time: a float64 holds
// integers exactly up to 2^53 (scores here are ≤ 1,000,000), whereas
// score·10^13 + ms would need ~63 bits and lose the time's low digits.
// The fixed width makes bytewise order of the time digits their numeric
// order, and since every member has the same 14-byte prefix length, ties
// on time fall to the id's bytes ("e" before "e1" before "f").
// Registration times must be in [1970, 2286] (13 digits of ms); scores in
// ±2^53.
//
// # Atomicity
//
// Every operation is one Lua script (EVALSHA, EVAL when the server does not
// know it yet), and Redis runs a script alone: Apply reads the generation
// pointers, checks the guard, writes the hash, the zset and as_of of each
// generation it writes to, all or nothing as seen by every other client.
// Profile and Leaderboard resolve the live pointer and read that
// generation's keys inside one script, so an answer always comes from one
// generation, and in one round trip (the leaderboard script reads each
// entry's username from its hash itself). Load pipelines one script call
// per snapshot row; each row is atomic, and the rows need no atomicity
// together because nobody reads the building generation.
//
// # as_of
//
// as_of is the time of the newest event a generation applied (its
// RegistrationCompleted's RegisteredAt or its EmailVerified's At), not the
// wall clock of application: it stays the same whenever and however often
// the events are delivered, so a rebuilt generation reports what the one it
// replaces would. It says how recent the newest visible change is; since
// events arrive in any order, it does not prove that every older event
// arrived.
//
// # Rebuild under traffic
//
// BeginRebuild allocates a fresh generation and names it "building". From
// the moment that script ran, every Apply (a script, so either entirely
// before it or entirely after) applies its event to the live generation and
// to the building one, each with its own guard. The caller then reads its
// snapshot from the write side, and Load writes each row into the building
// generation as the events it stands for (its registration, its email
// verification if any) under the row's version as the floor: what a row
// carries that an event already wrote is skipped, and events at or below
// the row's version arriving later are skipped. Every event is therefore in
// the building generation exactly once: an event committed before the
// snapshot was read is in the snapshot (its version ≤ the row's), and may
// also be delivered, harmlessly; an event committed after it has a higher
// version and is delivered after BeginRebuild, hence applied to the
// building generation. Commit swaps the live pointer in one script; reads
// see either the old generation or the new one, never both; the old one is
// then UNLINKed, which no reader or writer touches any more. The snapshot
// must be read after BeginRebuild returned, and each row must be one
// consistent state of its user. A second BeginRebuild supersedes a first
// (a crashed rebuild does not block the next); the first's Load, Commit
// and Abort then fail with ErrNotBuilding.
//
// After a FLUSHALL the live pointer is gone, so generation 0 (empty) is
// live, Apply keeps feeding it, and a rebuild restores everything.
package readmodel

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Versions of the events the write side produces for a user: fixed, one
// per event type, so a snapshot row's version says which events it holds.
const (
	VersionRegistered    int64 = 1
	VersionEmailVerified int64 = 2
)

// Limits of what the leaderboard encoding holds exactly (see the package
// comment): a score is a float64 integer, a registration time 13 digits
// of ms.
const (
	MaxScore    int64 = 1 << 53
	maxMilli    int64 = 9_999_999_999_999
	milliDigits       = 13
)

// MaxPageLimit bounds a leaderboard page: the script reads one hash per
// entry while Redis serves nobody else.
const MaxPageLimit = 100

var (
	// ErrInvalidEvent: an event or snapshot row the write side would not
	// produce (empty id, wrong version, a time or score out of range).
	ErrInvalidEvent = errors.New("readmodel: invalid event")
	// ErrInvalidPage: a leaderboard page outside 1 ≤ limit ≤ 100,
	// offset ≥ 0; the caller's input, to be answered as a bad request.
	ErrInvalidPage = errors.New("readmodel: invalid page")
	// ErrNotBuilding: the rebuild was committed, aborted or superseded.
	ErrNotBuilding = errors.New("readmodel: generation is not being built")
	// ErrPrefix: a prefix that cannot be a hash tag.
	ErrPrefix = errors.New("readmodel: prefix must be non-empty, without braces")
)

// Event is one of the write side's events: RegistrationCompleted or
// EmailVerified.
type Event interface {
	user() string
	part() (part, error)
}

// RegistrationCompleted: the saga registered the user and its score;
// the user enters profiles and the leaderboard.
type RegistrationCompleted struct {
	UserID, Username, Gender string
	Score                    int64
	RegisteredAt             time.Time
	Version                  int64 // always VersionRegistered
}

// EmailVerified: the user proved their address.
type EmailVerified struct {
	UserID  string
	At      time.Time
	Version int64 // always VersionEmailVerified
}

func (e RegistrationCompleted) user() string { return e.UserID }
func (e EmailVerified) user() string         { return e.UserID }

func (e RegistrationCompleted) part() (part, error) {
	if e.UserID == "" || e.Version != VersionRegistered {
		return part{}, fmt.Errorf("%w: registration of %q, version %d", ErrInvalidEvent, e.UserID, e.Version)
	}
	if e.Score > MaxScore || e.Score < -MaxScore {
		return part{}, fmt.Errorf("%w: score %d of %q", ErrInvalidEvent, e.Score, e.UserID)
	}
	at, err := milli(e.RegisteredAt)
	if err != nil {
		return part{}, fmt.Errorf("%w: registration of %q at %v", ErrInvalidEvent, e.UserID, e.RegisteredAt)
	}
	return part{
		version: e.Version,
		at:      at,
		member:  fmt.Sprintf("%0*d:%s", milliDigits, at, e.UserID),
		zscore:  strconv.FormatInt(-e.Score, 10),
		fields: []string{"username", e.Username, "gender", e.Gender,
			"score", strconv.FormatInt(e.Score, 10), "registered_at", strconv.FormatInt(at, 10)},
	}, nil
}

func (e EmailVerified) part() (part, error) {
	if e.UserID == "" || e.Version != VersionEmailVerified {
		return part{}, fmt.Errorf("%w: verification of %q, version %d", ErrInvalidEvent, e.UserID, e.Version)
	}
	at, err := milli(e.At)
	if err != nil {
		return part{}, fmt.Errorf("%w: verification of %q at %v", ErrInvalidEvent, e.UserID, e.At)
	}
	return part{version: e.Version, at: at,
		fields: []string{"email_verified", "1", "email_verified_at", strconv.FormatInt(at, 10)}}, nil
}

// part is what one event writes: its version, time, hash fields and
// leaderboard entry (member "" for none).
type part struct {
	version, at    int64
	member, zscore string
	fields         []string
}

func milli(t time.Time) (int64, error) {
	ms := t.UnixMilli()
	if t.IsZero() || ms < 0 || ms > maxMilli {
		return 0, errors.New("time out of range")
	}
	return ms, nil
}

// Store is the read model under one prefix of one Redis (standalone,
// sentinel or cluster: all its keys share one hash tag).
type Store struct {
	rdb  redis.UniversalClient
	base string // "{prefix}"
}

// New is the store whose keys start with "{prefix}".
func New(rdb redis.UniversalClient, prefix string) (*Store, error) {
	if prefix == "" || strings.ContainsAny(prefix, "{}") {
		return nil, fmt.Errorf("%w: %q", ErrPrefix, prefix)
	}
	return &Store{rdb: rdb, base: "{" + prefix + "}"}, nil
}

func (s *Store) pointers() []string { return []string{s.base + "live", s.base + "building"} }

// args are applyScript's arguments for one user's parts.
func (s *Store) args(target, uid string, floor int64, parts ...part) []any {
	a := []any{s.base, target, uid, floor}
	for _, p := range parts {
		a = append(a, p.version, p.at, p.member, p.zscore, len(p.fields)/2)
		for _, f := range p.fields {
			a = append(a, f)
		}
	}
	return a
}

// Apply applies an event to the live generation and, during a rebuild, to
// the building one, each at most once. It reports whether it changed
// either: false for a duplicate or for an event a snapshot already held.
func (s *Store) Apply(ctx context.Context, e Event) (bool, error) {
	p, err := e.part()
	if err != nil {
		return false, err
	}
	n, err := applyScript.Run(ctx, s.rdb, s.pointers(), s.args("", e.user(), 0, p)...).Int64()
	if err != nil {
		return false, fmt.Errorf("readmodel: apply: %w", err)
	}
	return n > 0, nil
}

// Profile is a user's public profile.
type Profile struct {
	ID, Username, Gender string
	Score                int64
	EmailVerified        bool
	EmailVerifiedAt      time.Time // zero if not verified or not known
	RegisteredAt         time.Time
}

// Freshness says which generation answered and the time of the newest
// event it applied (zero if none).
type Freshness struct {
	Generation int64
	AsOf       time.Time
}

// ProfileAnswer is Profile's answer; Found is false until the user's
// RegistrationCompleted was applied, whatever else was.
type ProfileAnswer struct {
	Profile Profile
	Found   bool
	Freshness
}

// Profile reads a user's profile in one round trip.
func (s *Store) Profile(ctx context.Context, id string) (ProfileAnswer, error) {
	r, err := profileScript.Run(ctx, s.rdb, s.pointers(), s.base, id).StringSlice()
	if err != nil {
		return ProfileAnswer{}, fmt.Errorf("readmodel: profile: %w", err)
	}
	a := ProfileAnswer{Profile: Profile{ID: id}}
	if a.Freshness, err = freshness(r); err != nil {
		return ProfileAnswer{}, err
	}
	h := map[string]string{}
	for i := 2; i+1 < len(r); i += 2 {
		h[r[i]] = r[i+1]
	}
	reg, ok := h["registered_at"]
	if !ok {
		return a, nil
	}
	a.Found = true
	p := &a.Profile
	p.Username, p.Gender, p.EmailVerified = h["username"], h["gender"], h["email_verified"] == "1"
	p.Score, _ = strconv.ParseInt(h["score"], 10, 64)
	p.RegisteredAt = fromMilli(reg)
	if v, ok := h["email_verified_at"]; ok {
		p.EmailVerifiedAt = fromMilli(v)
	}
	return a, nil
}

// Entry is one leaderboard line; Rank is 1-based over the whole board.
type Entry struct {
	Rank     int64
	ID       string
	Username string
	Score    int64
}

// Page is a page of the leaderboard; Total counts every ranked user.
type Page struct {
	Entries []Entry
	Total   int64
	Freshness
}

// Leaderboard reads limit entries from rank offset+1, in one round trip.
func (s *Store) Leaderboard(ctx context.Context, limit, offset int) (Page, error) {
	if limit < 1 || limit > MaxPageLimit || offset < 0 {
		return Page{}, fmt.Errorf("%w: limit %d (1..%d), offset %d (≥ 0)", ErrInvalidPage, limit, MaxPageLimit, offset)
	}
	r, err := leaderboardScript.Run(ctx, s.rdb, s.pointers(), s.base, offset, limit, milliDigits).Slice()
	if err != nil {
		return Page{}, fmt.Errorf("readmodel: leaderboard: %w", err)
	}
	str := func(v any) string { x, _ := v.(string); return x }
	p := Page{}
	if len(r) < 3 || (len(r)-3)%3 != 0 {
		return Page{}, fmt.Errorf("readmodel: leaderboard: reply of %d values", len(r))
	}
	if p.Freshness, err = freshness([]string{str(r[0]), str(r[1])}); err != nil {
		return Page{}, err
	}
	p.Total, _ = r[2].(int64)
	for i := 3; i < len(r); i += 3 {
		score, _ := strconv.ParseInt(str(r[i+2]), 10, 64)
		p.Entries = append(p.Entries, Entry{Rank: int64(offset + len(p.Entries) + 1),
			ID: str(r[i]), Username: str(r[i+1]), Score: score})
	}
	return p, nil
}

// freshness reads a script's first two values: generation and as_of.
func freshness(r []string) (Freshness, error) {
	if len(r) < 2 {
		return Freshness{}, fmt.Errorf("readmodel: reply of %d values", len(r))
	}
	g, err := strconv.ParseInt(r[0], 10, 64)
	if err != nil {
		return Freshness{}, fmt.Errorf("readmodel: generation %q: %w", r[0], err)
	}
	f := Freshness{Generation: g}
	if r[1] != "0" {
		f.AsOf = fromMilli(r[1])
	}
	return f, nil
}

func fromMilli(s string) time.Time {
	ms, _ := strconv.ParseInt(s, 10, 64)
	return time.UnixMilli(ms).UTC()
}
