package check

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"sagasuite/deploy/rebuild/snapshot"
	"sagasuite/internal/readmodel"
	"sagasuite/internal/store"
)

// DefaultReadModelLag is how long the read model may take to show a
// change when Sources.ReadModelLag is zero: the relay polls and asynq
// delivers in well under a second when everything runs.
const DefaultReadModelLag = 10 * time.Second

// profileWorkers bounds the Profile calls in flight: each is one round
// trip (the read model has no batch read), run by Redis alone.
const profileWorkers = 8

// boardTries is how many times the leaderboard is read when rebuilds keep
// switching its generation.
const boardTries = 3

// ReadModelSummary is what rule 8 read.
type ReadModelSummary struct {
	Generation int64 // the live generation the leaderboard was read from
	Listed     int   // distinct users listed on the leaderboard
	Total      int64 // the leaderboard's size at its last page
	Profiles   int   // profiles read
	Complete   int   // complete users with a score on the write side
	Unscored   int   // complete users without a score row (rule 3's)
}

// orderKey is where the write side ranks a user: score descending, then
// registration time ascending, then id ascending (bytewise).
type orderKey struct {
	score, registered int64
	id                string
}

func (a orderKey) before(b orderKey) bool {
	if a.score != b.score {
		return a.score > b.score
	}
	if a.registered != b.registered {
		return a.registered < b.registered
	}
	return a.id < b.id
}

// listing is one user on the leaderboard, at its first place read.
type listing struct {
	readmodel.Entry
	// inserted: among the first entries of a page read after entries were
	// added, so possibly out of place (see readModel).
	inserted bool
	seen     bool     // a complete user of the write side
	agreed   bool     // with the write side's score and registration time
	key      orderKey // the write side's, when agreed
}

// board is the leaderboard as read.
type board struct {
	list                  []listing
	index                 map[string]int
	twice                 []readmodel.Entry // users listed again where nothing moved them
	totalFirst, totalLast int64
	generation            int64
}

// suspect is what the read model showed of a user that the write side did
// not, to be read again there.
type suspect struct {
	shows    string // "a leaderboard entry (rank 3)", "a profile"
	verified bool   // the model shows a verification, not the user
}

