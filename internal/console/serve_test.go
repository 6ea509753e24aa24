package console

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/switchboard/switchboard/internal/app"
)

// serveConsole runs serve in-process with the console on a loopback admin
// listener without admin_token, and returns the admin base URL.
func serveConsole(t *testing.T) string {
	_, admin := serveBoth(t)
	return admin
}

// serveBoth is serveConsole that also returns the callback listener's
// base URL.
func serveBoth(t *testing.T) (listen, admin string) {
	t.Helper()
	return serveWith(t, "")
}

// serveWith is serveBoth with more configuration (extra, a line of YAML
// such as admin_token).
func serveWith(t *testing.T, extra string) (listen, admin string) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "rules.yaml")
	cfg := fmt.Sprintf(`listen: 127.0.0.1:0
admin: 127.0.0.1:0
store: %s
receivers:
  fax: {type: interfax, unauthenticated: true}
sinks: {audit: {type: log}}
rules:
  - {name: all, when: "true", to: [audit]}
%s
`, filepath.Join(dir, "sb.db"), extra)
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready, done := make(chan [2]string, 1), make(chan error, 1)
	go func() {
		done <- app.Serve(ctx, app.Options{ConfigPath: path, Log: slog.New(slog.DiscardHandler), Console: New,
			Ready: func(listen, admin string) { ready <- [2]string{listen, admin} }})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	select {
	case a := <-ready:
		return "http://" + a[0], "http://" + a[1]
	case err := <-done:
		t.Fatalf("serve: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("serve not ready")
	}
	return "", ""
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// Without admin_token (loopback only) the console needs no login, but
// every form POST still needs the CSRF token of the browser's own cookie,
// and a cross-site one is refused before that.
func TestConsoleWithoutToken(t *testing.T) {
	base := serveConsole(t)
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(path string) (int, string) {
		resp, err := c.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	post := func(path string, form url.Values, origin string) (int, string) {
		req, _ := http.NewRequest(http.MethodPost, base+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	code, page := get("/try")
	m := csrfField.FindStringSubmatch(page)
	if code != http.StatusOK || m == nil {
		t.Fatalf("GET /try: %d, CSRF field %v", code, m)
	}
	if _, login := get("/login"); !strings.Contains(login, "No admin token is configured") {
		t.Error("the login page does not say that no token is needed")
	}
	body := url.Values{"receiver": {"fax"}, "body": {"TransactionID=1&Status=0"}}
	if code, _ := post("/try", body, ""); code != http.StatusForbidden {
		t.Errorf("POST /try without CSRF token: %d, want 403", code)
	}
	body.Set("csrf", m[1])
	if code, _ := post("/try", body, "https://attacker.example"); code != http.StatusForbidden {
		t.Errorf("cross-site POST /try with the token: %d, want 403", code)
	}
	code, out := post("/try", body, base)
	if code != http.StatusOK || !strings.Contains(out, "1 event accepted, 1 message would be sent") || !strings.Contains(out, "nothing was stored or sent") {
		t.Errorf("POST /try with the token: %d\n%s", code, out)
	}
	// Another browser (another cookie) cannot use this one's token.
	other, _ := cookiejar.New(nil)
	c.Jar = other
	if code, _ := post("/try", body, base); code != http.StatusForbidden {
		t.Errorf("POST /try with another browser's token: %d, want 403", code)
	}
}

// postForm posts form to u with c, with the headers h, and returns the
// answer (its body closed).
func postForm(t *testing.T, c *http.Client, u string, form url.Values, h map[string]string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range h {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}
