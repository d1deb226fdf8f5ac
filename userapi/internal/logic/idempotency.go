package logic

import (
	"net/http"

	"github.com/google/uuid"
	"golang.org/x/crypto/bcrypt"
	"google.golang.org/protobuf/proto"

	"sagasuite/rpc-common/userpb"
	"sagasuite/rpc-common/userscorepb"
	"sagasuite/userapi/internal/apierr"
	"sagasuite/userapi/internal/sagastatus"
	"sagasuite/userapi/internal/types"
)

// IdempotencyHeader lets a client repeat POST /register safely.
const IdempotencyHeader = "Idempotency-Key"

const maxIdempotencyKey = 128

// idempotencySpace namespaces the user ids derived from idempotency keys.
var idempotencySpace = uuid.MustParse("f844f7f4-8c6b-43eb-9ae3-37dd0cf71c75")

// errKeyReused: the key already named a registration with another body.
var errKeyReused = apierr.New(http.StatusUnprocessableEntity, "IDEMPOTENCY_KEY_REUSED",
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
	return uuid.NewSHA1(idempotencySpace, []byte(key)).String(), nil
}

// sameRegistration says whether the saga a key already started carries this
// request: the same username, gender and score, and a password matching the
// stored hash (the hash differs per attempt: bcrypt salts each one).
func sameRegistration(s *sagastatus.Saga, req *types.RegisterReq) bool {
	var user userpb.CreateUserReq
	var score userscorepb.InitScoreReq
	if proto.Unmarshal(s.ActionPayloads["01"], &user) != nil || proto.Unmarshal(s.ActionPayloads["02"], &score) != nil {
		return false
	}
	return user.Username == req.Username && user.Gender == req.Gender && score.Score == req.Score &&
		bcrypt.CompareHashAndPassword([]byte(user.PasswordHash), []byte(req.Password)) == nil
}
