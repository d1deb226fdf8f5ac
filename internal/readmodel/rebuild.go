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

// Row is one user as the write side's snapshot has them: every field, and
// the highest version of the user's events the snapshot saw. Loading it
// marks every version ≤ Version applied.
type Row struct {
	UserID, Username, Gender string
	Score                    int64
	RegisteredAt             time.Time
	EmailVerified            bool
	EmailVerifiedAt          time.Time // zero if the write side did not keep it
	Version                  int64
}

// parts are the events a row stands for.
func (r Row) parts() ([]part, error) {
	if r.Version < VersionRegistered || (r.EmailVerified && r.Version < VersionEmailVerified) {
		return nil, fmt.Errorf("%w: snapshot row %q at version %d", ErrInvalidEvent, r.UserID, r.Version)
	}
	reg, err := RegistrationCompleted{UserID: r.UserID, Username: r.Username, Gender: r.Gender,
		Score: r.Score, RegisteredAt: r.RegisteredAt, Version: VersionRegistered}.part()
	if err != nil || !r.EmailVerified {
		return []part{reg}, err
	}
	ev := part{version: VersionEmailVerified, fields: []string{"email_verified", "1"}}
	if !r.EmailVerifiedAt.IsZero() {
		p, err := EmailVerified{UserID: r.UserID, At: r.EmailVerifiedAt, Version: VersionEmailVerified}.part()
		if err != nil {
			return nil, err
		}
		ev = p
	}
	return []part{reg, ev}, nil
}

// Rebuild is a generation being built; see the package comment.
type Rebuild struct {
	s   *Store
	gen int64
}

// Generation is the number of the generation being built.
func (r *Rebuild) Generation() int64 { return r.gen }

// BeginRebuild starts building a fresh generation: from its return on,
// every Apply also writes to it. Read the snapshot only after it returned.
// A rebuild still in progress is superseded and its keys deleted.
func (s *Store) BeginRebuild(ctx context.Context) (*Rebuild, error) {
	r, err := beginScript.Run(ctx, s.rdb, append(s.pointers(), s.base+"seq")).Slice()
	if err != nil {
		return nil, fmt.Errorf("readmodel: begin rebuild: %w", err)
	}
	gen, _ := r[0].(int64)
	if prev, _ := r[1].(string); prev != "" {
		if err := s.unlinkGeneration(ctx, prev); err != nil {
			return nil, fmt.Errorf("readmodel: generation %d is being built, but deleting the one it superseded: %w", gen, err)
		}
	}
	return &Rebuild{s: s, gen: gen}, nil
}

// loadBatch is how many rows one pipeline carries.
const loadBatch = 256

// Load writes snapshot rows into the building generation, each atomically
// and guarded like an event (see Row). Rows may be loaded in any number of
// calls, in any order, and again.
func (r *Rebuild) Load(ctx context.Context, rows []Row) error {
	s, target := r.s, strconv.FormatInt(r.gen, 10)
	for len(rows) > 0 {
		batch := rows[:min(loadBatch, len(rows))]
		rows = rows[len(batch):]
		args := make([][]any, len(batch))
		for i, row := range batch {
			parts, err := row.parts()
			if err != nil {
				return err
			}
			args[i] = s.args(target, row.UserID, row.Version, parts...)
		}
		pipe := s.rdb.Pipeline()
		cmds := make([]*redis.Cmd, len(batch))
		for i := range batch {
			cmds[i] = applyScript.EvalSha(ctx, pipe, s.pointers(), args[i]...)
		}
		_, _ = pipe.Exec(ctx) // each command's error is looked at below
		for i, c := range cmds {
			err := c.Err()
			if redis.HasErrorPrefix(err, "NOSCRIPT") {
				// Not yet in the server's script cache: this row alone
				// again, with the fallback (rows are idempotent).
				err = applyScript.Run(ctx, s.rdb, s.pointers(), args[i]...).Err()
			}
			if err != nil {
				return r.fail("load", err)
			}
		}
	}
	return nil
}

// Commit makes the generation live in one step and deletes the one it
// replaced. If only the deletion fails, the new generation is live and the
// error says so; Sweep removes the leftovers later.
func (r *Rebuild) Commit(ctx context.Context) error {
	old, err := commitScript.Run(ctx, r.s.rdb, r.s.pointers(), r.gen).Text()
	if err != nil {
		return r.fail("commit", err)
	}
	if err := r.s.unlinkGeneration(ctx, old); err != nil {
		return fmt.Errorf("readmodel: generation %d is live, but deleting generation %s: %w", r.gen, old, err)
	}
	return nil
}

