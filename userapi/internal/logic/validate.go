package logic

import (
	"strings"
	"unicode"

	"sagasuite/internal/register"
	"sagasuite/userapi/internal/apierr"
	"sagasuite/userapi/internal/types"
)

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
	case len(r.Username) < register.MinUsername || len(r.Username) > register.MaxUsername:
		return apierr.BadField("username", "username must be 3 to 32 characters")
	case !register.ValidUsername(r.Username):
		return apierr.BadField("username", "username may contain only letters, digits, '_', '.' and '-'")
	case r.Password == "":
		return apierr.BadField("password", "password is required")
	case len(r.Password) < register.MinPassword:
		return apierr.BadField("password", "password must be at least 8 characters")
	case len(r.Password) > register.MaxPassword:
		return apierr.BadField("password", "password must be at most 72 bytes")
	case strings.IndexFunc(r.Password, unicode.IsControl) >= 0:
		return apierr.BadField("password", "password must not contain control characters")
	case !register.ValidGender(r.Gender):
		return apierr.BadField("gender", "gender must be one of male, female, other")
	case r.Score < 0:
		return apierr.BadField("score", "score must not be negative")
	case r.Score > register.MaxScore:
		return apierr.BadField("score", "score must be at most 1000000")
	case r.Email == "":
		return apierr.BadField("email", "email is required")
	case len(r.Email) > register.MaxEmail:
		return apierr.BadField("email", "email must be at most 254 bytes")
	case !register.ValidEmail(r.Email):
		return apierr.BadField("email", "email must be an address like name@example.com (ASCII, no display name)")
	}
	return nil
}

// validateLogin refuses a request that cannot name any account. A name
// that registration would refuse (another case is allowed by MySQL's
// case-insensitive collation, a trailing space by its padding, a lookalike
// letter by its accent folding) names no account: the same answer as a
// wrong password, and the user service compares names exactly as well.
func validateLogin(r *types.LoginReq) error {
	switch {
	case r.Username == "":
		return apierr.BadField("username", "username is required")
	case r.Password == "":
		return apierr.BadField("password", "password is required")
	case !register.ValidUsername(r.Username) || len(r.Password) > register.MaxPassword:
		return errInvalidCredentials
	}
	return nil
}
