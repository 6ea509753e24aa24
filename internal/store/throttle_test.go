package store

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/switchboard/switchboard/internal/event"
	"github.com/switchboard/switchboard/rules"
)

// throttled plans one delivery per sink for rule "t", keyed by the event's
// code, with a window of 10 minutes.
func throttled(sinks ...string) Planner {
	return asPlanner(func(ev *event.Event) []rules.Match {
		var out []rules.Match
		for _, s := range sinks {
			out = append(out, rules.Match{Rule: "t", Sink: s, Title: "title", Text: "text",
				ThrottleKey: fmt.Sprint(ev.Code), Window: 10 * time.Minute,
				Render: func(n int) (string, string) { return fmt.Sprintf("title +%d", n), fmt.Sprintf("text +%d", n) }})
		}
		return out
	})
}

func TestThrottle(t *testing.T) {
	for name, open := range backends(t) {
		t.Run(name, func(t *testing.T) { testThrottle(t, open) })
	}
}

func testThrottle(t *testing.T, open func(testing.TB, *clock) *Store) {
	c := &clock{t: time.Unix(1700000000, 0)}
	st := open(t, c)
	ctx := context.Background()
	n := 0
	ingest := func(code int) *IngestResult {
		t.Helper()
		n++
		res, err := st.Ingest(ctx, []*event.Event{newEvent(fmt.Sprintf("s%d", n), "failure", code, true)}, throttled("a", "b"), nil)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	states := func(code int) []string {
		t.Helper()
		var out []string
		ds, err := st.List(ctx, Filter{Sink: "a", Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range slices.Backward(ds) { // oldest first
			ev, _ := st.eventOf(t, d.EventID)
			if ev.Code == code {
				out = append(out, d.State+":"+d.Title)
			}
		}
		return out
	}

	// The first match of a window goes to every sink of the rule.
	if res := ingest(1); res.Deliveries != 2 || len(res.Sinks) != 2 || len(res.Throttled) != 0 {
		t.Fatalf("first = %+v", res)
	}
	// Later ones in the window are stored as suppressed, once per rule.
	for range 3 {
		c.add(time.Minute)
		if res := ingest(1); res.Deliveries != 0 || len(res.Sinks) != 0 || !slices.Equal(res.Throttled, []string{"t"}) {
			t.Fatalf("suppressed = %+v", res)
		}
	}
	// Another key has its own window.
	if res := ingest(2); res.Deliveries != 2 {
		t.Fatalf("other key = %+v", res)
	}
	// After the window, the next match is delivered and says how many
	// were suppressed; the count starts again.
	c.add(10 * time.Minute)
	if res := ingest(1); res.Deliveries != 2 {
		t.Fatalf("after window = %+v", res)
	}
	c.add(time.Minute)
	ingest(1)
	want := []string{"pending:title", "suppressed:title", "suppressed:title", "suppressed:title", "pending:title +3", "suppressed:title"}
	if got := states(1); !slices.Equal(got, want) {
		t.Errorf("deliveries of key 1 to sink a:\n got %v\nwant %v", got, want)
	}
	if n := count(t, st, "deliveries"); n != 14 {
		t.Errorf("deliveries = %d, want 14: suppressed ones are stored too", n)
	}
	// Suppressed deliveries are never claimed.
	ds, err := st.Claim(ctx, "a", 100, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range ds {
		if d.State == StateSuppressed {
			t.Errorf("claimed %+v", d)
		}
	}
	if len(ds) != 3 {
		t.Errorf("claimed %d deliveries, want the 3 delivered ones", len(ds))
	}

	// The state survives a restart: it is in the store.
	var start int64
	var suppressed int
	if err := st.read.QueryRow(`SELECT window_start, suppressed FROM throttles WHERE rule = 't' AND throttle_key = '1'`).Scan(&start, &suppressed); err != nil {
		t.Fatal(err)
	}
	if suppressed != 1 || start != c.now().Add(-time.Minute).UnixMilli() {
		t.Errorf("throttle row = %d %d", start, suppressed)
	}
}

func (s *Store) eventOf(t *testing.T, id string) (*event.Event, error) {
	t.Helper()
	var body string
	if err := s.read.QueryRow(s.d.q(`SELECT body FROM events WHERE id = ?`), id).Scan(&body); err != nil {
		t.Fatal(err)
	}
	return event.Decode([]byte(body))
}

// Two events of one callback share a transaction: the second sees the
// first one's window.
func TestThrottleWithinOneCallback(t *testing.T) {
	st := openTestSQLite(t, &clock{t: time.Unix(1700000000, 0)})
	ctx := context.Background()
	res, err := st.Ingest(ctx, []*event.Event{newEvent("x1", "failure", 7, true), newEvent("x2", "failure", 7, true)}, throttled("a"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Deliveries != 1 || !slices.Equal(res.Throttled, []string{"t"}) {
		t.Errorf("result = %+v, want one delivery and one suppressed", res)
	}
}
