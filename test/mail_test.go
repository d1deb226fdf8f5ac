package test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"sagasuite/internal/emailcode"
	reg "sagasuite/internal/register"
	"sagasuite/internal/stacktest"
)

// mailWait bounds how long a verification mail may take here: the relay
// polls every 100 ms, the mailer sends at once.
const mailWait = 15 * time.Second

type mailMessage struct {
	ID      int      `json:"id"`
	To      []string `json:"to"`
	Subject string   `json:"subject"`
}

// mailsTo lists what the stack's mail server holds for address.
func mailsTo(t *testing.T, address string) []mailMessage {
	t.Helper()
	resp, err := http.Get(stack.MailURL + "/api/messages?to=" + url.QueryEscape(address))
	require.NoError(t, err)
	defer resp.Body.Close()
	var out []mailMessage
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	return out
}

// linkOf reads message id and returns the verification link in it.
func linkOf(t *testing.T, id int) string {
	t.Helper()
	resp, err := http.Get(fmt.Sprintf("%s/api/messages/%d/raw", stack.MailURL, id))
	require.NoError(t, err)
	defer resp.Body.Close()
	link := emailcode.FindLink(resp.Body)
	require.NotEmpty(t, link, "message %d carries a verification link", id)
	return link
}

// waitMails waits until every address has at least one mail.
func waitMails(t *testing.T, addresses ...string) {
	t.Helper()
	err := stacktest.WaitFor(mailWait+30*time.Second, fmt.Sprintf("mail to %d addresses", len(addresses)), func() bool {
		for _, a := range addresses {
			if len(mailsTo(t, a)) == 0 {
				return false
			}
		}
		return true
	})
	require.NoError(t, err, stack.Logs(20))
}

// deliveries counts the mailer's delivery records for user id.
func deliveries(t *testing.T, id string) int {
	return count(t, stack.UserDB, "SELECT COUNT(*) FROM email_delivery WHERE user_id = ?", id)
}

// verify follows a verification link (its path and query, on the stack's
// gateway: the link names the gateway's public URL).
func verify(t *testing.T, link string) answer {
	t.Helper()
	u, err := url.Parse(link)
	require.NoError(t, err)
	return call(t, http.MethodGet, u.RequestURI(), nil)
}

// TestVerificationMail: a completed registration gets exactly one mail,
// whose link verifies the address once; /user/info then says so.
func TestVerificationMail(t *testing.T) {
	r := registration{Username: uniqueName("mail"), Password: "password-mail", Gender: "female", Score: 3}.withEmail()
	a := register(t, r)
	require.Equal(t, http.StatusCreated, a.Status, a.Raw)
	id := a.str("id")
	waitMails(t, r.Email)
	msgs := mailsTo(t, r.Email)
	require.Len(t, msgs, 1)
	require.Equal(t, 1, deliveries(t, id))
	link := linkOf(t, msgs[0].ID)
	require.True(t, strings.HasPrefix(link, stack.APIURL+"/verify-email?code="), link)

	login := call(t, http.MethodPost, "/login", map[string]string{"username": r.Username, "password": r.Password})
	require.Equal(t, http.StatusOK, login.Status, login.Raw)
	info := call(t, http.MethodGet, "/user/info", nil, "Authorization", "Bearer "+login.str("token"))
	require.Equal(t, false, info.Body["email_verified"])

	v := verify(t, link)
	require.Equal(t, http.StatusOK, v.Status, v.Raw)
	require.Equal(t, map[string]any{"id": id, "email": r.Email, "email_verified": true}, v.Body)
	info = call(t, http.MethodGet, "/user/info", nil, "Authorization", "Bearer "+login.str("token"))
	require.Equal(t, true, info.Body["email_verified"])

	again := verify(t, link)
	require.Equal(t, http.StatusGone, again.Status, again.Raw)
	require.Equal(t, "CODE_USED", again.str("code"))
	require.Len(t, mailsTo(t, r.Email), 1, "still exactly one mail")
}

// TestVerifyCodes: an expired code, a code no mail carries and malformed
// codes get their stable 4xx, never a 5xx, and change nothing.
func TestVerifyCodes(t *testing.T) {
	r := registration{Username: uniqueName("expire"), Password: "password-expire", Gender: "male", Score: 4}.withEmail()
	a := register(t, r)
	require.Equal(t, http.StatusCreated, a.Status, a.Raw)
	waitMails(t, r.Email)
	link := linkOf(t, mailsTo(t, r.Email)[0].ID)
	_, err := stack.UserDB.Exec("UPDATE email_delivery SET expires_at = NOW(3) - INTERVAL 1 SECOND WHERE user_id = ?", a.str("id"))
	require.NoError(t, err)
	expired := verify(t, link)
	require.Equal(t, http.StatusGone, expired.Status, expired.Raw)
	require.Equal(t, "CODE_EXPIRED", expired.str("code"))
	require.Zero(t, count(t, stack.UserDB, "SELECT COUNT(*) FROM `user` WHERE id = ? AND email_verified_at IS NOT NULL", a.str("id")))

	unknown := call(t, http.MethodGet, "/verify-email?code="+strings.Repeat("A", emailcode.Len), nil)
	require.Equal(t, http.StatusNotFound, unknown.Status, unknown.Raw)
	require.Equal(t, "CODE_NOT_FOUND", unknown.str("code"))

	for name, query := range map[string]string{
		"no code":        "",
		"empty":          "?code=",
		"short":          "?code=" + strings.Repeat("A", emailcode.Len-1),
		"long":           "?code=" + strings.Repeat("A", emailcode.Len+1),
		"huge":           "?code=" + strings.Repeat("A", 64<<10),
		"not base64url":  "?code=" + strings.Repeat("%2B", emailcode.Len),
		"two codes":      "?code=" + strings.Repeat("A", emailcode.Len) + "&code=" + strings.Repeat("B", emailcode.Len),
		"sql":            "?code=" + url.QueryEscape("' OR 1=1 -- "+strings.Repeat("x", 31)),
		"unicode":        "?code=" + url.QueryEscape(strings.Repeat("é", 21)+"x"),
		"nul":            "?code=" + strings.Repeat("A", 42) + "%00",
		"other param":    "?token=" + strings.Repeat("A", emailcode.Len),
		"percent-broken": "?code=%ZZ",
	} {
		a := call(t, http.MethodGet, "/verify-email"+query, nil)
		require.Equal(t, http.StatusBadRequest, a.Status, "%s: %s", name, a.Raw)
		require.Equal(t, "INVALID_ARGUMENT", a.str("code"), name)
	}
}

