package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"sagasuite/internal/mailbox"
)

// TestLatenciesMatchTheFirstMailToEachAddress: each 201 is matched with
// the first mail to its address (a duplicate from the outbox's
// at-least-once window does not count), a mail before its 201 is a
// negative latency, and a 201 without a mail is missing.
func TestLatenciesMatchTheFirstMailToEachAddress(t *testing.T) {
	t0 := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	ms := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }
	a := &arrivals{seen: 10, first: map[string]time.Time{}}
	// Newest first, as the box lists them; 10 and older were there before.
	require.NoError(t, a.absorb([]mailbox.Message{
		{ID: 14, To: []string{"b@example.test"}, Received: ms(90)}, // a second copy
		{ID: 13, To: []string{"c@example.test"}, Received: ms(5)},
		{ID: 12, To: []string{"a@Example.TEST"}, Received: ms(30)},
		{ID: 11, To: []string{"b@example.test"}, Received: ms(40)},
		{ID: 10, To: []string{"d@example.test"}, Received: ms(1)},
	}))
	require.Equal(t, 14, a.seen)
	lat, missing := latencies([]answer{
		{email: "a@example.test", at: ms(10)},
		{email: "b@example.test", at: ms(20)},
		{email: "c@example.test", at: ms(15)},
		{email: "d@example.test", at: ms(0)}, // its mail came before the run's first
	}, a.first)
	// In the order of the 201s: a, c, b.
	require.Equal(t, []time.Duration{20 * time.Millisecond, -10 * time.Millisecond, 20 * time.Millisecond}, lat)
	require.Equal(t, 1, missing)
}

// TestTrendComparesTheFirstAndLastQuarters: a queue that grows through
// the run shows as a last quarter slower than the first.
func TestTrendComparesTheFirstAndLastQuarters(t *testing.T) {
	var lat []time.Duration
	for i := range 8 {
		lat = append(lat, time.Duration(i)*time.Second)
	}
	first, last := trend(lat)
	require.Equal(t, 0*time.Second, first) // median of {0, 1}, nearest rank
	require.Equal(t, 6*time.Second, last)  // of {6, 7}
	first, last = trend(lat[:3])
	require.Zero(t, first)
	require.Zero(t, last)
}

// TestArrivalsFailWhenTheBoxDroppedUnreadMail: the box keeps its newest
// messages only; one numbered after the last read that is gone fails the
// reading instead of passing for a mail that never came.
func TestArrivalsFailWhenTheBoxDroppedUnreadMail(t *testing.T) {
	a := &arrivals{seen: 5, first: map[string]time.Time{}}
	require.NoError(t, a.absorb([]mailbox.Message{{ID: 7}, {ID: 6}, {ID: 5}}))
	require.NoError(t, a.absorb([]mailbox.Message{{ID: 7}, {ID: 6}}), "nothing new")
	require.ErrorContains(t, a.absorb([]mailbox.Message{{ID: 11}, {ID: 10}}), "dropped messages 8 to 9 unread")
}
