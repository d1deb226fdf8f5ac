// Package register states the register saga's contract, the part every
// process must agree on: the gid of a registration and the rules of its
// fields. The gateway checks a request against them before it submits; the
// branch services check every payload against them again, because anyone
// who reaches DTM (which has no authentication) can make DTM call a branch
// with any payload, and a branch must not write what the gateway would
// have refused.
package register

import (
	"errors"
	"regexp"
	"strconv"
	"strings"

	"github.com/google/uuid"
)

// GidPrefix starts every register saga's gid; the rest is the user id, so
// a saga and the rows it wrote are matched without a lookup table.
const GidPrefix = "register-"

// Limits of a registration; the database columns are sized to match.
const (
	MinUsername = 3
	MaxUsername = 32
	MinPassword = 8
	// MaxPassword is bcrypt's limit: it ignores bytes past the 72nd.
	MaxPassword = 72
	MaxScore    = 1_000_000
	// MinCost is the lowest bcrypt cost accepted anywhere (bcrypt.MinCost).
	MinCost = 4
)

var (
	userID   = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	username = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)
	// bcryptHash is the modular crypt format bcrypt writes: version, a
	// two-digit cost, then 22 characters of salt and 31 of hash in bcrypt's
	// base64 alphabet, 60 bytes in all.
	bcryptHash = regexp.MustCompile(`^\$2[aby]\$([0-9]{2})\$[./A-Za-z0-9]{53}$`)
)

// Genders lists the accepted genders.
var Genders = []string{"male", "female", "other"}

// keySpace namespaces the user ids derived from idempotency keys.
var keySpace = uuid.MustParse("f844f7f4-8c6b-43eb-9ae3-37dd0cf71c75")

// KeyID is the user id of the registration an idempotency key names: every
// attempt with the key, on every gateway replica, names the same user and
// so the same saga, with no table of keys (a UUIDv5 of the key).
func KeyID(key string) string { return uuid.NewSHA1(keySpace, []byte(key)).String() }

// Gid is the gid of the registration of userID.
func Gid(userID string) string { return GidPrefix + userID }

// UserID returns the user id inside a register saga's gid, and false for
// any gid that is not one: such a gid names no registration.
func UserID(gid string) (string, bool) {
	id, ok := strings.CutPrefix(gid, GidPrefix)
	if !ok || !ValidUserID(id) {
		return "", false
	}
	return id, true
}

// ValidUserID says whether id is a user id as the gateway allocates them: a
// UUID in the canonical lowercase form.
func ValidUserID(id string) bool { return userID.MatchString(id) }

// ValidUsername says whether name may be registered: 3 to 32 ASCII letters,
// digits, '_', '.' or '-'.
func ValidUsername(name string) bool {
	return len(name) >= MinUsername && len(name) <= MaxUsername && username.MatchString(name)
}

// ValidGender says whether g is one of Genders.
func ValidGender(g string) bool {
	for _, known := range Genders {
		if g == known {
			return true
		}
	}
	return false
}

// ValidScore says whether an initial score is within [0, MaxScore].
func ValidScore(score int64) bool { return score >= 0 && score <= MaxScore }

// ErrBadHash: a password hash is not a bcrypt hash whose cost lies in
// [MinCost, the configured cost].
var ErrBadHash = errors.New("not a bcrypt hash of an accepted cost")

// CheckHash accepts a bcrypt hash of cost MinCost to maxCost. Every place
// that writes a stored hash or compares a password against one checks this
// first: bcrypt's work doubles with each cost step, so a planted hash of
// cost 16 costs seconds of CPU per comparison and one of cost 31 hours.
func CheckHash(hash string, maxCost int) error {
	m := bcryptHash.FindStringSubmatch(hash)
	if m == nil {
		return ErrBadHash
	}
	cost, _ := strconv.Atoi(m[1])
	if cost < MinCost || cost > maxCost {
		return ErrBadHash
	}
	return nil
}

// Limits of an email address: RFC 5321's path limit and local-part limit.
const (
	MaxEmail      = 254
	maxEmailLocal = 64
)

var (
	// emailLocal is RFC 5322's dot-atom: atext runs joined by single dots.
	emailLocal = regexp.MustCompile("^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")
	// emailLabel is one DNS label: letters, digits and inner hyphens.
	emailLabel = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$`)
)

// CanonicalEmail returns email with its domain in lower case, the form in
// which an address is stored and compared: a domain is case-insensitive,
// a local part is not (RFC 5321), so "Ann@Example.COM" and
// "Ann@example.com" are one address and "ann@example.com" another.
func CanonicalEmail(email string) string {
	at := strings.LastIndexByte(email, '@')
	if at < 0 {
		return email
	}
	return email[:at+1] + strings.ToLower(email[at+1:])
}

// ValidEmail says whether email may be registered: at most MaxEmail bytes
// of ASCII, a dot-atom local part of at most 64 bytes (no quoted strings,
// no comments), '@', and a domain name of at least two labels whose last
// is not all digits (no address literals). It accepts both cases in the
// domain; the branch services accept only the canonical form.
func ValidEmail(email string) bool {
	if len(email) > MaxEmail {
		return false
	}
	local, domain, ok := strings.Cut(email, "@")
	if !ok || len(local) > maxEmailLocal || !emailLocal.MatchString(local) {
		return false
	}
	labels := strings.Split(domain, ".")
	if len(labels) < 2 {
		return false
	}
	for _, l := range labels {
		if !emailLabel.MatchString(l) {
			return false
		}
	}
	return strings.Trim(labels[len(labels)-1], "0123456789") != ""
}
