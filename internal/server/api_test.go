package server

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard/switchboard/internal/event"
	"github.com/switchboard/switchboard/internal/store"
	"github.com/switchboard/switchboard/receivers"
	"github.com/switchboard/switchboard/receivers/receivertest"
	"github.com/switchboard/switchboard/rules"
)

// counts records metric hook calls.
type counts struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *counts) inc(k string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[k]++
}

func (c *counts) get(k string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[k]
}

type apiEnv struct {
	hooks, admin *httptest.Server
	st           *store.Store
	counts       *counts
	notified     *[]string
}

// apiServer runs the callback and admin handlers on one store with two
// rules: "failures" to sinks a and b, "all" to sink c.
func apiServer(t *testing.T) *apiEnv {
	t.Helper()
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "sb.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f, err := rules.Parse("t.yaml", strings.NewReader(`
sinks: {a: {type: log}, b: {type: log}, c: {type: log}}
rules:
  - {name: failures, when: 'status == "failure"', to: [a, b]}
  - {name: all, when: 'true', to: [c]}
`), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	c := &counts{}
	m := Metrics{
		Callback:  func(receiver, outcome string, _ time.Duration) { c.inc("callback " + receiver + " " + outcome) },
		Event:     func(ev *event.Event) { c.inc("event " + ev.Status) },
		Match:     func(rule string) { c.inc("match " + rule) },
		RuleError: func(rule string) { c.inc("rule error " + rule) },
		Silenced: func(n int) {
			for range n {
				c.inc("silenced")
			}
		},
	}
	var notified []string
	s := New(st, slog.New(slog.DiscardHandler), func(s []string) { notified = append(notified, s...) }, m)
	s.Swap(&Routing{Receivers: map[string]receivers.Receiver{"t": receivertest.New(receivertest.Config{Token: "tok"})}, Router: f.Router, BodyLimit: 1024, Hash: "h"})
	env := &apiEnv{hooks: httptest.NewServer(s.Handler()), admin: httptest.NewServer(s.Admin()), st: st, counts: c, notified: &notified}
	t.Cleanup(env.hooks.Close)
	t.Cleanup(env.admin.Close)
	return env
}

func (e *apiEnv) callback(t *testing.T, subject, status string) {
	t.Helper()
	resp, body := post(t, e.hooks.URL+"/hooks/t?token=tok", `{"subject":"`+subject+`","status":"`+status+`"}`)
	if resp.StatusCode != 200 {
		t.Fatalf("callback: %d %s", resp.StatusCode, body)
	}
}

// kill makes every due delivery of sink dead, as a sink that is down would.
func (e *apiEnv) kill(t *testing.T, sink string) {
	t.Helper()
	ctx := context.Background()
	ds, err := e.st.Claim(ctx, sink, 100, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range ds {
		if err := e.st.Finish(ctx, store.Outcome{ID: d.ID, Lease: d.Lease, State: store.StateDead, Status: 500, Error: "status 500: boom", Started: time.Now(), Duration: 7 * time.Millisecond}); err != nil {
			t.Fatal(err)
		}
	}
}

func (e *apiEnv) do(t *testing.T, method, path string, out any) int {
	t.Helper()
	req, _ := http.NewRequest(method, e.admin.URL+path, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s %s: Content-Type %q", method, path, ct)
	}
	b, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, path, err, b)
		}
	}
	return resp.StatusCode
}

type listReply struct {
	Deliveries []store.Delivery `json:"deliveries"`
	Count      int              `json:"count"`
	Error      string           `json:"error"`
}

func TestAPIList(t *testing.T) {
	e := apiServer(t)
	e.callback(t, "664598111", "failure") // a, b, c
	e.callback(t, "777", "success")       // c
	e.kill(t, "b")
	for _, tc := range []struct {
		query string
		code  int
		want  int
	}{
		{"", 200, 4},
		{"?state=dead", 200, 1},
		{"?state=pending&sink=c", 200, 2},
		{"?subject=664598111", 200, 3},
		{"?rule=failures", 200, 2},
		{"?since=1h", 200, 4},
		{"?since=2000-01-01T00:00:00Z&limit=1", 200, 1},
		{"?since=yesterday", 400, 0},
		{"?limit=0", 400, 0},
		{"?limit=x", 400, 0},
	} {
		t.Run(tc.query, func(t *testing.T) {
			var r listReply
			if code := e.do(t, "GET", "/api/deliveries"+tc.query, &r); code != tc.code || r.Count != tc.want || len(r.Deliveries) != tc.want {
				t.Errorf("got %d with %d deliveries (%s), want %d with %d", code, len(r.Deliveries), r.Error, tc.code, tc.want)
			}
			if tc.code != 200 && r.Error == "" {
				t.Errorf("no error message")
			}
		})
	}
	var r listReply
	e.do(t, "GET", "/api/deliveries?state=dead", &r)
	if d := r.Deliveries[0]; d.Sink != "b" || d.Subject != "664598111" || d.LastError != "status 500: boom" || d.LastStatus != 500 {
		t.Errorf("dead delivery = %+v", d)
	}
}

func TestAPIGetAndRetry(t *testing.T) {
	e := apiServer(t)
	e.callback(t, "664598111", "failure")
	e.kill(t, "a")
	var r listReply
	e.do(t, "GET", "/api/deliveries?state=dead", &r)
	id := r.Deliveries[0].ID

	var detail struct {
		Delivery store.Delivery `json:"delivery"`
		Event    map[string]any `json:"event"`
		Attempts []AttemptView  `json:"attempts"`
	}
	if code := e.do(t, "GET", "/api/deliveries/"+id, &detail); code != 200 {
		t.Fatalf("get: %d", code)
	}
	if detail.Delivery.ID != id || detail.Event["subject"] != "664598111" || len(detail.Attempts) != 1 ||
		detail.Attempts[0].Status != 500 || detail.Attempts[0].DurationMS != 7 || detail.Attempts[0].Error == "" {
		t.Errorf("detail = %+v", detail)
	}
	var errReply map[string]string
	if code := e.do(t, "GET", "/api/deliveries/msg_nope", &errReply); code != 404 || errReply["error"] == "" {
		t.Errorf("unknown id: %d %v", code, errReply)
	}

	*e.notified = nil
	var retried map[string]int
	if code := e.do(t, "POST", "/api/deliveries/"+id+"/retry", &retried); code != 200 || retried["retried"] != 1 {
		t.Errorf("retry dead: %d %v", code, retried)
	}
	if len(*e.notified) != 1 || (*e.notified)[0] != "a" {
		t.Errorf("notified %v, want [a]", *e.notified)
	}
	if code := e.do(t, "POST", "/api/deliveries/"+id+"/retry", &errReply); code != 409 || !strings.Contains(errReply["error"], "pending") {
		t.Errorf("retry a pending delivery: %d %v", code, errReply)
	}
	if code := e.do(t, "POST", "/api/deliveries/msg_nope/retry", &errReply); code != 404 {
		t.Errorf("retry unknown: %d", code)
	}
	// The re-queued delivery keeps its id (the webhook-id) with a fresh budget.
	d, _, _ := e.st.Get(context.Background(), id)
	if d.State != store.StatePending || d.Attempts != 0 {
		t.Errorf("after retry: %+v", d)
	}
}

func TestAPIRetryDead(t *testing.T) {
	e := apiServer(t)
	e.callback(t, "s1", "failure")
	e.callback(t, "s2", "failure")
	e.kill(t, "a")
	e.kill(t, "b")
	var reply map[string]any
	if code := e.do(t, "POST", "/api/deliveries/retry?sink=a", &reply); code != 400 {
		t.Errorf("bulk retry without dead=1: %d", code)
	}
	if code := e.do(t, "POST", "/api/deliveries/retry?dead=1&sink=a&since=1h", &reply); code != 200 || reply["retried"] != float64(2) {
		t.Errorf("retry dead on a: %d %v", code, reply)
	}
	if code := e.do(t, "POST", "/api/deliveries/retry?dead=1&since=2099-01-01T00:00:00Z", &reply); code != 200 || reply["retried"] != float64(0) {
		t.Errorf("retry dead since the future: %d %v", code, reply)
	}
	if code := e.do(t, "POST", "/api/deliveries/retry?dead=true", &reply); code != 200 || reply["retried"] != float64(2) {
		t.Errorf("retry all dead: %d %v", code, reply)
	}
	if code := e.do(t, "GET", "/api/deliveries/retry", nil); code != 404 {
		t.Errorf("GET of the bulk retry path: %d, want 404 (no such delivery)", code)
	}
}

// The store being down is a 503 with no detail, not a hang or a 500 with
// the driver's text.
func TestAPIStoreDown(t *testing.T) {
	e := apiServer(t)
	e.st.Close()
	var reply map[string]string
	if code := e.do(t, "POST", "/api/deliveries/retry?dead=1", &reply); code != 503 || reply["error"] != "store unavailable, retry later" {
		t.Errorf("store down: %d %v", code, reply)
	}
}

// Intake hooks count each callback once, and each stored event's matches
// once; a duplicate counts as a callback only.
func TestIntakeMetrics(t *testing.T) {
	e := apiServer(t)
	e.callback(t, "s1", "failure")
	e.callback(t, "s1", "failure") // duplicate
	e.callback(t, "s2", "success")
	post(t, e.hooks.URL+"/hooks/t?token=bad", `{}`)
	post(t, e.hooks.URL+"/hooks/t?token=tok", `{"subject":`)
	for k, want := range map[string]int{
		"callback t accepted":     2,
		"callback t duplicate":    1,
		"callback t unauthorized": 1,
		"callback t malformed":    1,
		"event failure":           1,
		"event success":           1,
		"match failures":          1,
		"match all":               2,
	} {
		if got := e.counts.get(k); got != want {
			t.Errorf("%s = %d, want %d", k, got, want)
		}
	}
}

func TestRequireToken(t *testing.T) {
	token := "s3cr3t-admin"
	h := RequireToken(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(299) }), func() string { return token })
	for _, tc := range []struct {
		path, auth string
		code       int
	}{
		{"/healthz", "", 299},
		{"/readyz", "", 299},
		{"/metrics", "", 401},
		{"/api/deliveries", "", 401},
		{"/api/deliveries", "Bearer s3cr3t-admin", 299},
		{"/api/deliveries", "Bearer s3cr3t-admiN", 401},
		{"/api/deliveries", "Bearer s3cr3t-admin-and-more", 401},
		{"/api/deliveries", "Basic czNjcjN0LWFkbWlu", 401},
		{"/-/reload", "s3cr3t-admin", 401},
		{"/healthz/../metrics", "", 401},
	} {
		req := httptest.NewRequest(http.MethodGet, tc.path, nil)
		if tc.auth != "" {
			req.Header.Set("Authorization", tc.auth)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != tc.code {
			t.Errorf("%s with %q: %d, want %d", tc.path, tc.auth, rec.Code, tc.code)
		}
		if rec.Code == 401 && (rec.Header().Get("WWW-Authenticate") == "" || strings.Contains(rec.Body.String(), token)) {
			t.Errorf("401 reply: %v %s", rec.Header(), rec.Body)
		}
	}
	token = "" // no token configured: open
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/deliveries", nil))
	if rec.Code != 299 {
		t.Errorf("without a token: %d", rec.Code)
	}
}
