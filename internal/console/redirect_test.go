package console

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
)

// browserResolve resolves a Location header as a browser does: the WHATWG
// URL parser drops every ASCII tab and newline and reads a backslash as a
// slash before it resolves the reference.
func browserResolve(t *testing.T, base, loc string) *url.URL {
	t.Helper()
	loc = strings.NewReplacer("\t", "", "\n", "", "\r", "", "\\", "/").Replace(strings.TrimSpace(loc))
	b, _ := url.Parse(base)
	u, err := b.Parse(loc)
	if err != nil {
		t.Fatalf("Location %q: %v", loc, err)
	}
	return u
}

// The login's redirect to next stays on the console whatever next holds:
// a browser strips a tab or newline from a Location, so "/\t/evil.example"
// would send the operator to evil.example, a page that may then ask for
// the admin token "again".
func TestLoginRedirectStaysOnConsole(t *testing.T) {
	base := serveConsole(t)
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(base + "/try")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := csrfField.FindStringSubmatch(string(page))
	if m == nil {
		t.Fatal("no CSRF field on the try page")
	}
	for _, next := range []string{"/\t/evil.example/", "/\n/evil.example/", "/\r\n/evil.example/", "\t//evil.example/",
		"/\t\\evil.example/", " //evil.example/", "/rules"} {
		form := url.Values{"csrf": {m[1]}, "next": {next}}
		req, _ := http.NewRequest(http.MethodPost, base+"/login", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for _, ck := range jar.Cookies(req.URL) {
			req.AddCookie(ck)
		}
		// The transport, not the client: the client refuses to read a
		// Location with a control character, which a browser follows.
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		loc := resp.Header.Get("Location")
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("next %q: %d", next, resp.StatusCode)
		}
		u := browserResolve(t, base, loc)
		if b, _ := url.Parse(base); u.Host != b.Host {
			t.Errorf("next %q: Location %q takes a browser to %s", next, loc, u)
		}
	}
}
