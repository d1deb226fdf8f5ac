package logic

import (
	"regexp"
	"strings"
	"unicode"

	"sagasuite/userapi/internal/apierr"
	"sagasuite/userapi/internal/types"
)

// Limits of a registration; the database columns are sized to match.
const (
	minUsername = 3
	maxUsername = 32
	minPassword = 8
	// maxPassword is bcrypt's limit: it ignores bytes past the 72nd.
	maxPassword = 72
	maxScore    = 1_000_000
)

var usernamePattern = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

var genders = map[string]bool{"male": true, "female": true, "other": true}

// ValidateRegister is validateRegister, exported so that the handler's fuzz
// test can run a body through decoding and validation as one request does.
func ValidateRegister(r *types.RegisterReq) error { return validateRegister(r) }

// validateRegister names the first field that is wrong, so nothing reaches
// DTM or a database unless the whole request is acceptable.
//
// A password may hold any printable character, spaces and non-ASCII ones
// included, but no control character (C0, DEL or C1): a tab, newline or NUL
// is almost always a paste or client bug, is invisible when typed, and some
// clients strip or translate it, so the user could not log in again. Only
// registration checks this: an account registered before the rule keeps
// its password, and at login a wrong password is simply wrong.
func validateRegister(r *types.RegisterReq) error {
	switch {
	case r.Username == "":
		return apierr.BadField("username", "username is required")
	case len(r.Username) < minUsername || len(r.Username) > maxUsername:
		return apierr.BadField("username", "username must be 3 to 32 characters")
	case !usernamePattern.MatchString(r.Username):
		return apierr.BadField("username", "username may contain only letters, digits, '_', '.' and '-'")
	case r.Password == "":
		return apierr.BadField("password", "password is required")
	case len(r.Password) < minPassword:
		return apierr.BadField("password", "password must be at least 8 characters")
	case len(r.Password) > maxPassword:
		return apierr.BadField("password", "password must be at most 72 bytes")
	case strings.IndexFunc(r.Password, unicode.IsControl) >= 0:
		return apierr.BadField("password", "password must not contain control characters")
	case !genders[r.Gender]:
		return apierr.BadField("gender", "gender must be one of male, female, other")
	case r.Score < 0:
		return apierr.BadField("score", "score must not be negative")
	case r.Score > maxScore:
		return apierr.BadField("score", "score must be at most 1000000")
	}
	return nil
}

// validateLogin refuses a request that cannot name any account.
func validateLogin(r *types.LoginReq) error {
	switch {
	case r.Username == "":
		return apierr.BadField("username", "username is required")
	case r.Password == "":
		return apierr.BadField("password", "password is required")
	case len(r.Username) > maxUsername || len(r.Password) > maxPassword:
		// Too long to be a registered account: same answer as a wrong one.
		return errInvalidCredentials
	}
	return nil
}