// readModel checks rule 8: it compares the Redis read model
// (internal/readmodel) with the write side's snapshot
// (deploy/rebuild/snapshot: every complete user with its score), through
// the read model's public API only: the whole leaderboard in pages of
// readmodel.MaxPageLimit, then one Profile per user row, complete or not
// (a few in flight at once: the API has no batch read). A profile of a
// user who has no row and is not on the leaderboard cannot be found this
// way.
//
// The read model follows the write side by events, so it may lag: a
// registration that completed, or an address verified, less than
// ReadModelLag before the check began may be missing. Nothing else is
// excused: what the read model shows must be a complete user's (a
// compensated registration must never appear), with the write side's
// fields, in the write side's order. The reads are ordered so that traffic
// never looks like a violation:
//
//   - The lag's cutoff is taken from the user database's clock first, so a
//     user complete before it is due in every later read of the model.
//   - The leaderboard is read before the write side: the projector applies
//     an event only after its fact committed, so a user on it is complete
//     when the write side is read, unless it was compensated since.
//   - Within one generation the leaderboard only grows; a page read after
//     n entries were added may start with up to n entries that are out of
//     place (the previous page's tail pushed down, or new entries above
//     it). Those are neither counted twice nor held to the order. A rebuild
//     switching the generation while the pages are read starts the read
//     again.
//   - Profiles are read after the write side. A profile, or a
//     verification, that the write side did not show is read again on the
//     write side at the end, and reported only if it is still missing
//     there.
//
// Cost: memory for the leaderboard's users (a few hundred bytes each) and
// one page of the write side; time about 0.3 s per 5,000 users (2 vCPU,
// Redis and MariaDB local), nearly all of it the Profile round trips.
func (c *checker) readModel(ctx context.Context) error {
	rm := c.src.ReadModel
	sum := c.rep.ReadModel
	cutoff, err := snapshot.Cutoff(ctx, c.src.User, c.src.ReadModelLag)
	if err != nil {
		return err
	}
	b, err := c.readBoard(ctx, rm)
	if err != nil {
		return err
	}
	sum.Generation, sum.Listed, sum.Total = b.generation, len(b.list), b.totalLast
	pause("read model board")

	suspects := map[string]suspect{}
	rd := snapshot.Reader{User: c.src.User, UserScore: c.src.UserScore, PageSize: c.src.BatchSize, Cutoff: cutoff}
	st, err := rd.Read(ctx, func(p snapshot.Page) error {
		ids := append([]string{}, p.Unscored...)
		for _, u := range p.Users {
			ids = append(ids, u.UserID)
		}
		pause("read model page")
		profiles, err := c.profiles(ctx, rm, ids)
		if err != nil {
			return err
		}
		for _, u := range p.Users {
			c.compare(u, profiles[u.UserID], b, suspects)
		}
		for _, id := range p.Unscored {
			i, listed := b.index[id]
			if listed {
				b.list[i].seen = true
			}
			if shows := shown(profiles[id].Found, listed, b, i); shows != "" {
				c.rep.add(ReadModelMatches, id, shows+" in the read model, but no score row on the write side")
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	sum.Complete, sum.Unscored = st.Users, st.Unscored

	// Users the write side has but has not completed: in flight, or left
	// by a saga that did not finish; the model must not show them.
	if err := c.incomplete(ctx, rm, b, suspects); err != nil {
		return err
	}
	for i, l := range b.list {
		if !l.seen {
			suspects[l.ID] = suspect{shows: shown(false, true, b, i)}
		}
	}
	pause("read model suspects")
	if err := c.confirm(ctx, suspects); err != nil {
		return err
	}

	for _, e := range b.twice {
		first := b.list[b.index[e.ID]]
		c.rep.add(ReadModelMatches, e.ID, fmt.Sprintf("listed twice on the leaderboard (ranks %d and %d)", first.Rank, e.Rank))
	}
	c.order(b)
	if n := int64(len(b.list)); n < b.totalFirst || n > b.totalLast {
		total := fmt.Sprintf("total %d", b.totalLast)
		if b.totalFirst != b.totalLast {
			total = fmt.Sprintf("total %d to %d while it was read", b.totalFirst, b.totalLast)
		}
		c.rep.add(ReadModelMatches, "leaderboard", fmt.Sprintf("%s, but %d distinct users listed", total, n))
	}
	return nil
}

// shown says what the model shows of a user: "" for nothing.
func shown(profile, listed bool, b *board, i int) string {
	switch {
	case profile && listed:
		return fmt.Sprintf("a profile and a leaderboard entry (rank %d)", b.list[i].Rank)
	case listed:
		return fmt.Sprintf("a leaderboard entry (rank %d)", b.list[i].Rank)
	case profile:
		return "a profile"
	}
	return ""
}

// readBoard reads the whole leaderboard from one generation.
func (c *checker) readBoard(ctx context.Context, rm *readmodel.Store) (*board, error) {
	for range boardTries {
		b, ok, err := readBoardOnce(ctx, rm)
		if err != nil || ok {
			return b, err
		}
	}
	return nil, fmt.Errorf("the read model's live generation changed during each of %d reads of its leaderboard (rebuilds running?)", boardTries)
}

// readBoardOnce reads the leaderboard page by page; ok is false if the
// live generation changed meanwhile.
func readBoardOnce(ctx context.Context, rm *readmodel.Store) (b *board, ok bool, err error) {
	b = &board{index: map[string]int{}}
	for off := 0; ; off += readmodel.MaxPageLimit {
		if off > 0 {
			pause("read model board page")
		}
		p, err := rm.Leaderboard(ctx, readmodel.MaxPageLimit, off)
		if err != nil {
			return nil, false, err
		}
		added := int64(0)
		if off == 0 {
			b.generation, b.totalFirst = p.Generation, p.Total
		} else if p.Generation != b.generation {
			return nil, false, nil
		} else {
			added = p.Total - b.totalLast
		}
		b.totalLast = p.Total
		for j, e := range p.Entries {
			inserted := int64(j) < added
			if _, again := b.index[e.ID]; again {
				if !inserted {
					b.twice = append(b.twice, e)
				}
				continue
			}
			b.index[e.ID] = len(b.list)
			b.list = append(b.list, listing{Entry: e, inserted: inserted})
		}
		if len(p.Entries) < readmodel.MaxPageLimit {
			return b, true, nil
		}
	}
}

// profiles reads the profiles of ids, a few at a time.
func (c *checker) profiles(ctx context.Context, rm *readmodel.Store, ids []string) (map[string]readmodel.ProfileAnswer, error) {
	answers := make([]readmodel.ProfileAnswer, len(ids))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(profileWorkers)
	for i, id := range ids {
		g.Go(func() error {
			a, err := rm.Profile(gctx, id)
			answers[i] = a
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	c.rep.ReadModel.Profiles += len(ids)
	out := make(map[string]readmodel.ProfileAnswer, len(ids))
	for i, id := range ids {
		out[id] = answers[i]
	}
	return out, nil
}

// compare holds the model's profile and leaderboard entry of a complete
// user against the write side's row.
func (c *checker) compare(u snapshot.User, a readmodel.ProfileAnswer, b *board, suspects map[string]suspect) {
	i, listed := b.index[u.UserID]
	if listed {
		b.list[i].seen = true
	}
	lag := c.src.ReadModelLag
	if !a.Found {
		switch {
		case listed:
			c.rep.add(ReadModelMatches, u.UserID, fmt.Sprintf("a leaderboard entry (rank %d) without a profile", b.list[i].Rank))
		case u.CompletedBefore:
			c.rep.add(ReadModelMatches, u.UserID, fmt.Sprintf("missing from the read model, complete for more than %s", lag))
		}
		return
	}
	p := a.Profile
	var diffs []string
	differ := func(what string, model, write any) {
		diffs = append(diffs, fmt.Sprintf("%s %v in the read model, %v on the write side", what, model, write))
	}
	if p.Username != u.Username {
		differ("username", fmt.Sprintf("%q", p.Username), fmt.Sprintf("%q", u.Username))
	}
	if p.Gender != u.Gender {
		differ("gender", fmt.Sprintf("%q", p.Gender), fmt.Sprintf("%q", u.Gender))
	}
	if p.Score != u.Score {
		differ("score", p.Score, u.Score)
	}
	if p.RegisteredAt.UnixMilli() != u.RegisteredAt.UnixMilli() {
		differ("registered_at (ms)", p.RegisteredAt.UnixMilli(), u.RegisteredAt.UnixMilli())
	}
	switch {
	case u.EmailVerified && !p.EmailVerified && u.VerifiedBefore:
		diffs = append(diffs, fmt.Sprintf("email not verified in the read model, verified on the write side more than %s ago", lag))
	case !u.EmailVerified && p.EmailVerified:
		suspects[u.UserID] = suspect{verified: true}
	case u.EmailVerified && p.EmailVerified && !p.EmailVerifiedAt.IsZero() && p.EmailVerifiedAt.UnixMilli() != u.EmailVerifiedAt.UnixMilli():
		differ("email_verified_at (ms)", p.EmailVerifiedAt.UnixMilli(), u.EmailVerifiedAt.UnixMilli())
	}
	if listed {
		l := &b.list[i]
		if l.Username != p.Username || l.Score != p.Score {
			diffs = append(diffs, fmt.Sprintf("leaderboard entry %q, score %d, differs from the profile", l.Username, l.Score))
		}
		if p.Score == u.Score && p.RegisteredAt.UnixMilli() == u.RegisteredAt.UnixMilli() && l.Score == u.Score {
			l.agreed, l.key = true, orderKey{score: u.Score, registered: u.RegisteredAt.UnixMilli(), id: u.UserID}
		}
	} else if u.CompletedBefore {
		// Due before the leaderboard was read, so it was missing then.
		diffs = append(diffs, fmt.Sprintf("not on the leaderboard, complete for more than %s", lag))
	}
	if len(diffs) > 0 {
		c.rep.add(ReadModelMatches, u.UserID, strings.Join(diffs, "; "))
	}
}

// incomplete walks the users whose registration is not complete and
// suspects those the model shows.
func (c *checker) incomplete(ctx context.Context, rm *readmodel.Store, b *board, suspects map[string]suspect) error {
	last := ""
	for {
		var ids []string
		err := queryRows(ctx, c.src.User, "SELECT id FROM `user` WHERE completed_at IS NULL AND id > ? ORDER BY id LIMIT ?",
			[]any{last, c.src.BatchSize}, func(rows *sql.Rows) error {
				if err := rows.Scan(&last); err != nil {
					return err
				}
				ids = append(ids, last)
				return nil
			})
		if err != nil {
			return err
		}
		pause("read model incomplete")
		profiles, err := c.profiles(ctx, rm, ids)
		if err != nil {
			return err
		}
		for _, id := range ids {
			i, listed := b.index[id]
			if listed {
				b.list[i].seen = true
			}
			if shows := shown(profiles[id].Found, listed, b, i); shows != "" {
				suspects[id] = suspect{shows: shows}
			}
		}
		if len(ids) < c.src.BatchSize {
			return nil
		}
	}
}

// confirm reads the suspects again on the write side and reports those
// it still does not show as the model does.
func (c *checker) confirm(ctx context.Context, suspects map[string]suspect) error {
	ids := make([]string, 0, len(suspects))
	for id := range suspects {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for len(ids) > 0 {
		batch := ids[:min(len(ids), c.src.BatchSize)]
		ids = ids[len(batch):]
		type state struct{ complete, verified bool }
		now := map[string]state{}
		list, args := store.InList(batch)
		err := queryRows(ctx, c.src.User,
			"SELECT id, completed_at IS NOT NULL, email_verified_at IS NOT NULL FROM `user` WHERE id IN ("+list+")", args,
			func(rows *sql.Rows) error {
				var id string
				var s state
				if err := rows.Scan(&id, &s.complete, &s.verified); err != nil {
					return err
				}
				now[id] = s
				return nil
			})
		if err != nil {
			return err
		}
		for _, id := range batch {
			s, row := now[id]
			switch sp := suspects[id]; {
			case sp.verified && !s.verified:
				c.rep.add(ReadModelMatches, id, "email verified in the read model, not on the write side")
			case sp.verified:
			case !row:
				c.rep.add(ReadModelMatches, id, sp.shows+" in the read model, but no user row on the write side")
			case !s.complete:
				c.rep.add(ReadModelMatches, id, sp.shows+" in the read model, but the registration is not complete")
			}
		}
	}
	return nil
}

// order reports the leaderboard entries out of the write side's order:
// among the users both sides agree on, read where nothing moved them, the
// entries off one longest run in the right order (the fewest whose moving
// would restore it).
func (c *checker) order(b *board) {
	var seq []int // indexes into b.list
	for i, l := range b.list {
		if l.agreed && !l.inserted {
			seq = append(seq, i)
		}
	}
	key := func(k int) orderKey { return b.list[seq[k]].key }
	// Longest increasing subsequence by patience sorting: tails[n] is the
	// position in seq ending the best run of length n+1 found so far.
	var tails []int
	prev := make([]int, len(seq))
	for k := range seq {
		n := sort.Search(len(tails), func(n int) bool { return !key(tails[n]).before(key(k)) })
		prev[k] = -1
		if n > 0 {
			prev[k] = tails[n-1]
		}
		if n == len(tails) {
			tails = append(tails, k)
		} else {
			tails[n] = k
		}
	}
	inRun := make([]bool, len(seq))
	var run []int
	if len(tails) > 0 {
		for k := tails[len(tails)-1]; k >= 0; k = prev[k] {
			inRun[k] = true
			run = append(run, k)
		}
	}
	for l, r := 0, len(run)-1; l < r; l, r = l+1, r-1 {
		run[l], run[r] = run[r], run[l]
	}
	for k := range seq {
		if inRun[k] {
			continue
		}
		e := b.list[seq[k]]
		// Its place in the run: after the last entry the write side ranks
		// before it.
		n := sort.Search(len(run), func(n int) bool { return !key(run[n]).before(key(k)) })
		var where string
		if n > 0 {
			o := b.list[seq[run[n-1]]]
			where = fmt.Sprintf("after %s (rank %d)", o.ID, o.Rank)
		} else {
			o := b.list[seq[run[0]]]
			where = fmt.Sprintf("before %s (rank %d)", o.ID, o.Rank)
		}
		c.rep.add(ReadModelMatches, e.ID, fmt.Sprintf("rank %d out of order: score %d, registered %s, belongs %s",
			e.Rank, e.key.score, time.UnixMilli(e.key.registered).UTC().Format("2006-01-02 15:04:05.000"), where))
	}
}
