package mail

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestVerifyLinkThroughTransferEncodings(t *testing.T) {
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
		require.Equal(t, link, VerifyLink(strings.NewReader(raw)), name)
	}
	require.Empty(t, VerifyLink(strings.NewReader("Subject: x\r\n\r\nno link here\r\n")))
	require.Empty(t, VerifyLink(strings.NewReader("Subject: x\r\n\r\nhttp://h/verify-email?code=short\r\n")), "not a code")
}