// TestNoMailForFailedRegistrations: a registration DTM compensates (score
// 10) and one refused for a taken username or address never gets an
// outbox row, a mail or a delivery record, not even late: a registration
// made after them has its mail, so the relay and the mailer have passed
// them by.
func TestNoMailForFailedRegistrations(t *testing.T) {
	owner := registration{Username: uniqueName("owner"), Password: "password-owner", Gender: "female", Score: 1}.withEmail()
	require.Equal(t, http.StatusCreated, register(t, owner).Status)
	failed := []struct {
		r    registration
		code string
	}{
		{registration{Username: uniqueName("ten"), Password: "password-ten", Gender: "male", Score: 10}.withEmail(), "SCORE_REJECTED"},
		{registration{Username: owner.Username, Password: "password-other", Gender: "male", Score: 2, Email: emailOf(uniqueName("nametaken"))}, "USERNAME_TAKEN"},
		{registration{Username: uniqueName("mailtaken"), Password: "password-other", Gender: "male", Score: 2, Email: owner.Email}, "EMAIL_TAKEN"},
	}
	var gids []string
	for _, f := range failed {
		a := register(t, f.r)
		require.Equal(t, f.code, a.str("code"), a.Raw)
		gids = append(gids, a.str("gid"))
	}
	after := registration{Username: uniqueName("after"), Password: "password-after", Gender: "other", Score: 2}.withEmail()
	require.Equal(t, http.StatusCreated, register(t, after).Status)
	waitMails(t, owner.Email, after.Email)

	for i, f := range failed {
		id, _ := reg.UserID(gids[i])
		require.Zero(t, count(t, stack.UserDB, "SELECT COUNT(*) FROM outbox WHERE gid = ? OR user_id = ?", gids[i], id), f.code)
		require.Zero(t, deliveries(t, id), f.code)
		if f.code != "EMAIL_TAKEN" {
			require.Empty(t, mailsTo(t, f.r.Email), f.code)
		}
	}
	require.Len(t, mailsTo(t, owner.Email), 1, "the owner of the taken address got one mail, its own")
}

// TestMailSurvivesRedis: with Redis down, registrations still answer 201
// and their mails go out once it is back; with Redis restarted empty while
// their tasks were queued (the mailer stopped), every mail still goes out,
// exactly once, because the relay publishes the rows again.
func TestMailSurvivesRedis(t *testing.T) {
	burst := func(prefix string, n int) []registration {
		regs := make([]registration, n)
		var wg sync.WaitGroup
		for i := range regs {
			regs[i] = registration{Username: uniqueName(fmt.Sprintf("%s%d", prefix, i)), Password: "password-redis", Gender: "other", Score: 5}.withEmail()
			wg.Add(1)
			go func() {
				defer wg.Done()
				a := register(t, regs[i])
				require.Equal(t, http.StatusCreated, a.Status, a.Raw)
			}()
		}
		wg.Wait()
		return regs
	}
	addresses := func(regs []registration) []string {
		out := make([]string, len(regs))
		for i, r := range regs {
			out[i] = r.Email
		}
		return out
	}
	exactlyOne := func(regs []registration) {
		for _, r := range regs {
			require.Len(t, mailsTo(t, r.Email), 1, r.Email)
			require.Equal(t, 1, count(t, stack.UserDB, "SELECT COUNT(*) FROM email_delivery d JOIN `user` u ON u.id = d.user_id WHERE u.email = ?", r.Email))
		}
	}

	// Redis down: registrations are not affected, mails wait.
	stack.Redis.Stop()
	down := burst("down", 12)
	require.Zero(t, count(t, stack.UserDB, "SELECT COUNT(*) FROM outbox o JOIN `user` u ON u.id = o.user_id WHERE u.username LIKE 'down%' AND o.kind = 'verify-email' AND o.publishes > 0"))
	stack.Redis.MustRestart(t)
	waitMails(t, addresses(down)...)
	exactlyOne(down)

	// Redis restarted empty with the tasks queued: the mailer is stopped,
	// so the tasks wait in Redis until Redis loses them.
	mailer := stack.Proc("mailer")
	mailer.Kill()
	queued := burst("queued", 12)
	err := stacktest.WaitFor(mailWait, "the burst's rows published", func() bool {
		return count(t, stack.UserDB, "SELECT COUNT(*) FROM outbox o JOIN `user` u ON u.id = o.user_id WHERE u.username LIKE 'queued%' AND o.kind = 'verify-email' AND o.publishes > 0") == len(queued)
	})
	require.NoError(t, err)
	stack.Redis.MustRestart(t)
	require.NoError(t, mailer.Start())
	waitMails(t, addresses(queued)...)
	exactlyOne(queued)
}
