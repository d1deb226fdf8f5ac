package emailcode_test

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"sagasuite/internal/emailcode"
)

func TestFindLinkThroughTransferEncodings(t *testing.T) {
	code := strings.Repeat("Ab-_9", 8) + "xyz"
	link := "http://127.0.0.1:8888/verify-email?code=" + code
	qp := strings.ReplaceAll(link, "=", "=3D")
	qp = qp[:30] + "=\r\n" + qp[30:] // a soft line break inside the link
	for name, raw := range map[string]string{
		"plain":            "Subject: x\r\nContent-Type: text/plain\r\n\r\nFollow " + link + " within 24 hours.\r\n",
		"quoted-printable": "Subject: x\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nFollow " + qp + "\r\n",
		"base64":           "Subject: x\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n" + base64.StdEncoding.EncodeToString([]byte("Follow "+link+"\n")) + "\r\n",
		"multipart": "Subject: x\r\nMIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=b1\r\n\r\n" +
			"--b1\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" + qp + "\r\n" +
			"--b1\r\nContent-Type: text/html\r\n\r\n<a href=\"" + link + "\">verify</a>\r\n--b1--\r\n",
	} {
		require.Equal(t, link, emailcode.FindLink(strings.NewReader(raw)), name)
	}
	require.Empty(t, emailcode.FindLink(strings.NewReader("Subject: x\r\n\r\nno link here\r\n")))
	require.Empty(t, emailcode.FindLink(strings.NewReader("Subject: x\r\n\r\nhttp://h/verify-email?code=short\r\n")), "not a code")
	require.Empty(t, emailcode.LinkIn(qp), "a link still quoted-printable is none (its code reads 3D…)")
	require.Equal(t, link, emailcode.LinkIn("<a href=\""+link+"\">"))
	require.Equal(t, code, emailcode.CodeOf(link))
}

func TestMakeIsStableAndKeyed(t *testing.T) {
	key := []byte(strings.Repeat("k", emailcode.MinKeyLen))
	a, err := emailcode.Make(key, "0190f5d2-7b8a-7c3e-9d1f-2a3b4c5d6e7f")
	require.NoError(t, err)
	b, _ := emailcode.Make(key, "0190f5d2-7b8a-7c3e-9d1f-2a3b4c5d6e7f")
	require.Equal(t, a, b, "a mail sent twice carries the same code")
	require.True(t, emailcode.Valid(a))
	other, _ := emailcode.Make([]byte(strings.Repeat("j", emailcode.MinKeyLen)), "0190f5d2-7b8a-7c3e-9d1f-2a3b4c5d6e7f")
	require.NotEqual(t, a, other, "another key, another code")
	_, err = emailcode.Make(key[:31], "x")
	require.ErrorIs(t, err, emailcode.ErrKey)
	require.Equal(t, "https://gw.example/verify-email?code="+a, emailcode.Link("https://gw.example/", a))
	require.Equal(t, a, strings.TrimPrefix(emailcode.FindLink(strings.NewReader("\r\n"+emailcode.Link("https://gw.example", a)+"\r\n")), "https://gw.example/verify-email?code="))
	for _, bad := range []string{"", a[:42], a + "x", strings.Repeat("=", 43), strings.Repeat("é", 22)} {
		require.False(t, emailcode.Valid(bad), bad)
	}
}
