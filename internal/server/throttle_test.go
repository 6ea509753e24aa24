package server

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/switchboard/switchboard/internal/store"
	"github.com/switchboard/switchboard/receivers"
	"github.com/switchboard/switchboard/receivers/receivertest"
	"github.com/switchboard/switchboard/rules"
)

// A throttled rule delivers the first callback per key and window, stores
// the rest as suppressed and reports them to the metrics hook.
func TestHookThrottle(t *testing.T) {
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "sb.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f, err := rules.Parse("t.yaml", strings.NewReader(`
sinks: {a: {type: log}, b: {type: log}}
rules:
  - {name: storm, when: 'status == "failure"', to: [a], throttle: {key: 'string(code)', window: 1h}}
  - {name: all, when: 'true', to: [b]}
`), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var throttled []string
	s := New(st, slog.New(slog.NewTextHandler(io.Discard, nil)), nil, Metrics{Throttled: func(rule string) {
		mu.Lock()
		throttled = append(throttled, rule)
		mu.Unlock()
	}})
	s.Swap(&Routing{Receivers: map[string]receivers.Receiver{"t": receivertest.New(receivertest.Config{})}, Router: f.Router, BodyLimit: 1 << 20})
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)

	for i := range 3 {
		if resp, body := post(t, srv.URL+"/hooks/t", fmt.Sprintf(`{"subject":"s%d","status":"failure","code":263}`, i)); resp.StatusCode != 200 {
			t.Fatalf("callback %d: %d %s", i, resp.StatusCode, body)
		}
	}
	ds, err := st.List(context.Background(), store.Filter{Rule: "storm"})
	if err != nil {
		t.Fatal(err)
	}
	var states []string
	for _, d := range ds {
		states = append(states, d.State)
	}
	slices.Sort(states)
	if !slices.Equal(states, []string{"pending", "suppressed", "suppressed"}) {
		t.Errorf("storm deliveries = %v", states)
	}
	if ds, _ := st.List(context.Background(), store.Filter{Rule: "all", State: "pending"}); len(ds) != 3 {
		t.Errorf("unthrottled rule: %d pending deliveries, want 3", len(ds))
	}
	if !slices.Equal(throttled, []string{"storm", "storm"}) {
		t.Errorf("Throttled calls = %v", throttled)
	}
}
