package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/switchboard/switchboard/internal/testutil"
)

// updateScreenshots writes the console's screenshots into docs/ (the
// README shows them); without it they go to a temporary directory, so a
// test run leaves the tree as it was.
var updateScreenshots = flag.Bool("screenshots", false, "write the console tests' screenshots into docs/")

// consoleToken is the admin token of the console tests' configuration.
const consoleToken = "console-test-admin-token-5f3a9c"

// consoleEnv is a running switchboard with a store holding delivered,
// pending and dead deliveries, and a browser.
type consoleEnv struct {
	bin, cfg, admin, hooks string
	proc                   *process
	shots                  string // where screenshots go
	refuse                 atomic.Bool
	received               chan string // webhook-id of every request the hook sink answered 200
	browser                context.Context
}

// chromium finds Debian's Chromium: the tests skip without it, and fail
// under CI=true, where .ci/run installs it.
func chromium(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"/usr/bin/chromium", "chromium"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium is not installed; the console's browser tests need it under CI (apt-get install -y chromium)")
	}
	t.Skip("chromium is not installed: `apt-get install -y chromium` (as root) to run the console's browser tests")
	return ""
}

// newConsoleEnv starts serve with three sinks: hook (a webhook that
// refuses with 400 until told otherwise: dead after one attempt), slack (an
// incoming webhook that accepts: delivered) and slow (a webhook that
// answers 503, retried in an hour: pending). Then it posts the callbacks
// of two faxes.
func newConsoleEnv(t *testing.T) *consoleEnv {
	browserPath := chromium(t)
	e := &consoleEnv{received: make(chan string, 64), shots: t.TempDir()}
	if *updateScreenshots {
		e.shots = filepath.Join("..", "..", "docs")
	}
	e.refuse.Store(true)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if e.refuse.Load() {
			http.Error(w, "not accepting yet", http.StatusBadRequest)
			return
		}
		e.received <- r.Header.Get("webhook-id")
	}))
	t.Cleanup(hook.Close)
	slack := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		fmt.Fprint(w, "ok")
	}))
	t.Cleanup(slack.Close)
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "try later", http.StatusServiceUnavailable)
	}))
	t.Cleanup(slow.Close)

	dir := t.TempDir()
	e.bin = buildBinary(t)
	e.hooks, e.admin = freeAddr(t), freeAddr(t)
	e.cfg = filepath.Join(dir, "rules.yaml")
	writeFile(t, e.cfg, fmt.Sprintf(`listen: %s
admin: %s
admin_token: %s
store: %s
receivers:
  fax: {type: interfax, unauthenticated: true}
sinks:
  hook: {type: webhook, url: "%s/status", secret: "whsec_c2VjcmV0LXNpZ25pbmcta2V5LWZvci10ZXN0cw==", retry: {max_attempts: 1}}
  ops-slack: {type: slack, webhook_url: "%s/services/T0/B0/x", rate_limit: 5}
  slow: {type: webhook, url: "%s/slow", retry: {initial_backoff: 1h, max_backoff: 1h}}
rules:
  - name: every-fax
    when: source == "interfax"
    to: [hook]
  - name: failed-faxes
    when: status == "failure"
    to: [ops-slack]
    title: 'Fax to {{ .data.DestinationFax }} failed'
  - name: other-faxes
    when: subject != "664598111"
    to: [slow]
`, e.hooks, e.admin, consoleToken, filepath.Join(dir, "sb.db"), hook.URL, slack.URL, slow.URL))
	e.proc = startProcess(t, e.bin, e.cfg, filepath.Join(dir, "serve.log"))
	e.proc.waitReady(t, e.admin, 15*time.Second)

	// Fax 664598111: pre-processing, then busy; its CSID is markup.
	e.callback(t, "TransactionID=664598111&Status=-1&DestinationFax=0012125551234&RemoteCSID="+url.QueryEscape(`<script>window.pwned=1</script>`))
	e.callback(t, "TransactionID=664598111&Status=263&DestinationFax=0012125551234&TrialsPerformed=4")
	e.callback(t, "TransactionID=700000001&Status=0&DestinationFax=0012125559876")
	// Every delivery has had its first attempt: hook ×3 dead, slack
	// delivered, slow pending (attempted once).
	settled := testutil.WaitFor(20*time.Second, func() bool {
		return e.count(t, "dead") == 3 && e.count(t, "delivered") == 1 && e.attempted(t, "pending") == 1
	})
	if !settled {
		t.Fatalf("deliveries did not settle: dead %d, delivered %d\n%s", e.count(t, "dead"), e.count(t, "delivered"), e.proc.logTail())
	}

	ctx, cancel := chromedp.NewExecAllocator(context.Background(), append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(browserPath), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.WindowSize(1280, 900))...)
	t.Cleanup(cancel)
	bctx, bcancel := chromedp.NewContext(ctx)
	t.Cleanup(bcancel)
	if err := chromedp.Do(bctx); err != nil { // starts the browser
		t.Fatalf("start chromium: %v", err)
	}
	// One deadline for everything the browser does afterwards: a page that
	// never shows what a test waits for fails the test instead of hanging.
	e.browser, cancel = context.WithTimeout(bctx, 3*time.Minute)
	t.Cleanup(cancel)
	return e
}

