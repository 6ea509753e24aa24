package console

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"testing"
)

// Behind the TLS reverse proxy the README asks for, the console sees
// plain HTTP, but the browser is on https: the session and CSRF cookies
// must still be Secure, or the browser sends them in clear to any
// http:// URL of the host.
func TestCookiesSecureBehindTLSProxy(t *testing.T) {
	const token = "admin-token-for-tests-0123456789"
	_, base := serveWith(t, "admin_token: "+token)
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	req, _ := http.NewRequest(http.MethodGet, base+"/login", nil)
	req.Header.Set("X-Forwarded-Proto", "https")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	checkSecure(t, "GET /login", resp, csrfCookie)
	m := csrfField.FindStringSubmatch(string(page))
	if m == nil {
		t.Fatal("no CSRF field on the login page")
	}
	form := url.Values{"csrf": {m[1]}, "token": {token}, "next": {"/"}}
	resp = postForm(t, c, base+"/login", form, map[string]string{"X-Forwarded-Proto": "https"})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login: %d", resp.StatusCode)
	}
	checkSecure(t, "POST /login", resp, "switchboard_session")
}

func checkSecure(t *testing.T, what string, resp *http.Response, name string) {
	t.Helper()
	for _, ck := range resp.Cookies() {
		if ck.Name == name {
			if !ck.Secure {
				t.Errorf("%s: cookie %s is not Secure behind a TLS proxy", what, name)
			}
			return
		}
	}
	t.Errorf("%s: no cookie %s set", what, name)
}
