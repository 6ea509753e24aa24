package slack

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slacktest"

	"github.com/switchboard/switchboard/internal/config"
	"github.com/switchboard/switchboard/sinks"
	"github.com/switchboard/switchboard/sinks/sinkstest"
)

func testMessage(t *testing.T) *sinks.Message {
	return sinkstest.DefaultMessage(t, "testdata/failed-fax.event.json")
}

// webhookServer is an incoming-webhook endpoint at a secret-looking path
// that records the bodies it receives and answers with reply.
type webhookServer struct {
	*httptest.Server
	url string

	mu     sync.Mutex
	bodies [][]byte
	reply  func(w http.ResponseWriter)
}

const hookPath = "/services/T000SECRET/B000SECRET/XXXXsecretXXXXsecretXXXX"

func newWebhookServer(t *testing.T, reply func(w http.ResponseWriter)) *webhookServer {
	ws := &webhookServer{reply: reply}
	ws.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != hookPath {
			http.Error(w, "no_service", http.StatusNotFound)
			return
		}
		if ct := r.Header.Get("Content-Type"); ct != "application/json" {
			http.Error(w, "invalid_payload", http.StatusBadRequest)
			return
		}
		b, _ := io.ReadAll(r.Body)
		ws.mu.Lock()
		ws.bodies = append(ws.bodies, b)
		ws.mu.Unlock()
		if ws.reply == nil {
			io.WriteString(w, "ok")
			return
		}
		ws.reply(w)
	}))
	t.Cleanup(ws.Close)
	ws.url = ws.URL + hookPath
	return ws
}

func (ws *webhookServer) received() [][]byte {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	return append([][]byte(nil), ws.bodies...)
}