// Abort stops the rebuild and deletes what it built; the live generation
// never noticed.
func (r *Rebuild) Abort(ctx context.Context) error {
	if err := abortScript.Run(ctx, r.s.rdb, r.s.pointers(), r.gen).Err(); err != nil {
		return r.fail("abort", err)
	}
	return r.s.unlinkGeneration(ctx, strconv.FormatInt(r.gen, 10))
}

func (r *Rebuild) fail(op string, err error) error {
	if redis.HasErrorPrefix(err, "NOTBUILDING") {
		return fmt.Errorf("%w: %s of generation %d", ErrNotBuilding, op, r.gen)
	}
	return fmt.Errorf("readmodel: %s generation %d: %w", op, r.gen, err)
}

// Rebuild builds a fresh generation while Apply goes on: read is called
// after BeginRebuild and hands the write side's snapshot to load, in as
// many calls as it likes; on its success the generation goes live, on any
// error it is aborted.
func (s *Store) Rebuild(ctx context.Context, read func(ctx context.Context, load func([]Row) error) error) error {
	rb, err := s.BeginRebuild(ctx)
	if err != nil {
		return err
	}
	if err := read(ctx, func(rows []Row) error { return rb.Load(ctx, rows) }); err != nil {
		if aerr := rb.Abort(context.WithoutCancel(ctx)); aerr != nil && !errors.Is(aerr, ErrNotBuilding) {
			err = errors.Join(err, aerr)
		}
		return err
	}
	return rb.Commit(ctx)
}

// Sweep deletes the keys of every generation that is neither live nor
// being built: what a failed deletion after Commit or Abort left. A
// generation allocated while it runs is above the counter it read, so it
// is never touched.
func (s *Store) Sweep(ctx context.Context) error {
	v, err := s.rdb.MGet(ctx, s.base+"live", s.base+"building", s.base+"seq").Result()
	if err != nil {
		return fmt.Errorf("readmodel: sweep: %w", err)
	}
	num := func(x any) int64 { s, _ := x.(string); n, _ := strconv.ParseInt(s, 10, 64); return n }
	live, seq := num(v[0]), num(v[2])
	building := int64(-1)
	if v[1] != nil {
		building = num(v[1])
	}
	return s.unlink(ctx, glob(s.base)+"[0-9]*", func(key string) bool {
		g, rest, ok := strings.Cut(strings.TrimPrefix(key, s.base), ":")
		n, err := strconv.ParseInt(g, 10, 64)
		return ok && rest != "" && err == nil && n <= seq && n != live && n != building
	})
}

// unlinkGeneration deletes generation gen's keys, which nobody reads or
// writes any more.
func (s *Store) unlinkGeneration(ctx context.Context, gen string) error {
	return s.unlink(ctx, glob(s.base)+gen+":*", func(string) bool { return true })
}

// unlink UNLINKs, in batches, the keys matching pattern that keep accepts.
// A cluster's keys of this store are all on one master, found by asking
// each.
func (s *Store) unlink(ctx context.Context, pattern string, keep func(string) bool) error {
	if cc, ok := s.rdb.(*redis.ClusterClient); ok {
		return cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
			return unlinkOn(ctx, c, pattern, keep)
		})
	}
	return unlinkOn(ctx, s.rdb, pattern, keep)
}

func unlinkOn(ctx context.Context, c redis.Cmdable, pattern string, keep func(string) bool) error {
	var cursor uint64
	for {
		keys, next, err := c.Scan(ctx, cursor, pattern, 1000).Result()
		if err != nil {
			return fmt.Errorf("readmodel: scan %s: %w", pattern, err)
		}
		batch := keys[:0]
		for _, k := range keys {
			if keep(k) {
				batch = append(batch, k)
			}
		}
		if len(batch) > 0 {
			if err := c.Unlink(ctx, batch...).Err(); err != nil {
				return fmt.Errorf("readmodel: unlink: %w", err)
			}
		}
		if cursor = next; cursor == 0 {
			return nil
		}
	}
}

// glob escapes s for a SCAN MATCH pattern.
func glob(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[]\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
