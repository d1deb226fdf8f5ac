package readmodel

import (
	"encoding/json"
	"fmt"
	"time"

	"sagasuite/internal/outbox"
)

// wireEvent is an event as an outbox row's payload holds it: JSON, times
// in ms since the epoch (the database's DATETIME(3) precision), and the
// version, so that a payload says by itself where it stands.
type wireEvent struct {
	UserID         string `json:"user_id"`
	Version        int64  `json:"version"`
	Username       string `json:"username,omitempty"`
	Gender         string `json:"gender,omitempty"`
	Score          *int64 `json:"score,omitempty"`
	RegisteredAtMs int64  `json:"registered_at_ms,omitempty"`
	VerifiedAtMs   int64  `json:"verified_at_ms,omitempty"`
}

// EncodeEvent is the outbox row of an event: its kind and payload. It
// refuses an event Apply would refuse, so that the write side never
// commits an event the projector cannot apply.
func EncodeEvent(e Event) (kind string, payload []byte, err error) {
	if _, err := e.part(); err != nil {
		return "", nil, err
	}
	var w wireEvent
	switch e := e.(type) {
	case RegistrationCompleted:
		score := e.Score
		kind, w = outbox.KindRegistrationCompleted, wireEvent{UserID: e.UserID, Version: e.Version,
			Username: e.Username, Gender: e.Gender, Score: &score, RegisteredAtMs: e.RegisteredAt.UnixMilli()}
	case EmailVerified:
		kind, w = outbox.KindEmailVerified, wireEvent{UserID: e.UserID, Version: e.Version, VerifiedAtMs: e.At.UnixMilli()}
	default:
		return "", nil, fmt.Errorf("%w: %T", ErrInvalidEvent, e)
	}
	payload, err = json.Marshal(w)
	return kind, payload, err
}

// DecodeEvent reads the event of an outbox row of kind; ErrInvalidEvent for
// a kind that carries none or a payload the write side would not write.
func DecodeEvent(kind string, payload []byte) (Event, error) {
	var w wireEvent
	if err := json.Unmarshal(payload, &w); err != nil {
		return nil, fmt.Errorf("%w: %s payload: %v", ErrInvalidEvent, kind, err)
	}
	var e Event
	switch kind {
	case outbox.KindRegistrationCompleted:
		if w.Score == nil || w.RegisteredAtMs == 0 {
			return nil, fmt.Errorf("%w: %s payload without score or time", ErrInvalidEvent, kind)
		}
		e = RegistrationCompleted{UserID: w.UserID, Username: w.Username, Gender: w.Gender,
			Score: *w.Score, RegisteredAt: time.UnixMilli(w.RegisteredAtMs).UTC(), Version: w.Version}
	case outbox.KindEmailVerified:
		if w.VerifiedAtMs == 0 {
			return nil, fmt.Errorf("%w: %s payload without time", ErrInvalidEvent, kind)
		}
		e = EmailVerified{UserID: w.UserID, At: time.UnixMilli(w.VerifiedAtMs).UTC(), Version: w.Version}
	default:
		return nil, fmt.Errorf("%w: rows of kind %q carry no event", ErrInvalidEvent, kind)
	}
	if _, err := e.part(); err != nil {
		return nil, err
	}
	return e, nil
}
