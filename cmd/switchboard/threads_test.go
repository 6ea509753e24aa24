package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard/switchboard/internal/testutil"
)

// check refuses a Slack sink's thread key that does not compile, or is not
// text, and thread on an incoming webhook, each with its line.
func TestCheckThread(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rules.yaml")
	writeFile(t, path, `listen: 127.0.0.1:0
sinks:
  fax-alerts:
    type: slack
    token: xoxb-1111-SeCrEt
    channel: C0FAXES
    thread: subjekt
  by-data:
    type: slack
    token: xoxb-1111-SeCrEt
    channel: C0FAXES
    thread: data
  hook:
    type: slack
    webhook_url: https://hooks.slack.com/services/T/B/SeCrEt
    thread: subject
rules:
  - {name: a, when: "true", to: [fax-alerts, by-data, hook]}
`)
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"check", "--config", path}, &stdout, &stderr)
	var ee exitError
	if !errors.As(err, &ee) {
		t.Fatalf("run: %v, want exit 1\n%s", err, stderr.String())
	}
	out := stderr.String()
	if got := errorLines(out); !slices.Equal(got, []int{7, 12, 16}) {
		t.Errorf("error lines %v, want 7, 12, 16\n%s", got, out)
	}
	for _, want := range []string{
		`rules.yaml:7: sink "fax-alerts": thread: unknown name subjekt`,
		`rules.yaml:12: sink "by-data": thread: must be a string, number or bool, not map`,
		`rules.yaml:16: sink "hook": thread: an incoming webhook cannot thread`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "SeCrEt") {
		t.Errorf("output shows a secret:\n%s", out)
	}
}

// slackAPI is a local stand-in for Slack's Web API: chat.postMessage (a
// channel name is answered with its ID) and chat.update (the ID only). Its
// first thread reply is answered 429 with Retry-After: 1.
type slackAPI struct {
	mu      sync.Mutex
	calls   []url.Values // with "method" added
	ts      int
	limited bool
}

func (s *slackAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil || r.PostForm.Get("token") != slackToken {
		io.WriteString(w, `{"ok":false,"error":"invalid_auth"}`)
		return
	}
	f := r.PostForm
	f.Set("method", strings.TrimPrefix(r.URL.Path, "/api/"))
	s.mu.Lock()
	defer s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	ch := f.Get("channel")
	switch {
	case f.Get("method") == "chat.postMessage" && (ch == "#fax-alerts" || ch == "C0FAXES"):
		if f.Get("thread_ts") != "" && !s.limited {
			s.limited = true
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		s.calls = append(s.calls, f)
		s.ts++
		f.Set("answered_ts", fmt.Sprintf("1700000000.%06d", s.ts))
		fmt.Fprintf(w, `{"ok":true,"channel":"C0FAXES","ts":%q}`, f.Get("answered_ts"))
	case f.Get("method") == "chat.update" && ch == "C0FAXES":
		s.calls = append(s.calls, f)
		fmt.Fprintf(w, `{"ok":true,"channel":"C0FAXES","ts":%q}`, f.Get("ts"))
	default:
		io.WriteString(w, `{"ok":false,"error":"channel_not_found"}`)
	}
}

func (s *slackAPI) snapshot() []url.Values {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
}

const slackToken = "xoxb-1111-2222-ThReAdSeCrEt"

// faxCallback is an InterFAX outbound callback for fax 664598111.
func faxCallback(status, tries int) string {
	return fmt.Sprintf("TransactionIDType=Outbound&TransactionID=664598111&DestinationFax=0012125551234"+
		"&Status=%d&PagesSent=0&PagesSubmitted=2&TrialsPerformed=%d&CompletionTime=23%%2F06%%2F2024+17%%3A2%d%%3A13", status, tries, tries)
}

// TestProcessSlackThread runs the real binary against a local Slack Web API:
// three callbacks for one fax (in progress, retrying, delivered) make one
// message in the channel with the next two as replies in its thread, in
// order (the first reply is rate limited, and the last waits for it), and
// the first message edited to the final status. The process that posted
// the first message is killed with SIGKILL: the thread's anchor is in the
// store, so there is still one first message. On SQLite the process is
// started again on the same file; on Postgres a second instance takes the
// next callback while the killed one is restarted for the last, so the
// thread's messages are claimed by two instances.
func TestProcessSlackThread(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary; skipped with -short")
	}
	bin := buildBinary(t)
	t.Run("sqlite", func(t *testing.T) {
		testProcessSlackThread(t, bin, filepath.Join(t.TempDir(), "sb.db"), false)
	})
	t.Run("postgres", func(t *testing.T) {
		dsn, _ := testPostgresSchema(t)
		testProcessSlackThread(t, bin, dsn, true)
	})
}

// slackInstance is one serve process of the thread test.
type slackInstance struct {
	cfg, listen, admin string
	p                  *process
}

