package expect

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard/switchboard/internal/event"
	"github.com/switchboard/switchboard/internal/store"
	"github.com/switchboard/switchboard/rules"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

const config = `
receivers:
  ts: {type: telesign, unauthenticated: true, expect_traffic: 30m}
sinks:
  audit: {type: log}
rules:
  - {name: own, when: source == "switchboard", to: [audit]}
expect:
  - name: sms-final
    after: type == "sms" && status == "pending"
    then: final
    within: 15m
`

// setup returns a runner on a real SQLite store with a settable clock, as
// serve wires it, started at the clock's time, and the store.
func setup(t *testing.T, grace time.Duration) (*Runner, *store.Store, *clock) {
	t.Helper()
	return setupOn(t, filepath.Join(t.TempDir(), "sb.db"), grace)
}

// setupOn is setup on the store at dsn.
func setupOn(t *testing.T, dsn string, grace time.Duration) (*Runner, *store.Store, *clock) {
	t.Helper()
	c := &clock{t: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)}
	st, err := store.Open(context.Background(), dsn, store.WithClock(c.now))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f, err := rules.Parse("rules.yaml", strings.NewReader(config), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	r := New(st, slog.New(slog.DiscardHandler), nil, nil, Hooks{})
	r.now, r.started = c.now, c.now()
	r.Update(&Config{Router: f.Router, Grace: grace, Traffic: map[string]time.Duration{"ts": 30 * time.Minute}})
	return r, st, c
}

// own returns the titles of the deliveries of Switchboard's own events,
// oldest first.
func own(t *testing.T, st *store.Store) []string {
	t.Helper()
	ds, err := st.List(context.Background(), store.Filter{Rule: "own", Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for i := len(ds) - 1; i >= 0; i-- {
		out = append(out, ds[i].Title)
	}
	return out
}

func pending(c *clock, subject string) *event.Event {
	ev := &event.Event{Source: "telesign", Type: "sms", Subject: subject, Status: event.StatusPending, DedupKey: subject}
	ev.Seal("ts", c.now())
	return ev
}

// callback stores ev as intake does and notes its receiver's traffic.
func callback(t *testing.T, r *Runner, st *store.Store, ev *event.Event) {
	t.Helper()
	if _, err := st.Ingest(context.Background(), []*event.Event{ev}, r.cfg.Load().Router.Route, nil); err != nil {
		t.Fatal(err)
	}
	r.Saw(ev.Receiver, ev.ReceivedAt)
}

// A due timer waits for the grace after start, then fires once with a
// message saying what was expected and since when.
func TestRunnerGraceThenFire(t *testing.T) {
	r, st, c := setup(t, 5*time.Minute)
	ctx := context.Background()
	callback(t, r, st, pending(c, "R1"))
	c.add(4 * time.Minute)
	r.Round(ctx)
	c.add(12 * time.Minute) // due, but as if restarted 16 minutes ago: reset the start
	r.started = c.now().Add(-time.Minute)
	r.Round(ctx)
	if got := own(t, st); len(got) != 0 {
		t.Fatalf("fired within the grace: %q", got)
	}
	c.add(5 * time.Minute)
	r.Round(ctx)
	r.Round(ctx)
	got := own(t, st)
	if len(got) != 1 {
		t.Fatalf("own deliveries %q, want one expectation.missed", got)
	}
	if want := "Expectation sms-final for telesign R1: no event matching `final` within 15m0s (since 2026-12-01T10:00:00Z)"; got[0] != want {
		t.Errorf("title %q, want %q", got[0], want)
	}
}

// A receiver without callbacks for expect_traffic is reported silent once,
// and resumed on the next callback.
func TestRunnerTraffic(t *testing.T) {
	r, st, c := setup(t, 0)
	ctx := context.Background()
	r.Round(ctx) // starts watching
	c.add(29 * time.Minute)
	r.Round(ctx)
	if got := own(t, st); len(got) != 0 {
		t.Fatalf("silent too early: %q", got)
	}
	c.add(2 * time.Minute)
	r.Round(ctx)
	r.Round(ctx)
	r.Saw("ts", c.now())
	r.Round(ctx)
	r.Round(ctx)
	got := own(t, st)
	want := []string{"Receiver ts: no accepted callback for 30m0s (last at 2026-12-01T10:00:00Z)", "Callbacks to receiver ts resumed"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("own deliveries %q, want %q", got, want)
	}
}

// A timer whose expectation a reload removed is dropped when due, without
// an event: nothing is expected any more.
func TestRunnerRemovedExpectation(t *testing.T) {
	r, st, c := setup(t, 0)
	ctx := context.Background()
	if _, err := st.Ingest(ctx, []*event.Event{pending(c, "R1")}, r.cfg.Load().Router.Route, nil); err != nil {
		t.Fatal(err)
	}
	f, err := rules.Parse("rules.yaml", strings.NewReader(strings.Split(config, "expect:")[0]), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	r.Update(&Config{Router: f.Router})
	c.add(16 * time.Minute)
	r.Round(ctx)
	if got := own(t, st); len(got) != 0 {
		t.Errorf("fired for a removed expectation: %q", got)
	}
	if n, err := st.OpenTimers(ctx); err != nil || n != 0 {
		t.Errorf("open timers %d, %v; want the due one dropped", n, err)
	}
}

// Right after a start, a receiver is not judged silent: the vendors'
// retries may be on their way.
func TestRunnerTrafficGrace(t *testing.T) {
	r, st, c := setup(t, 5*time.Minute)
	ctx := context.Background()
	r.Round(ctx)
	c.add(31 * time.Minute)
	r.started = c.now().Add(-time.Minute) // as if restarted a minute ago
	heldForGrace(t, r, st, c, "Receiver ts: no accepted callback")
}

// heldForGrace checks that a round now emits nothing, and one 5 minutes
// later (the grace of setup's callers) a single event whose title starts
// with want.
func heldForGrace(t *testing.T, r *Runner, st *store.Store, c *clock, want string) {
	t.Helper()
	ctx := context.Background()
	r.Round(ctx)
	if got := own(t, st); len(got) != 0 {
		t.Fatalf("emitted within the grace: %q", got)
	}
	c.add(5 * time.Minute)
	r.Round(ctx)
	if got := own(t, st); len(got) != 1 || !strings.HasPrefix(got[0], want) {
		t.Errorf("own deliveries %q, want one %q… after the grace", got, want)
	}
}
