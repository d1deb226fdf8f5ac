package readmodel

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"sagasuite/internal/outbox"
)

func TestEventsRoundTripThroughTheOutboxPayload(t *testing.T) {
	at := time.Date(2026, 12, 2, 4, 5, 6, 789_000_000, time.UTC)
	for _, e := range []Event{
		RegistrationCompleted{UserID: "u1", Username: "ann", Gender: "female", Score: 0, RegisteredAt: at, Version: VersionRegistered},
		RegistrationCompleted{UserID: "u2", Username: "björn", Gender: "male", Score: 1_000_000, RegisteredAt: at, Version: VersionRegistered},
		EmailVerified{UserID: "u1", At: at, Version: VersionEmailVerified},
	} {
		kind, payload, err := EncodeEvent(e)
		require.NoError(t, err)
		back, err := DecodeEvent(kind, payload)
		require.NoError(t, err)
		require.Equal(t, e, back)
	}
	_, _, err := EncodeEvent(RegistrationCompleted{UserID: "u3", Score: MaxScore + 1, RegisteredAt: at, Version: VersionRegistered})
	require.ErrorIs(t, err, ErrInvalidEvent, "an event Apply refuses is never written")
	_, _, err = EncodeEvent(EmailVerified{UserID: "u3", At: at, Version: VersionRegistered})
	require.ErrorIs(t, err, ErrInvalidEvent)

	_, reg, err := EncodeEvent(RegistrationCompleted{UserID: "u4", Score: 1, RegisteredAt: at, Version: VersionRegistered})
	require.NoError(t, err)
	for _, c := range []struct {
		kind    string
		payload string
	}{
		{outbox.KindVerifyEmail, string(reg)},                             // a kind that carries no event
		{outbox.KindRegistrationCompleted, `{"user_id":"u","version":1}`}, // no score, no time
		{outbox.KindRegistrationCompleted, `{"user_id":"u","version":1,"score":1,"registered_at_ms":1}` + "x"},
		{outbox.KindEmailVerified, `{"user_id":"u","version":2}`},                    // no time
		{outbox.KindEmailVerified, `{"user_id":"","version":2,"verified_at_ms":5}`},  // no user
		{outbox.KindEmailVerified, `{"user_id":"u","version":1,"verified_at_ms":5}`}, // wrong version
		{outbox.KindEmailVerified, `null`},
	} {
		_, err := DecodeEvent(c.kind, []byte(c.payload))
		require.True(t, errors.Is(err, ErrInvalidEvent), "%s %s: %v", c.kind, c.payload, err)
	}
}
