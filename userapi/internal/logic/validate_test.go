package logic

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"sagasuite/internal/register"
	"sagasuite/userapi/internal/apierr"
	"sagasuite/userapi/internal/types"
)

func TestValidateRegister(t *testing.T) {
	good := types.RegisterReq{Username: "alice_1.x-y", Password: "12345678", Email: "alice@example.com", Gender: "female", Score: 0}
	require.NoError(t, validateRegister(&good))

	cases := map[string]struct {
		change func(*types.RegisterReq)
		field  string
	}{
		"empty username":    {func(r *types.RegisterReq) { r.Username = "" }, "username"},
		"2-char username":   {func(r *types.RegisterReq) { r.Username = "ab" }, "username"},
		"33-char username":  {func(r *types.RegisterReq) { r.Username = strings.Repeat("a", 33) }, "username"},
		"space in username": {func(r *types.RegisterReq) { r.Username = "a b c" }, "username"},
		"non-ASCII":         {func(r *types.RegisterReq) { r.Username = "ålice" }, "username"},
		"7-byte password":   {func(r *types.RegisterReq) { r.Password = "1234567" }, "password"},
		"73-byte password":  {func(r *types.RegisterReq) { r.Password = strings.Repeat("p", 73) }, "password"},
		"unknown gender":    {func(r *types.RegisterReq) { r.Gender = "Female" }, "gender"},
		"tab in password":   {func(r *types.RegisterReq) { r.Password = "pass\tword" }, "password"},
		"NUL in password":   {func(r *types.RegisterReq) { r.Password = "password\x00" }, "password"},
		"LF in password":    {func(r *types.RegisterReq) { r.Password = "password\n" }, "password"},
		"DEL in password":   {func(r *types.RegisterReq) { r.Password = "pass\x7fword" }, "password"},
		"C1 in password":    {func(r *types.RegisterReq) { r.Password = "pass\u0085word" }, "password"},
		"no email":          {func(r *types.RegisterReq) { r.Email = "" }, "email"},
		"email without @":   {func(r *types.RegisterReq) { r.Email = "alice.example.com" }, "email"},
		"display name":      {func(r *types.RegisterReq) { r.Email = "Alice <alice@example.com>" }, "email"},
		"header injection":  {func(r *types.RegisterReq) { r.Email = "alice@example.com\r\nBcc: x@example.com" }, "email"},
		"255-byte email": {func(r *types.RegisterReq) {
			r.Email = strings.Repeat("a", 64) + "@" + strings.Repeat("b", 186) + ".com"
		}, "email"},
		"negative score":  {func(r *types.RegisterReq) { r.Score = -1 }, "score"},
		"score too large": {func(r *types.RegisterReq) { r.Score = register.MaxScore + 1 }, "score"},
	}
	for name, tc := range cases {
		r := good
		tc.change(&r)
		err := validateRegister(&r)
		var e *apierr.Error
		require.True(t, errors.As(err, &e), name)
		require.Equal(t, apierr.InvalidArgument, e.Code, name)
		require.Equal(t, tc.field, e.Field, name)
	}

	for _, printable := range []string{"pass word", "pässwörd", "パスワードです", "😀😀", "'; DROP TABLE user;--", "\ufffd\ufffd\ufffd"} {
		r := good
		r.Password = printable
		require.NoError(t, validateRegister(&r), "%q is printable", printable)
	}

	edge := good
	edge.Username, edge.Password, edge.Score = strings.Repeat("a", 32), strings.Repeat("p", 72), register.MaxScore
	require.NoError(t, validateRegister(&edge), "limits are inclusive")
}

func TestValidateLogin(t *testing.T) {
	require.NoError(t, validateLogin(&types.LoginReq{Username: "abc", Password: "x"}))
	// Registration refuses control characters; login does not, so that an
	// account registered before that rule can still log in.
	require.NoError(t, validateLogin(&types.LoginReq{Username: "abc", Password: "pass\tword"}))
	for name, r := range map[string]types.LoginReq{
		"no username": {Password: "x"},
		"no password": {Username: "abc"},
	} {
		var e *apierr.Error
		require.True(t, errors.As(validateLogin(&r), &e), name)
		require.Equal(t, apierr.InvalidArgument, e.Code, name)
	}
	var e *apierr.Error
	require.True(t, errors.As(validateLogin(&types.LoginReq{Username: strings.Repeat("a", 33), Password: "x"}), &e))
	require.Equal(t, apierr.InvalidCredentials, e.Code, "too long to exist: the answer of a wrong password")
	// MySQL's collation would match these to uni11791; registration refuses
	// them, so at login they name no account.
	for _, name := range []string{"uni11791 ", " uni11791", "üni11791", "unı11791", "uni11791\x00", "un", "uni<b>"} {
		var e *apierr.Error
		require.True(t, errors.As(validateLogin(&types.LoginReq{Username: name, Password: "password"}), &e), "%q", name)
		require.Equal(t, apierr.InvalidCredentials, e.Code, "%q", name)
	}
}
