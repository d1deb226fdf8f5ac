package logic

import (
	"github.com/google/uuid"

	"sagasuite/internal/register"
	"sagasuite/userapi/internal/apierr"
)

// IdempotencyHeader lets a client repeat POST /register safely.
const IdempotencyHeader = "Idempotency-Key"

const maxIdempotencyKey = 128

// errKeyReused: the key already named a registration with another body.
var errKeyReused = apierr.New(apierr.IdempotencyKeyReused,
	"this Idempotency-Key was used for a different registration")

// allocateID returns the new user's id. Without a key it is a UUIDv7:
// unique across gateway replicas without coordination (74 random bits per
// millisecond) and time-ordered in the primary key. With a key it is
// derived from the key (UUIDv5), so every attempt of one registration
// names the same user and the same saga, gid register.Gid(id), on every
// replica and with no table of keys: DTM's store is the record.
func allocateID(key string) (string, error) {
	if key == "" {
		id, err := uuid.NewV7()
		return id.String(), err
	}
	if len(key) > maxIdempotencyKey {
		return "", apierr.BadField(IdempotencyHeader, "Idempotency-Key must be at most 128 characters")
	}
	for i := 0; i < len(key); i++ {
		if key[i] < 0x21 || key[i] > 0x7e {
			return "", apierr.BadField(IdempotencyHeader, "Idempotency-Key must be printable ASCII without spaces")
		}
	}
	return register.KeyID(key), nil
}
