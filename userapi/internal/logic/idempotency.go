package logic

import (
	"net/http"

	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"

	"sagasuite/internal/register"
	"sagasuite/rpc-common/userpb"
	"sagasuite/rpc-common/userscorepb"
	"sagasuite/userapi/internal/apierr"
	"sagasuite/userapi/internal/sagastatus"
)

// IdempotencyHeader lets a client repeat POST /register safely.
const IdempotencyHeader = "Idempotency-Key"

const maxIdempotencyKey = 128

// errKeyReused: the key already named a registration with another body.
var errKeyReused = apierr.New(http.StatusUnprocessableEntity, apierr.IdempotencyKeyReused,
	"this Idempotency-Key was used for a different registration")

// allocateID returns the new user's id. Without a key it is a UUIDv7:
// unique across gateway replicas without coordination (74 random bits per
// millisecond) and time-ordered in the primary key. With a key it is
// derived from the key (UUIDv5), so every attempt of one registration
// names the same user and the same saga, gid register-<id>, on every
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

// payloads decodes the two action payloads DTM holds for a register saga.
func payloads(s *sagastatus.Saga) (*userpb.CreateUserReq, *userscorepb.InitScoreReq, bool) {
	var user userpb.CreateUserReq
	var score userscorepb.InitScoreReq
	if proto.Unmarshal(s.ActionPayloads["01"], &user) != nil || proto.Unmarshal(s.ActionPayloads["02"], &score) != nil {
		return nil, nil, false
	}
	return &user, &score, true
}