func newSink(t *testing.T, cfg Config) *Sink {
	t.Helper()
	s, err := New("ops-slack", cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestWebhookPayload(t *testing.T) {
	ws := newWebhookServer(t, nil)
	s := newSink(t, Config{WebhookURL: config.Secret(ws.url), Username: "switchboard", IconEmoji: ":fax:"})
	m := testMessage(t)
	if err := s.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	got := ws.received()
	if len(got) != 1 {
		t.Fatalf("received %d posts, want 1", len(got))
	}
	var p struct {
		Text      string           `json:"text"`
		Username  string           `json:"username"`
		IconEmoji string           `json:"icon_emoji"`
		Blocks    []map[string]any `json:"blocks"`
	}
	if err := json.Unmarshal(got[0], &p); err != nil {
		t.Fatalf("payload is not JSON: %v\n%s", err, got[0])
	}
	if !strings.Contains(p.Text, m.Text) || !strings.Contains(p.Text, "Fax to +1 212 555 1234 failed: busy") {
		t.Errorf("text = %q, want the title and %q", p.Text, m.Text)
	}
	if p.Username != "switchboard" || p.IconEmoji != ":fax:" {
		t.Errorf("username/icon = %q/%q", p.Username, p.IconEmoji)
	}
	var types []string
	for _, b := range p.Blocks {
		types = append(types, b["type"].(string))
	}
	if want := "header section section context"; strings.Join(types, " ") != want {
		t.Errorf("block types = %v, want %s", types, want)
	}
	// The blocks decode with slack-go's own types, as Slack would parse them.
	var blocks slack.Blocks
	raw, _ := json.Marshal(p.Blocks)
	if err := json.Unmarshal(raw, &blocks); err != nil || len(blocks.BlockSet) != 4 {
		t.Errorf("blocks do not decode: %v", err)
	}
}

func TestWebhookFailures(t *testing.T) {
	tests := []struct {
		name       string
		reply      func(w http.ResponseWriter)
		status     int
		permanent  bool
		retryAfter time.Duration
		contains   string
	}{
		{"rate limited", func(w http.ResponseWriter) {
			w.Header().Set("Retry-After", "2")
			http.Error(w, "rate_limited", http.StatusTooManyRequests)
		}, 429, false, 2 * time.Second, "rate_limited"},
		{"invalid token", func(w http.ResponseWriter) { http.Error(w, "invalid_token", http.StatusForbidden) }, 403, true, 0, "invalid_token"},
		{"channel not found", func(w http.ResponseWriter) { http.Error(w, "channel_not_found", http.StatusNotFound) }, 404, true, 0, "channel_not_found"},
		{"archived", func(w http.ResponseWriter) { http.Error(w, "channel_is_archived", http.StatusGone) }, 410, true, 0, "channel_is_archived"},
		{"server error", func(w http.ResponseWriter) { http.Error(w, "<html>oops</html>", http.StatusBadGateway) }, 502, false, 0, "502"},
		{"unavailable", func(w http.ResponseWriter) { w.WriteHeader(http.StatusServiceUnavailable) }, 503, false, 0, "503"},
		{"redirect not followed", func(w http.ResponseWriter) {
			w.Header().Set("Location", "/elsewhere")
			w.WriteHeader(http.StatusFound)
		}, 302, true, 0, "302"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ws := newWebhookServer(t, tc.reply)
			s := newSink(t, Config{WebhookURL: config.Secret(ws.url)})
			err := s.Send(context.Background(), testMessage(t))
			if err == nil {
				t.Fatal("Send succeeded")
			}
			status, permanent, retryAfter := sinks.Details(err)
			if status != tc.status || permanent != tc.permanent || retryAfter != tc.retryAfter {
				t.Errorf("Details = %d, permanent %v, retry after %v; want %d, %v, %v (%v)",
					status, permanent, retryAfter, tc.status, tc.permanent, tc.retryAfter, err)
			}
			if sinks.IsPermanent(err) != tc.permanent {
				t.Errorf("IsPermanent = %v", !tc.permanent)
			}
			if !strings.Contains(err.Error(), tc.contains) || !strings.HasPrefix(err.Error(), "slack: post to ops-slack: ") {
				t.Errorf("error %q, want the sink name and %q", err, tc.contains)
			}
			if n := len(ws.received()); n != 1 {
				t.Errorf("%d requests, want exactly one attempt", n)
			}
		})
	}
}

// TestWebhookRetryAfterThenDelivered plays the worker's part: the first
// attempt is rate limited, the retry after the hinted delay is delivered.
func TestWebhookRetryAfterThenDelivered(t *testing.T) {
	var mu sync.Mutex
	calls := 0
	ws := newWebhookServer(t, func(w http.ResponseWriter) {
		mu.Lock()
		defer mu.Unlock()
		calls++
		if calls == 1 {
			w.Header().Set("Retry-After", "2")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		io.WriteString(w, "ok")
	})
	s := newSink(t, Config{WebhookURL: config.Secret(ws.url)})
	m := testMessage(t)
	err := s.Send(context.Background(), m)
	if _, perm, ra := sinks.Details(err); err == nil || perm || ra != 2*time.Second {
		t.Fatalf("first attempt: %v (permanent %v, retry after %v)", err, perm, ra)
	}
	m.Attempt = 2
	if err := s.Send(context.Background(), m); err != nil {
		t.Fatalf("second attempt: %v", err)
	}
	if n := len(ws.received()); n != 2 {
		t.Errorf("%d posts, want 2", n)
	}
}

func TestWebhookHonoursContext(t *testing.T) {
	release := make(chan struct{})
	ws := newWebhookServer(t, func(w http.ResponseWriter) { <-release })
	defer close(release)
	s := newSink(t, Config{WebhookURL: config.Secret(ws.url)})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := s.Send(ctx, testMessage(t))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want deadline exceeded", err)
	}
	if sinks.IsPermanent(err) {
		t.Error("timeout marked permanent")
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("err %v is not a net.Error timeout", err)
	}
	if strings.Contains(err.Error(), "SECRET") {
		t.Errorf("error leaks the webhook URL: %v", err)
	}
}

// apiRecorder captures chat.postMessage requests on a slacktest server.
type apiRecorder struct {
	mu    sync.Mutex
	forms []url.Values
}

func (a *apiRecorder) record(r *http.Request) url.Values {
	_ = r.ParseForm()
	a.mu.Lock()
	a.forms = append(a.forms, r.PostForm)
	a.mu.Unlock()
	return r.PostForm
}

func startSlackTest(t *testing.T, handler http.HandlerFunc) *slacktest.Server {
	var binders []slacktest.Binder
	if handler != nil {
		binders = append(binders, func(c slacktest.Customize) { c.Handle("/chat.postMessage", handler) })
	}
	srv := slacktest.NewTestServer(binders...)
	srv.Start()
	t.Cleanup(srv.Stop)
	return srv
}

const testToken = "xoxb-1111-2222-SeCrEtToKeN"

// TestTokenWithSlackTest posts through slacktest's own chat.postMessage.
func TestTokenWithSlackTest(t *testing.T) {
	srv := startSlackTest(t, nil)
	s := newSink(t, Config{Token: testToken, Channel: "C0FAXES", APIURL: srv.GetAPIURL()})
	if err := s.Send(context.Background(), testMessage(t)); err != nil {
		t.Fatal(err)
	}
}

func TestTokenPayload(t *testing.T) {
	rec := &apiRecorder{}
	srv := startSlackTest(t, func(w http.ResponseWriter, r *http.Request) {
		rec.record(r)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"ok":true,"channel":"C0FAXES","ts":"1714644965.000100"}`)
	})
	s := newSink(t, Config{Token: testToken, Channel: "C0FAXES", APIURL: srv.GetAPIURL(), Username: "switchboard"})
	m := testMessage(t)
	if err := s.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	if len(rec.forms) != 1 {
		t.Fatalf("%d posts, want 1", len(rec.forms))
	}
	f := rec.forms[0]
	if f.Get("token") != testToken || f.Get("channel") != "C0FAXES" || f.Get("username") != "switchboard" {
		t.Errorf("token/channel/username = %q/%q/%q", f.Get("token"), f.Get("channel"), f.Get("username"))
	}
	if !strings.Contains(f.Get("text"), m.Text) {
		t.Errorf("text = %q", f.Get("text"))
	}
	var blocks slack.Blocks
	if err := json.Unmarshal([]byte(f.Get("blocks")), &blocks); err != nil || len(blocks.BlockSet) != 4 {
		t.Fatalf("blocks = %s (%v)", f.Get("blocks"), err)
	}
	if h, ok := blocks.BlockSet[0].(*slack.HeaderBlock); !ok || h.Text.Text != ":x: "+m.Title {
		t.Errorf("header = %+v", blocks.BlockSet[0])
	}
}

func TestTokenFailures(t *testing.T) {
	apiError := func(code string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"ok":false,"error":"`+code+`"}`)
		}
	}
	tests := []struct {
		name       string
		handler    http.HandlerFunc
		status     int
		permanent  bool
		retryAfter time.Duration
	}{
		{"invalid_token", apiError("invalid_token"), 200, true, 0},
		{"invalid_auth", apiError("invalid_auth"), 200, true, 0},
		{"channel_not_found", apiError("channel_not_found"), 200, true, 0},
		{"not_in_channel", apiError("not_in_channel"), 200, true, 0},
		{"account_inactive", apiError("account_inactive"), 200, true, 0},
		{"is_archived", apiError("is_archived"), 200, true, 0},
		{"msg_too_long", apiError("msg_too_long"), 200, true, 0},
		{"internal_error", apiError("internal_error"), 200, false, 0},
		{"unknown code", apiError("something_new"), 200, false, 0},
		{"rate limited", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "2")
			w.WriteHeader(http.StatusTooManyRequests)
		}, 429, false, 2 * time.Second},
		{"server error", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusInternalServerError) }, 500, false, 0},
		{"not json", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "<html>") }, 0, false, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := startSlackTest(t, tc.handler)
			s := newSink(t, Config{Token: testToken, Channel: "C0FAXES", APIURL: srv.GetAPIURL()})
			err := s.Send(context.Background(), testMessage(t))
			if err == nil {
				t.Fatal("Send succeeded")
			}
			status, permanent, retryAfter := sinks.Details(err)
			if status != tc.status || permanent != tc.permanent || retryAfter != tc.retryAfter {
				t.Errorf("Details = %d, permanent %v, retry after %v; want %d, %v, %v (%v)",
					status, permanent, retryAfter, tc.status, tc.permanent, tc.retryAfter, err)
			}
			if !strings.HasPrefix(err.Error(), "slack: post to ops-slack: ") {
				t.Errorf("error = %q", err)
			}
		})
	}
}