func testProcessSlackThread(t *testing.T, bin, storeDSN string, twoInstances bool) {
	dir := t.TempDir()
	api := &slackAPI{}
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)

	newInstance := func(name string) *slackInstance {
		in := &slackInstance{cfg: filepath.Join(dir, name+".yaml"), listen: freeAddr(t), admin: freeAddr(t)}
		writeFile(t, in.cfg, fmt.Sprintf(`listen: %s
admin: %s
store: %q
receivers:
  interfax: {type: interfax, unauthenticated: true}
sinks:
  fax-alerts:
    type: slack
    token: %s
    channel: "#fax-alerts"
    api_url: %s/api/
    thread: subject
    update_parent: true
    broadcast: true
    rate_limit: 20
    timeout: 2s
    lease_margin: 1s
    retry: {initial_backoff: 100ms, max_backoff: 1s}
rules:
  - name: fax-status
    when: type == "fax.outbound"
    to: [fax-alerts]
    title: 'Fax to {{ phone .data.DestinationFax }} — {{ if eq .status "success" }}✅ delivered{{ else }}⏳ {{ .description }}{{ end }} after {{ .data.TrialsPerformed }} tries'
`, in.listen, in.admin, storeDSN, slackToken, srv.URL))
		return in
	}
	runs := 0
	run := func(in *slackInstance) {
		runs++
		in.p = startProcess(t, bin, in.cfg, filepath.Join(dir, fmt.Sprintf("run%d.log", runs)))
		in.p.waitReady(t, in.admin, 15*time.Second)
	}
	post := func(in *slackInstance, body string) {
		t.Helper()
		resp, err := http.Post("http://"+in.listen+"/hooks/interfax", "application/x-www-form-urlencoded", strings.NewReader(body))
		if err != nil {
			t.Fatalf("callback: %v\n%s", err, in.p.logTail())
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("callback answered %d\n%s", resp.StatusCode, in.p.logTail())
		}
	}
	delivered := func(in *slackInstance, n int) {
		t.Helper()
		ok := testutil.WaitFor(30*time.Second, func() bool {
			in.p.mustRun(t, "switchboard exited")
			resp, err := http.Get("http://" + in.admin + "/api/deliveries?state=delivered")
			if err != nil {
				return false
			}
			defer resp.Body.Close()
			var list struct{ Count int }
			return json.NewDecoder(resp.Body).Decode(&list) == nil && list.Count == n
		})
		if !ok {
			t.Fatalf("%d deliveries not delivered in time\n%s", n, in.p.logTail())
		}
	}

	a := newInstance("a")
	run(a)
	post(a, faxCallback(-2, 0)) // ready to send
	delivered(a, 1)
	if err := a.p.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	a.p.wait(t, 10*time.Second)
	logs := []*process{a.p}

	b := a
	if twoInstances {
		b = newInstance("b")
	}
	run(b)
	logs = append(logs, b.p)
	post(b, faxCallback(-3, 1)) // sending or pending retry
	if twoInstances {
		run(a) // the killed instance is back, and takes the last callback
		logs = append(logs, a.p)
	}
	post(a, faxCallback(0, 2)) // delivered
	delivered(b, 3)

	calls := api.snapshot()
	var parents, replies []url.Values
	var updates []string
	for _, c := range calls {
		switch {
		case c.Get("method") == "chat.update":
			updates = append(updates, c.Get("text"))
		case c.Get("thread_ts") == "":
			parents = append(parents, c)
		default:
			replies = append(replies, c)
		}
	}
	if len(parents) != 1 {
		t.Fatalf("%d messages posted to the channel, want 1 (one thread per fax)", len(parents))
	}
	parent := parents[0]
	if !strings.Contains(parent.Get("text"), "ready to send after 0 tries") {
		t.Errorf("first message = %q", parent.Get("text"))
	}
	if len(replies) != 2 {
		t.Fatalf("%d replies, want 2", len(replies))
	}
	for i, want := range []string{"sending or pending retry after 1 tries", "✅ delivered after 2 tries"} {
		r := replies[i]
		if r.Get("thread_ts") != parent.Get("answered_ts") || r.Get("channel") != "C0FAXES" {
			t.Errorf("reply %d: channel %s thread_ts %s, want C0FAXES and the first message's ts %s", i+1, r.Get("channel"), r.Get("thread_ts"), parent.Get("answered_ts"))
		}
		if !strings.Contains(r.Get("text"), want) {
			t.Errorf("reply %d = %q, want %q (in order)", i+1, r.Get("text"), want)
		}
		if r.Get("reply_broadcast") != "" {
			t.Errorf("reply %d broadcast, but it is no failure", i+1)
		}
	}
	if len(updates) == 0 || !strings.HasPrefix(updates[len(updates)-1], "Fax to +1 212 555 1234 — ✅ delivered after 2 tries") {
		t.Errorf("first message edits = %q, want the last to show the final status", updates)
	}
	for _, p := range logs {
		if strings.Contains(p.logTail(), "ThReAdSeCrEt") {
			t.Errorf("the log shows the bot token")
		}
	}
}

// switchboard test shows each message's thread key.
func TestTestShowsThread(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rules.yaml")
	writeFile(t, path, `receivers:
  interfax: {type: interfax, unauthenticated: true}
sinks:
  fax-alerts: {type: slack, token: xoxb-1-SeCrEt, channel: C0FAXES, thread: 'source + "/" + subject'}
rules:
  - {name: fax-status, when: 'type == "fax.outbound"', to: [fax-alerts]}
`)
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"test", "--config", path, "--receiver", "interfax",
		filepath.Join("..", "..", "testdata", "examples", "interfax-fax-delivered.form")}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, stderr.String())
	}
	if want := `thread: key "interfax/664598111"`; !strings.Contains(stdout.String(), want) {
		t.Errorf("output lacks %q:\n%s", want, stdout.String())
	}
}