// callback posts an InterFAX form callback.
func (e *consoleEnv) callback(t *testing.T, form string) {
	t.Helper()
	resp, err := http.Post("http://"+e.hooks+"/hooks/fax", "application/x-www-form-urlencoded", strings.NewReader(form))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("callback %q: %d", form, resp.StatusCode)
	}
}

// request makes an admin request with the bearer token (and a form body
// unless ""), and answers the response with its body read.
func (e *consoleEnv) request(t *testing.T, method, path, form string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(method, e.url(path), strings.NewReader(form))
	req.Header.Set("Authorization", "Bearer "+consoleToken)
	if form != "" {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body bytes.Buffer
	_, _ = body.ReadFrom(resp.Body)
	resp.Body = io.NopCloser(&body)
	return resp
}

// api GETs the admin API with the token and decodes the reply.
func (e *consoleEnv) api(t *testing.T, path string, v any) {
	t.Helper()
	if err := json.NewDecoder(e.request(t, http.MethodGet, path, "").Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
}

type apiDelivery struct {
	ID, State, Sink, Subject string
	Attempts                 int
}

func (e *consoleEnv) list(t *testing.T, query string) []apiDelivery {
	t.Helper()
	var out struct{ Deliveries []apiDelivery }
	e.api(t, "/api/deliveries?"+query, &out)
	return out.Deliveries
}

func (e *consoleEnv) count(t *testing.T, state string) int { return len(e.list(t, "state="+state)) }

// attempted counts the deliveries in state with at least one attempt.
func (e *consoleEnv) attempted(t *testing.T, state string) int {
	n := 0
	for _, d := range e.list(t, "state="+state) {
		if d.Attempts > 0 {
			n++
		}
	}
	return n
}

// url is a console page's address.
func (e *consoleEnv) url(path string) string { return "http://" + e.admin + path }

// shot saves a screenshot of the whole page as docs/console-<name>.png.
func (e *consoleEnv) shot(t *testing.T, name string) {
	t.Helper()
	png, err := chromedp.Run(e.browser, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(e.shots, "console-"+name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// do runs browser actions, failing the test with what was being done.
func (e *consoleEnv) do(t *testing.T, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(e.browser, actions...); err != nil {
		t.Fatalf("%s: %v\n%s", what, err, e.proc.logTail())
	}
}

// get runs one browser action that returns a value.
func get[T any](t *testing.T, e *consoleEnv, what string, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(e.browser, a)
	if err != nil {
		t.Fatalf("%s: %v\n%s", what, err, e.proc.logTail())
	}
	return v
}