func TestRate(t *testing.T) {
	if r := newSink(t, Config{WebhookURL: "https://hooks.slack.com/services/x"}).Rate(); r != 1 {
		t.Errorf("default rate = %v, want 1", r)
	}
	if r := newSink(t, Config{WebhookURL: "https://hooks.slack.com/services/x", RateLimit: 0.5}).Rate(); r != 0.5 {
		t.Errorf("rate = %v, want 0.5", r)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string // substring of the error; "" for valid
	}{
		{"webhook", Config{WebhookURL: "https://hooks.slack.com/services/T/B/X"}, ""},
		{"token", Config{Token: "xoxb-1", Channel: "#ops"}, ""},
		{"loopback http", Config{WebhookURL: "http://127.0.0.1:8080/hook"}, ""},
		{"neither", Config{}, "one of webhook_url or token is required"},
		{"both", Config{WebhookURL: "https://hooks.slack.com/x", Token: "xoxb-1", Channel: "c"}, "mutually exclusive"},
		{"token without channel", Config{Token: "xoxb-1"}, "channel is required"},
		{"not a token", Config{Token: "https://hooks.slack.com/x", Channel: "c"}, "not a Slack token"},
		{"plain http", Config{WebhookURL: "http://hooks.example.com/SECRET"}, "must use https"},
		{"not a url", Config{WebhookURL: "::SECRET"}, "not a valid URL"},
		{"negative rate", Config{WebhookURL: "https://h/x", RateLimit: -1}, "rate_limit"},
		{"bad api url", Config{Token: "xoxb-1", Channel: "c", APIURL: "ftp://x"}, "api_url"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error = %v, want %q", err, tc.want)
			}
			if err != nil && strings.Contains(err.Error(), "SECRET") {
				t.Errorf("error leaks the URL: %v", err)
			}
		})
	}
}
