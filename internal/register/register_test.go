package register

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"
)

func TestUserIDFromGid(t *testing.T) {
	const id = "0190f5d2-7b8a-7c3e-9d1f-2a3b4c5d6e7f"
	got, ok := UserID(Gid(id))
	require.True(t, ok)
	require.Equal(t, id, got)

	for _, gid := range []string{
		"", "register-", id, "register-" + strings.ToUpper(id), "register-" + id + " ",
		"register-" + id[:35], "Register-" + id, "register-" + id + "-x", "other-" + id,
		"register-0190f5d27b8a7c3e9d1f2a3b4c5d6e7f", "register-{" + id + "}",
		"register-42", "register-" + id + "/x", "register-" + id + "\n",
	} {
		_, ok := UserID(gid)
		require.False(t, ok, "%q", gid)
	}
}

func TestFieldRules(t *testing.T) {
	require.True(t, ValidUsername("alice_1.x-y"))
	for _, name := range []string{"", "ab", strings.Repeat("a", 33), "a b", "ålice", "<b>x</b>", "uni ", "a\x00b"} {
		require.False(t, ValidUsername(name), "%q", name)
	}
	require.True(t, ValidUsername(strings.Repeat("a", 32)))
	for _, g := range Genders {
		require.True(t, ValidGender(g))
	}
	require.False(t, ValidGender("Female"))
	require.True(t, ValidScore(0))
	require.True(t, ValidScore(MaxScore))
	require.False(t, ValidScore(-1))
	require.False(t, ValidScore(MaxScore+1))
	require.False(t, ValidScore(123_456_789_012))
}

func TestCheckHash(t *testing.T) {
	four, err := bcrypt.GenerateFromPassword([]byte("password"), 4)
	require.NoError(t, err)
	six, err := bcrypt.GenerateFromPassword([]byte("password"), 6)
	require.NoError(t, err)
	require.NoError(t, CheckHash(string(four), 4))
	require.NoError(t, CheckHash(string(six), 10))
	require.ErrorIs(t, CheckHash(string(six), 5), ErrBadHash, "cost above the configured one")

	valid := string(four)
	for name, h := range map[string]string{
		"empty":        "",
		"plain text":   "password",
		"cost 16":      "$2a$16$" + valid[7:],
		"cost 31":      "$2b$31$" + valid[7:],
		"cost 03":      "$2a$03$" + valid[7:],
		"one digit":    "$2a$4$" + valid[7:],
		"unknown kind": "$2x$04$" + valid[7:],
		"too short":    valid[:59],
		"too long":     valid + "a",
		"bad alphabet": valid[:59] + "+",
		"sha-crypt":    "$6$rounds=5000$salt$hash",
		"html":         "<script>alert(1)</script>",
	} {
		require.ErrorIs(t, CheckHash(h, 10), ErrBadHash, name)
	}
}

func TestSplitBranchURLDropsTheAddress(t *testing.T) {
	for _, tc := range []struct{ url, service, method string }{
		{"etcd://127.0.0.1:2379/user.rpc/user.User/CreateUser", "user.rpc", "CreateUser"},
		{"etcd://h1:2379,h2:2379/user-score.rpc/userscore.UserScore/InitScoreCompensate", "user-score.rpc", "InitScoreCompensate"},
		// A direct address has no service key: show nothing, not the address.
		{"127.0.0.1:8080/user.User/CreateUser", "", ""},
		{"etcd://host/", "", ""},
		{"not a url %zz", "", ""},
		{"", "", ""},
	} {
		service, method := SplitBranchURL(tc.url)
		require.Equal(t, [2]string{tc.service, tc.method}, [2]string{service, method}, tc.url)
	}
}

func TestEmailRules(t *testing.T) {
	for _, ok := range []string{
		"ann@example.com", "a.b+tag@sub.example.co", "x@a-b.io", "o'neil@example.org",
		"Ann@EXAMPLE.com", strings.Repeat("l", 64) + "@example.com",
		"a@" + strings.Repeat("d", 63) + "." + strings.Repeat("e", 63) + "." + strings.Repeat("f", 63) + "." + strings.Repeat("g", 60),
	} {
		require.True(t, ValidEmail(ok), "%q (%d bytes)", ok, len(ok))
	}
	for _, bad := range []string{
		"", "ann", "ann@", "@example.com", "ann@example", "ann@@example.com", "ann@ex@ample.com",
		"a..b@example.com", ".ann@example.com", "ann.@example.com", "ann @example.com", "ann@exa mple.com",
		`"ann"@example.com`, "Ann <ann@example.com>", "ann@example.com\n", "ann@-example.com", "ann@example-.com",
		"ann@example..com", "ann@[127.0.0.1]", "ann@127.0.0.1", "ann@example.123", "ännä@example.com",
		"ann@exämple.com", "<script>@example.com", strings.Repeat("l", 65) + "@example.com",
		"a@" + strings.Repeat("d", 64) + ".com",
		"a@" + strings.Repeat("d", 63) + "." + strings.Repeat("e", 63) + "." + strings.Repeat("f", 63) + "." + strings.Repeat("g", 61),
	} {
		require.False(t, ValidEmail(bad), "%q", bad)
	}
	require.Equal(t, "Ann.B@example.com", CanonicalEmail("Ann.B@Example.COM"))
	require.Equal(t, "no-at-sign", CanonicalEmail("no-at-sign"))
}
