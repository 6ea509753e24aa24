package slack

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard/switchboard/internal/config"
	"github.com/switchboard/switchboard/internal/event"
	"github.com/switchboard/switchboard/sinks"
)

// webAPI stands in for Slack's Web API: chat.postMessage and chat.update,
// form-encoded as Slack documents them (token, channel, text, blocks,
// thread_ts, reply_broadcast; chat.update: channel ID and ts). A channel
// name is answered with its ID, as Slack does, and chat.update refuses a
// name. It records every call; answer, if set, may answer a call itself.
type webAPI struct {
	*httptest.Server
	mu       sync.Mutex
	calls    []apiCall
	next     int             // ts sequence
	messages map[string]bool // ts of the messages that exist
	answer   func(c apiCall, w http.ResponseWriter) bool
}

type apiCall struct {
	method string // "chat.postMessage" or "chat.update"
	form   url.Values
}

func (c apiCall) String() string {
	s := c.method + " " + c.form.Get("channel")
	for _, k := range []string{"ts", "thread_ts", "reply_broadcast"} {
		if v := c.form.Get(k); v != "" {
			s += " " + k + "=" + v
		}
	}
	return s
}

const channelID = "C0FAXES"

func newWebAPI(t *testing.T) *webAPI {
	a := &webAPI{messages: map[string]bool{}}
	a.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil || r.PostForm.Get("token") != testToken {
			io.WriteString(w, `{"ok":false,"error":"invalid_auth"}`)
			return
		}
		c := apiCall{method: strings.TrimPrefix(r.URL.Path, "/"), form: r.PostForm}
		a.mu.Lock()
		defer a.mu.Unlock()
		a.calls = append(a.calls, c)
		w.Header().Set("Content-Type", "application/json")
		if a.answer != nil && a.answer(c, w) {
			return
		}
		ch := c.form.Get("channel")
		switch {
		case c.method == "chat.postMessage" && (ch == "#fax-alerts" || ch == channelID):
			if ts := c.form.Get("thread_ts"); ts != "" && !a.messages[ts] {
				io.WriteString(w, `{"ok":false,"error":"thread_not_found"}`)
				return
			}
			a.next++
			ts := fmt.Sprintf("1700000000.%06d", a.next)
			a.messages[ts] = true
			fmt.Fprintf(w, `{"ok":true,"channel":%q,"ts":%q}`, channelID, ts)
		case c.method == "chat.update" && ch == channelID:
			if !a.messages[c.form.Get("ts")] {
				io.WriteString(w, `{"ok":false,"error":"message_not_found"}`)
				return
			}
			fmt.Fprintf(w, `{"ok":true,"channel":%q,"ts":%q,"text":"x"}`, channelID, c.form.Get("ts"))
		default:
			io.WriteString(w, `{"ok":false,"error":"channel_not_found"}`)
		}
	}))
	t.Cleanup(a.Close)
	return a
}

// took returns the calls made since the last took, as strings.
func (a *webAPI) took() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []string
	for _, c := range a.calls {
		out = append(out, c.String())
	}
	a.calls = nil
	return out
}

func threadedSink(t *testing.T, api *webAPI, cfg Config) (*Sink, *memThreads) {
	t.Helper()
	cfg.Token, cfg.Channel, cfg.APIURL = testToken, "#fax-alerts", api.URL
	if cfg.Thread == "" {
		cfg.Thread = "subject"
	}
	s, err := New("fax-alerts", cfg)
	if err != nil {
		t.Fatal(err)
	}
	th := &memThreads{}
	s.SetThreads(th)
	return s, th
}

// startedThread is a threaded sink that has posted the first message of
// fax 662738456's thread (msg_1), with the calls so far taken.
func startedThread(t *testing.T, cfg Config) (*webAPI, *Sink, *memThreads) {
	api := newWebAPI(t)
	s, th := threadedSink(t, api, cfg)
	send(t, s, faxMessage(t, 1, event.StatusPending, false))
	api.took()
	return api, s, th
}

// faxMessage is the n-th message about one fax: status, final.
func faxMessage(t *testing.T, n int, status string, final bool) *sinks.Message {
	m := testMessage(t)
	ev := *m.Event
	ev.Status, ev.Final = status, final
	m.Event = &ev
	m.DeliveryID = fmt.Sprintf("msg_%d", n)
	m.Title = fmt.Sprintf("message %d: %s", n, status)
	m.Thread = ev.Subject
	return m
}

func send(t *testing.T, s *Sink, m *sinks.Message) {
	t.Helper()
	if err := s.Send(context.Background(), m); err != nil {
		t.Fatalf("send %s: %v", m.DeliveryID, err)
	}
}

