package branchtest

import (
	"context"
	"database/sql"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"sagasuite/internal/register"
	"sagasuite/rpc-common/branch"
	"sagasuite/rpc-common/reason"
)

// Branch is one saga branch of a service under test: the cases of
// Disorder hold for every branch behind DTM's barrier.
type Branch struct {
	// ID is the branch's id in the register saga (UserBranch, ScoreBranch).
	ID string
	// Action and Compensate call the branch's action and its compensation
	// under ctx's DTM metadata, with a valid payload for the user id.
	Action, Compensate func(ctx context.Context, id string) error
	// Rows counts the business rows of the user id.
	Rows func(t testing.TB, id string) int
	// DB is the service's database, which holds its barrier table.
	DB *sql.DB
}

// call is a branch method: Action or Compensate.
type call = func(ctx context.Context, id string) error

// Disorder delivers a branch's calls as DTM may, out of order and more
// than once, and checks each answer, the business rows and the barrier
// rows left behind.
func Disorder(t *testing.T, b Branch) {
	action, compensate := branch.OpAction, branch.OpCompensate
	// at calls m for the user id's own saga, with op.
	at := func(m call, id, op string) error { return m(Saga(register.Gid(id), b.ID, op), id) }
	barrier := func(id string) []string { return Barrier(t, b.DB, register.Gid(id)) }
	committed := []string{b.ID + " action action"}
	compensated := []string{b.ID + " action action", b.ID + " compensate compensate"}
	// What a compensation leaves when its action never ran: it inserts the
	// action's row itself, so that a late action finds it and is skipped.
	nullCompensated := []string{b.ID + " action compensate", b.ID + " compensate compensate"}

	t.Run("action, then its compensation", func(t *testing.T) {
		id := NewID()
		require.NoError(t, at(b.Action, id, action))
		require.Equal(t, 1, b.Rows(t, id))
		require.Equal(t, committed, barrier(id))
		require.NoError(t, at(b.Compensate, id, compensate))
		require.Zero(t, b.Rows(t, id))
		require.Equal(t, compensated, barrier(id))
	})

	t.Run("compensation before the action, then the late action", func(t *testing.T) {
		id := NewID()
		require.NoError(t, at(b.Compensate, id, compensate), "a null compensation succeeds")
		require.Zero(t, b.Rows(t, id))
		require.Equal(t, nullCompensated, barrier(id))
		require.NoError(t, at(b.Action, id, action), "a hanging action is acknowledged")
		require.Zero(t, b.Rows(t, id), "and writes nothing")
		require.Equal(t, nullCompensated, barrier(id))
	})

	t.Run("the same action 16 times at once", func(t *testing.T) {
		id := NewID()
		for _, err := range Parallel(16, func() error { return at(b.Action, id, action) }) {
			require.NoError(t, err)
		}
		require.Equal(t, 1, b.Rows(t, id))
		require.Equal(t, committed, barrier(id))
	})

	t.Run("the same compensation 8 times at once, then the action again", func(t *testing.T) {
		id := NewID()
		require.NoError(t, at(b.Action, id, action))
		for _, err := range Parallel(8, func() error { return at(b.Compensate, id, compensate) }) {
			require.NoError(t, err)
		}
		require.Zero(t, b.Rows(t, id))
		require.Equal(t, compensated, barrier(id))
		require.NoError(t, at(b.Action, id, action), "an action redelivered after its compensation")
		require.Zero(t, b.Rows(t, id), "writes nothing")
		require.Equal(t, compensated, barrier(id))
	})

	t.Run("without DTM metadata", func(t *testing.T) {
		id := NewID()
		before := Count(t, b.DB, "SELECT COUNT(*) FROM barrier")
		require.Equal(t, codes.InvalidArgument, status.Code(b.Action(context.Background(), id)))
		require.Equal(t, codes.InvalidArgument, status.Code(b.Compensate(context.Background(), id)))
		require.Zero(t, b.Rows(t, id))
		require.Equal(t, before, Count(t, b.DB, "SELECT COUNT(*) FROM barrier"))
	})

	t.Run("an action called as a compensation undoes itself", func(t *testing.T) {
		// A saga built past the gateway that names the action as its own
		// compensation must leave no half registration.
		id := NewID()
		require.NoError(t, at(b.Action, id, action))
		require.NoError(t, at(b.Action, id, compensate))
		require.Zero(t, b.Rows(t, id))
		require.Equal(t, compensated, barrier(id))

		never := NewID()
		require.NoError(t, at(b.Action, never, compensate), "before any action: a null compensation")
		require.Zero(t, b.Rows(t, never))
		require.Equal(t, nullCompensated, barrier(never))
	})

	t.Run("a compensation called as an action is refused", func(t *testing.T) {
		victim := NewID()
		require.NoError(t, at(b.Action, victim, action))
		for name, gid := range map[string]string{
			"the victim's own saga": register.Gid(victim),
			"another saga":          register.Gid(NewID()),
			"not a register saga":   "attack-" + NewID(),
		} {
			before := Barrier(t, b.DB, gid)
			err := b.Compensate(Saga(gid, b.ID, action), victim)
			require.Equal(t, codes.Aborted, status.Code(err), "%s: %v", name, err)
			require.Equal(t, reason.InvalidPayload, status.Convert(err).Message(), name)
			require.Equal(t, before, Barrier(t, b.DB, gid), "%s: the barrier is untouched", name)
		}
		require.Equal(t, 1, b.Rows(t, victim), "the victim's row stays")
		require.Equal(t, committed, barrier(victim))
	})

	t.Run("a compensation deletes only its own saga's row", func(t *testing.T) {
		own, other := NewID(), NewID()
		require.NoError(t, at(b.Action, own, action))
		require.NoError(t, at(b.Action, other, action))

		// Aimed at another registration, the compensation of own's saga is
		// answered before the barrier: it deletes nothing and does not use
		// up own's compensation.
		require.NoError(t, b.Compensate(Saga(register.Gid(own), b.ID, compensate), other))
		require.Equal(t, 1, b.Rows(t, other))
		require.Equal(t, 1, b.Rows(t, own))
		require.Equal(t, committed, barrier(own))
		require.Equal(t, committed, barrier(other))

		// The compensation of another branch of own's saga: its action
		// never ran there, so it is a null compensation.
		require.NoError(t, b.Compensate(Saga(register.Gid(own), "09", compensate), own))
		require.Equal(t, 1, b.Rows(t, own))

		require.NoError(t, at(b.Compensate, own, compensate))
		require.Zero(t, b.Rows(t, own))
		require.Equal(t, 1, b.Rows(t, other))
		require.Equal(t, committed, barrier(other))
	})
}
