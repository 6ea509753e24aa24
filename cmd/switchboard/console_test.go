package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// TestConsole drives the admin web console of a real serve in Chromium:
// log in, filter the delivery log, open a dead delivery and retry it, read
// a subject's timeline, and try a callback; and checks that vendor markup
// stays text, that a POST without the CSRF token is refused, and that the
// pages read without JavaScript and fit a phone. It writes a screenshot of
// each page (into docs/ with -screenshots).
func TestConsole(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary and a browser; skipped with -short")
	}
	e := newConsoleEnv(t)

	t.Run("login", func(t *testing.T) {
		e.do(t, "open the console", chromedp.Navigate(e.url("/")), chromedp.WaitVisible(chromedp.ID("token")))
		if loc := get(t, e, "location", chromedp.Location()); !strings.Contains(loc, "/login") {
			t.Fatalf("without a session the console is at %s, want the login form", loc)
		}
		e.shot(t, "login")
		e.do(t, "log in with a wrong token", chromedp.SendKeys(chromedp.ID("token"), "not-the-token"),
			chromedp.Submit(chromedp.ID("token")), chromedp.WaitVisible(chromedp.CSS(`[role=alert]`)))
		e.do(t, "log in", chromedp.SendKeys(chromedp.ID("token"), consoleToken), chromedp.Submit(chromedp.ID("token")),
			chromedp.WaitVisible(chromedp.ID("rows")))
		cookies := get(t, e, "cookies", chromedp.Action[network.GetCookiesResult](func(ctx context.Context, _ *chromedp.Target) (network.GetCookiesResult, error) {
			return chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{})
		}))
		var session *network.Cookie
		for _, c := range cookies.Cookies {
			if c.Name == "switchboard_session" {
				session = c
			}
		}
		switch {
		case session == nil:
			t.Fatal("no session cookie after login")
		case !session.HTTPOnly || session.SameSite != network.CookieSameSiteStrict:
			t.Errorf("session cookie HttpOnly=%v SameSite=%q, want HttpOnly and Strict", session.HTTPOnly, session.SameSite)
		case strings.Contains(session.Value, consoleToken):
			t.Error("the session cookie holds the admin token")
		}
	})

	var deadID string
	t.Run("filter to dead", func(t *testing.T) {
		e.do(t, "filter", chromedp.Navigate(e.url("/")), chromedp.SetValue(chromedp.ID("f-state"), "dead"),
			chromedp.Click(chromedp.ID("f-apply")), chromedp.WaitVisible(chromedp.CSS(`.counts a.state-dead[aria-current]`)))
		states := get(t, e, "row states", chromedp.Evaluate[[]string](`[...document.querySelectorAll("#rows .state")].map(e => e.textContent)`))
		if len(states) != 3 {
			t.Fatalf("dead filter shows %d rows (%q), want the 3 dead deliveries", len(states), states)
		}
		for _, s := range states {
			if s != "✗ dead" {
				t.Errorf("dead filter shows a row in state %q", s)
			}
		}
		e.shot(t, "deliveries")
		// The oldest dead delivery: fax 664598111's first event, whose
		// RemoteCSID is markup.
		deadID = get(t, e, "last row", chromedp.Evaluate[string](`[...document.querySelectorAll("#rows a.id")].pop().title`))
	})

	t.Run("vendor markup is text", func(t *testing.T) {
		e.do(t, "open the delivery", chromedp.Navigate(e.url("/deliveries/"+deadID)), chromedp.WaitVisible(chromedp.ID("retry-one")))
		page := get(t, e, "page text", chromedp.Evaluate[string](`document.body.innerText`))
		if !strings.Contains(page, "<script>window.pwned=1</script>") {
			t.Errorf("the RemoteCSID is not shown as text on the delivery page:\n%s", page)
		}
		if !strings.Contains(page, "Webhook-Signature: <secret>") || strings.Contains(page, "v1,") {
			t.Errorf("the webhook request is not shown with its signature redacted:\n%s", page)
		}
		if pwned := get(t, e, "pwned", chromedp.Evaluate[bool](`window.pwned === 1`)); pwned {
			t.Error("the RemoteCSID ran as script")
		}
		if n := get(t, e, "scripts", chromedp.Evaluate[int](`document.scripts.length`)); n != 1 {
			t.Errorf("the page has %d script elements, want only console.js", n)
		}
	})

	t.Run("POST without CSRF token is refused", func(t *testing.T) {
		// From the logged-in page itself: same origin, session cookie, no token.
		for name, body := range map[string]string{"no token": "id=" + deadID, "wrong token": "csrf=forged&id=" + deadID} {
			status := get(t, e, name, chromedp.Evaluate[int](fmt.Sprintf(`fetch("/retry", {method: "POST", body: new URLSearchParams(%q), credentials: "same-origin"}).then(r => r.status)`, body), chromedp.EvalAwaitPromise))
			if status != http.StatusForbidden {
				t.Errorf("%s: POST /retry answered %d, want 403", name, status)
			}
		}
		// With the bearer token but no CSRF token.
		resp := e.request(t, http.MethodPost, "/retry", "id="+deadID)
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("bearer POST /retry without CSRF token answered %d, want 403", resp.StatusCode)
		}
		if n := e.count(t, "dead"); n != 3 {
			t.Errorf("after refused POSTs %d deliveries are dead, want 3", n)
		}
	})

	t.Run("retry one", func(t *testing.T) {
		e.refuse.Store(false)
		e.do(t, "retry", chromedp.Navigate(e.url("/deliveries/"+deadID)), chromedp.Click(chromedp.ID("retry-one")))
		select {
		case id := <-e.received:
			if id != deadID {
				t.Fatalf("the webhook received %s, want the retried %s", id, deadID)
			}
		case <-e.browser.Done():
			t.Fatalf("the webhook never received the retried delivery\n%s", e.proc.logTail())
		}
		// The page of the pending delivery refreshes itself when it settles.
		e.do(t, "see it delivered", chromedp.WaitVisible(chromedp.CSS("#state.state-delivered")))
		e.shot(t, "delivery")
	})

	t.Run("subject timeline", func(t *testing.T) {
		e.do(t, "open the timeline", chromedp.Navigate(e.url("/subjects/664598111")), chromedp.WaitVisible(chromedp.CSS(".timeline")))
		statuses := get(t, e, "statuses", chromedp.Evaluate[[]string](`[...document.querySelectorAll(".timeline .status")].map(e => e.textContent)`))
		if strings.Join(statuses, ",") != "pending,failure" {
			t.Errorf("timeline of 664598111 shows %q, want its events in order: pending, failure", statuses)
		}
		caused := get(t, e, "deliveries", chromedp.Evaluate[[]string](`[...document.querySelectorAll(".timeline > li")].map(li => [...li.querySelectorAll(".caused a")].map(a => a.textContent).join(";"))`))
		if want := []string{"every-fax → hook", "every-fax → hook;failed-faxes → ops-slack"}; fmt.Sprint(caused) != fmt.Sprint(want) {
			t.Errorf("timeline deliveries per event %q, want %q", caused, want)
		}
		e.shot(t, "subject")
	})

	t.Run("retry all matching, confirmed with the count", func(t *testing.T) {
		e.do(t, "ask", chromedp.Navigate(e.url("/?state=dead&sink=hook")), chromedp.Click(chromedp.ID("retry-all")),
			chromedp.WaitVisible(chromedp.ID("retry-count")))
		if n := get(t, e, "count", chromedp.Text(chromedp.ID("retry-count"))); n != "2" {
			t.Errorf("the confirmation names %s deliveries, want the 2 still dead", n)
		}
		e.shot(t, "retry")
		e.do(t, "confirm", chromedp.Click(chromedp.ID("confirm-retry")), chromedp.WaitVisible(chromedp.CSS(`[role=status]`)))
		for range 2 {
			select {
			case <-e.received:
			case <-e.browser.Done():
				t.Fatal("the webhook did not receive the re-queued deliveries")
			}
		}
	})

	t.Run("live rows", func(t *testing.T) {
		e.do(t, "open the log", chromedp.Navigate(e.url("/")), chromedp.WaitVisible(chromedp.ID("rows")))
		e.callback(t, "TransactionID=700000099&Status=0")
		e.do(t, "see the new row", chromedp.WaitVisible(chromedp.CSS(`#rows a[href="/subjects/700000099"]`)))
	})

	t.Run("rules", func(t *testing.T) {
		e.do(t, "open rules", chromedp.Navigate(e.url("/rules")), chromedp.WaitVisible(chromedp.CSS("table")))
		var ready struct {
			ConfigHash string `json:"config_hash"`
		}
		e.api(t, "/readyz", &ready)
		page := get(t, e, "page", chromedp.Evaluate[string](`document.body.innerText`))
		for _, want := range []string{ready.ConfigHash, "every-fax", `status == "failure"`, "5/s", "✓ succeeded"} {
			if want == "" || !strings.Contains(page, want) {
				t.Errorf("rules page lacks %q:\n%s", want, page)
			}
		}
		e.shot(t, "rules")
	})

	t.Run("slack message preview", func(t *testing.T) {
		slack := e.list(t, "sink=ops-slack")
		if len(slack) != 1 {
			t.Fatalf("%d deliveries to ops-slack, want 1", len(slack))
		}
		e.do(t, "open it", chromedp.Navigate(e.url("/deliveries/"+slack[0].ID)), chromedp.WaitVisible(chromedp.CSS(".slack")))
		if h := get(t, e, "header block", chromedp.Text(chromedp.CSS(".slack .block-header"))); h != "Fax to 0012125551234 failed" {
			t.Errorf("the Slack preview's header block reads %q, want the rule's title", h)
		}
		e.shot(t, "delivery-slack")
	})

	t.Run("try a callback as switchboard test does", func(t *testing.T) {
		for _, body := range []string{"TransactionID=664598111&Status=263&DestinationFax=0012125551234", "TransactionID=oops"} {
			e.do(t, "try", chromedp.Navigate(e.url("/try")), chromedp.SetValue(chromedp.ID("t-receiver"), "fax"),
				chromedp.SetValue(chromedp.ID("t-body"), body), chromedp.Click(chromedp.ID("t-run")), chromedp.WaitVisible(chromedp.ID("output")))
			page := get(t, e, "output", chromedp.Text(chromedp.ID("output")))
			cli, cliErr := e.switchboardTest(t, body)
			if sameRun(page) != sameRun(cli) {
				t.Errorf("body %q: the page shows\n%s\nswitchboard test prints\n%s", body, page, cli)
			}
			verdict := get(t, e, "verdict", chromedp.Text(chromedp.ID("verdict")))
			if accepted := strings.HasPrefix(verdict, "✓"); accepted != (cliErr == nil) {
				t.Errorf("body %q: verdict %q, but switchboard test exited with %v", body, verdict, cliErr)
			}
			if body == "TransactionID=664598111&Status=263&DestinationFax=0012125551234" {
				e.shot(t, "try")
			}
		}
	})

	t.Run("reads without JavaScript and fits a phone", func(t *testing.T) {
		disable := func(off bool) chromedp.Action[chromedp.Void] {
			return chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
				_, err := chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: off})
				return err
			})
		}
		e.do(t, "phone without script", disable(true), chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2)),
			chromedp.Navigate(e.url("/?state=delivered")), chromedp.WaitVisible(chromedp.ID("rows")))
		rows := get(t, e, "rows", chromedp.Evaluate[int](`document.querySelectorAll("#rows tr").length`))
		if rows < 4 {
			t.Errorf("without JavaScript the log shows %d delivered rows, want at least 4", rows)
		}
		if wide := get(t, e, "width", chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth`)); wide {
			t.Error("the delivery log is wider than a phone's screen")
		}
		e.shot(t, "phone")
		e.do(t, "back to a laptop", disable(false), chromedp.EmulateViewport(1280, 900))
	})

	t.Run("every page forbids framing, caching and inline script", func(t *testing.T) {
		for _, path := range []string{"/", "/deliveries/" + deadID, "/subjects/664598111", "/rules", "/try", "/login", "/retry?sink=hook", "/nowhere"} {
			resp := e.request(t, http.MethodGet, path, "")
			h := resp.Header
			if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") ||
				!strings.Contains(csp, "frame-ancestors 'none'") || h.Get("X-Frame-Options") != "DENY" || h.Get("Cache-Control") != "no-store" {
				t.Errorf("%s (%d): CSP %q, X-Frame-Options %q, Cache-Control %q", path, resp.StatusCode, csp, h.Get("X-Frame-Options"), h.Get("Cache-Control"))
			}
		}
	})

	t.Run("rules after a failed reload", func(t *testing.T) {
		good, err := os.ReadFile(e.cfg)
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, e.cfg, strings.Replace(string(good), "to: [ops-slack]", "to: [nowhere]", 1))
		if resp := e.request(t, http.MethodPost, "/-/reload", ""); resp.StatusCode != http.StatusUnprocessableEntity {
			t.Fatalf("reload of a broken configuration answered %d, want 422", resp.StatusCode)
		}
		e.do(t, "open rules", chromedp.Navigate(e.url("/rules")), chromedp.WaitVisible(chromedp.CSS(".errors")))
		errs := get(t, e, "errors", chromedp.Text(chromedp.CSS(".errors")))
		if !strings.Contains(errs, "rules.yaml:17") || !strings.Contains(errs, `unknown sink "nowhere"`) {
			t.Errorf("the rules page shows the reload's errors as %q, want the line and the unknown sink", errs)
		}
		if page := get(t, e, "page", chromedp.Evaluate[string](`document.body.innerText`)); !strings.Contains(page, "failed-faxes") || !strings.Contains(page, "✗ refused") {
			t.Errorf("after a refused reload the rules page should show the running rules and the refusal:\n%s", page)
		}
	})

	if b, err := os.ReadFile(e.proc.log); err != nil || bytes.Contains(b, []byte(consoleToken)) {
		t.Errorf("the service log holds the admin token (or is unreadable: %v)", err)
	}
}

// switchboardTest runs `switchboard test` on body with the console
// test's configuration, as an operator would.
func (e *consoleEnv) switchboardTest(t *testing.T, body string) (string, error) {
	t.Helper()
	f := filepath.Join(t.TempDir(), "callback.body")
	writeFile(t, f, body)
	var out bytes.Buffer
	cmd := exec.Command(e.bin, "test", "--config", e.cfg, "--receiver", "fax", f)
	cmd.Stdout, cmd.Stderr = &out, io.Discard
	err := cmd.Run()
	return out.String(), err
}

// sameRun is a dry run's output without what differs between two runs
// of the same callback: the time it was accepted at, and the delivery id
// and signature made from that time.
func sameRun(s string) string {
	s = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z`).ReplaceAllString(s, "<time>")
	s = regexp.MustCompile(`Webhook-Timestamp: \d+`).ReplaceAllString(s, "Webhook-Timestamp: <time>")
	s = regexp.MustCompile(`Webhook-Id: msg_\w+`).ReplaceAllString(s, "Webhook-Id: <id>")
	s = regexp.MustCompile(`Webhook-Signature: v1,\S+`).ReplaceAllString(s, "Webhook-Signature: <signature>")
	return strings.TrimSpace(s)
}