func expectCalls(t *testing.T, api *webAPI, want ...string) {
	t.Helper()
	if got := api.took(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("calls:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

// One parent for the fax, its later statuses in the thread in order, the
// parent edited to the latest, the final failure broadcast.
func TestThreadParentRepliesUpdate(t *testing.T) {
	api := newWebAPI(t)
	s, th := threadedSink(t, api, Config{UpdateParent: true, Broadcast: true})
	send(t, s, faxMessage(t, 1, event.StatusPending, false))
	expectCalls(t, api, "chat.postMessage #fax-alerts")
	if a := th.get("662738456"); a.Channel != channelID || a.TS != "1700000000.000001" {
		t.Fatalf("anchor = %+v, want the channel ID and ts Slack answered", a)
	}
	send(t, s, faxMessage(t, 2, event.StatusFailure, false))
	send(t, s, faxMessage(t, 3, event.StatusFailure, true))
	expectCalls(t, api,
		"chat.update C0FAXES ts=1700000000.000001",
		"chat.postMessage C0FAXES thread_ts=1700000000.000001",
		"chat.update C0FAXES ts=1700000000.000001",
		"chat.postMessage C0FAXES thread_ts=1700000000.000001 reply_broadcast=true")
	if r := s.Rate(); r != 0.5 {
		t.Errorf("rate = %v, want half of 1/s: a message costs two calls", r)
	}
}

// The parent edit carries the latest message, as blocks and fallback text.
func TestThreadUpdateContent(t *testing.T) {
	api, s, _ := startedThread(t, Config{UpdateParent: true})
	var update url.Values
	api.answer = func(c apiCall, w http.ResponseWriter) bool {
		if c.method == "chat.update" {
			update = c.form
		}
		return false
	}
	m := faxMessage(t, 2, event.StatusSuccess, true)
	m.Title = "Fax to +1 212 555 1234 — ✅ delivered after 2 tries"
	send(t, s, m)
	if !strings.HasPrefix(update.Get("text"), m.Title) {
		t.Errorf("update text = %q, want the latest title", update.Get("text"))
	}
	var blocks []map[string]any
	if err := json.Unmarshal([]byte(update.Get("blocks")), &blocks); err != nil || len(blocks) == 0 {
		t.Fatalf("update blocks = %s (%v)", update.Get("blocks"), err)
	}
	if h, _ := json.Marshal(blocks[0]); !strings.Contains(string(h), "delivered after 2 tries") {
		t.Errorf("header = %s", h)
	}
}

// Without update_parent and broadcast, replies only.
func TestThreadRepliesOnly(t *testing.T) {
	api := newWebAPI(t)
	s, _ := threadedSink(t, api, Config{})
	for i, st := range []string{event.StatusPending, event.StatusFailure} {
		send(t, s, faxMessage(t, i+1, st, i == 1))
	}
	other := faxMessage(t, 3, event.StatusPending, false)
	other.Thread = "another-fax"
	send(t, s, other)
	expectCalls(t, api, "chat.postMessage #fax-alerts", "chat.postMessage C0FAXES thread_ts=1700000000.000001",
		"chat.postMessage #fax-alerts")
	if r := s.Rate(); r != 1 {
		t.Errorf("rate = %v, want 1", r)
	}
}

// A 429 mid-thread is retried after Slack's Retry-After, into the same
// thread, and the parent is not posted again.
func TestThreadRateLimitedMidThread(t *testing.T) {
	api, s, _ := startedThread(t, Config{UpdateParent: true})
	limited := true
	api.answer = func(c apiCall, w http.ResponseWriter) bool {
		if c.method == "chat.postMessage" && limited {
			limited = false
			w.Header().Set("Retry-After", "7")
			w.WriteHeader(http.StatusTooManyRequests)
			return true
		}
		return false
	}
	m := faxMessage(t, 2, event.StatusFailure, false)
	err := s.Send(context.Background(), m)
	if status, perm, ra := sinks.Details(err); err == nil || status != 429 || perm || ra != 7*time.Second {
		t.Fatalf("rate-limited reply: %v (status %d, permanent %v, retry after %v)", err, status, perm, ra)
	}
	m.Attempt = 2
	send(t, s, m)
	expectCalls(t, api,
		"chat.update C0FAXES ts=1700000000.000001", "chat.postMessage C0FAXES thread_ts=1700000000.000001",
		"chat.update C0FAXES ts=1700000000.000001", "chat.postMessage C0FAXES thread_ts=1700000000.000001")
}

// A parent deleted in Slack: the message starts a new thread, later ones
// follow it; no endless retry.
func TestThreadParentDeleted(t *testing.T) {
	for _, tc := range []struct {
		name   string
		update bool
		want   []string
	}{
		{"update answers message_not_found", true, []string{"chat.update C0FAXES ts=1700000000.000001", "chat.postMessage #fax-alerts",
			"chat.update C0FAXES ts=1700000000.000002", "chat.postMessage C0FAXES thread_ts=1700000000.000002"}},
		{"reply answers thread_not_found", false, []string{"chat.postMessage C0FAXES thread_ts=1700000000.000001", "chat.postMessage #fax-alerts",
			"chat.postMessage C0FAXES thread_ts=1700000000.000002"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			api, s, th := startedThread(t, Config{UpdateParent: tc.update})
			api.mu.Lock()
			delete(api.messages, "1700000000.000001")
			api.mu.Unlock()
			send(t, s, faxMessage(t, 2, event.StatusFailure, false))
			if a := th.get("662738456"); a.TS != "1700000000.000002" || a.LastDelivery != "msg_2" {
				t.Errorf("anchor = %+v, want the new first message", a)
			}
			send(t, s, faxMessage(t, 3, event.StatusFailure, true))
			expectCalls(t, api, tc.want...)
		})
	}
}

// cant_update_message also starts a new thread; edit_window_closed only
// skips the edit.
func TestThreadUpdateRefused(t *testing.T) {
	for code, want := range map[string][]string{
		"cant_update_message": {"chat.update C0FAXES ts=1700000000.000001", "chat.postMessage #fax-alerts"},
		"edit_window_closed":  {"chat.update C0FAXES ts=1700000000.000001", "chat.postMessage C0FAXES thread_ts=1700000000.000001"},
	} {
		t.Run(code, func(t *testing.T) {
			api, s, _ := startedThread(t, Config{UpdateParent: true})
			api.answer = func(c apiCall, w http.ResponseWriter) bool {
				if c.method != "chat.update" {
					return false
				}
				fmt.Fprintf(w, `{"ok":false,"error":%q}`, code)
				return true
			}
			send(t, s, faxMessage(t, 2, event.StatusFailure, false))
			expectCalls(t, api, want...)
		})
	}
}

// A first message whose post failed is posted by the retry, once; one
// whose post succeeded but whose outcome was lost is not posted again.
func TestThreadFirstMessageRetries(t *testing.T) {
	api := newWebAPI(t)
	s, th := threadedSink(t, api, Config{})
	failing := true
	api.answer = func(c apiCall, w http.ResponseWriter) bool {
		if failing {
			failing = false
			w.WriteHeader(http.StatusInternalServerError)
			return true
		}
		return false
	}
	m := faxMessage(t, 1, event.StatusPending, false)
	if err := s.Send(context.Background(), m); err == nil || sinks.IsPermanent(err) {
		t.Fatalf("first attempt: %v, want a retryable error", err)
	}
	if a := th.get("662738456"); a != (Anchor{}) {
		t.Errorf("anchor after a failed post = %+v, want none", a)
	}
	send(t, s, m) // the retry
	send(t, s, m) // again, as after a crash before its outcome was recorded
	expectCalls(t, api, "chat.postMessage #fax-alerts", "chat.postMessage #fax-alerts")
	r := faxMessage(t, 2, event.StatusFailure, false)
	send(t, s, r)
	send(t, s, r) // a reply whose outcome was lost is not repeated either
	expectCalls(t, api, "chat.postMessage C0FAXES thread_ts=1700000000.000001")
}

// A message with no thread key (its key failed on the event) is posted to
// the channel, as is every message of a sink without thread.
func TestThreadNoKey(t *testing.T) {
	api := newWebAPI(t)
	s, th := threadedSink(t, api, Config{})
	m := faxMessage(t, 1, event.StatusPending, false)
	m.Thread = ""
	send(t, s, m)
	send(t, s, m)
	expectCalls(t, api, "chat.postMessage #fax-alerts", "chat.postMessage #fax-alerts")
	if len(th.m) != 0 {
		t.Errorf("threads = %v", th.m)
	}
}

func TestThreadConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"webhook cannot thread", Config{WebhookURL: "https://hooks.slack.com/services/T/B/SECRET", Thread: "subject"}, "an incoming webhook cannot thread"},
		{"update_parent needs thread", Config{Token: testToken, Channel: "c", UpdateParent: true}, "update_parent: needs thread"},
		{"broadcast needs thread", Config{Token: testToken, Channel: "c", Broadcast: true}, "broadcast: needs thread"},
		{"token threads", Config{Token: testToken, Channel: "c", Thread: "subject", UpdateParent: true, Broadcast: true}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("error = %v, want %q", err, tc.want)
			}
			if err != nil && (strings.Contains(err.Error(), "SECRET") || strings.Contains(err.Error(), testToken)) {
				t.Errorf("error leaks a secret: %v", err)
			}
		})
	}
	if s := newSink(t, Config{WebhookURL: config.Secret("https://hooks.slack.com/services/x")}); s.Threaded() {
		t.Error("a webhook sink reports Threaded")
	}
}
