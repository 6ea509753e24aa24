package app

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/switchboard/switchboard/internal/event"
	"github.com/switchboard/switchboard/internal/store"
	"github.com/switchboard/switchboard/sinks"
)

// A threaded Slack sink keeps its anchors in the real store: a first
// message or reply sent again (its outcome was lost in a crash) is not
// posted twice, and the anchor survives a new configuration.
func TestSlackThreadAnchorsInStore(t *testing.T) {
	var mu sync.Mutex
	var calls []string
	slackAPI := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		mu.Lock()
		calls = append(calls, r.URL.Path+" "+r.PostForm.Get("channel")+" "+r.PostForm.Get("thread_ts"))
		n := len(calls)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"ok":true,"channel":"C0FAXES","ts":"1700000000.%06d"}`, n)
	}))
	defer slackAPI.Close()
	dir := t.TempDir()
	path := filepath.Join(dir, "rules.yaml")
	cfg := fmt.Sprintf(`store: %s
sinks:
  fax-alerts: {type: slack, token: xoxb-1-x, channel: "#faxes", api_url: %s, thread: subject}
rules:
  - {name: r, when: "true", to: [fax-alerts]}
`, filepath.Join(dir, "sb.db"), slackAPI.URL)
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(context.Background(), filepath.Join(dir, "sb.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	sinkOf := func() sinks.Sink {
		b, err := Load(path, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		b.attach(st)
		if len(b.Targets) != 1 || !b.Targets[0].Threaded {
			t.Fatalf("targets = %+v, want one threaded", b.Targets)
		}
		return b.Targets[0].Sink
	}
	msg := func(id string) *sinks.Message {
		ev := &event.Event{ID: "evt_" + id, Source: "interfax", Type: "fax.outbound", Subject: "664598111", Status: event.StatusPending}
		return &sinks.Message{DeliveryID: id, Rule: "r", Title: "t " + id, Text: "x", Event: ev, Thread: ev.Subject, Attempt: 1}
	}
	s := sinkOf()
	for _, m := range []*sinks.Message{msg("msg_1"), msg("msg_1"), msg("msg_2"), msg("msg_2")} {
		if err := s.Send(context.Background(), m); err != nil {
			t.Fatal(err)
		}
	}
	// A reload builds new sinks: the thread is in the store, not in them.
	if err := sinkOf().Send(context.Background(), msg("msg_3")); err != nil {
		t.Fatal(err)
	}
	want := "/chat.postMessage #faxes \n/chat.postMessage C0FAXES 1700000000.000001\n/chat.postMessage C0FAXES 1700000000.000001"
	if got := strings.Join(calls, "\n"); got != want {
		t.Errorf("calls:\n%s\nwant:\n%s", got, want)
	}
	if th, ok, err := st.GetThread(context.Background(), "fax-alerts", "664598111"); err != nil || !ok || th.LastDelivery != "msg_3" || th.Channel != "C0FAXES" {
		t.Errorf("thread = %+v, %v, %v", th, ok, err)
	}
}
