package store

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/switchboard/switchboard/internal/event"
	"github.com/switchboard/switchboard/rules"
)

// expecting plans a delivery to sink "s" for every event, starts the timer
// of expectation "x" (10 minutes) on a pending event and stops it on a
// final one.
func expecting(ev *event.Event) rules.Result {
	res := rules.Result{Matches: []rules.Match{{Rule: "r", Sink: "s", Title: ev.Title(), Text: ev.Text()}}}
	switch {
	case ev.Source == "switchboard":
	case ev.Final:
		res.Expect = []rules.ExpectAction{{Expectation: "x"}}
	case ev.Status == "pending":
		res.Expect = []rules.ExpectAction{{Expectation: "x", Start: true, Within: 10 * time.Minute}}
	}
	return res
}

// missed makes the event of a fired timer, as package expect does.
func missed(now time.Time) func(Timer) *event.Event {
	return func(t Timer) *event.Event {
		last := ""
		if t.Last != nil {
			last = t.Last.ID
		}
		ev := &event.Event{Source: "switchboard", Type: "expectation.missed", Subject: t.Subject, Status: "unknown",
			Data:     map[string]any{"expectation": t.Expectation, "last": last},
			DedupKey: fmt.Sprintf("%s|%s|%d", t.Subject, t.Expectation, t.StartedAt.UnixMilli())}
		ev.Seal(t.Receiver, now)
		return ev
	}
}

func TestTimers(t *testing.T) {
	for name, open := range backends(t) {
		t.Run(name, func(t *testing.T) { testTimers(t, open) })
	}
}

func testTimers(t *testing.T, open func(testing.TB, *clock) *Store) {
	c := &clock{t: time.Unix(1700000000, 0)}
	st := open(t, c)
	ctx := context.Background()
	ingest := func(ev *event.Event) *IngestResult {
		t.Helper()
		res, err := st.Ingest(ctx, []*event.Event{ev}, expecting, nil)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	fire := func() []Timer {
		t.Helper()
		fired, _, err := st.FireTimers(ctx, 10, missed(c.now()), expecting, nil)
		if err != nil {
			t.Fatal(err)
		}
		return fired
	}
	if res := ingest(newEvent("a", "pending", 1, false)); len(res.TimersStarted) != 1 {
		t.Fatalf("pending a started %v, want [x]", res.TimersStarted)
	}
	ingest(newEvent("b", "pending", 1, false))
	c.add(5 * time.Minute)
	if res := ingest(newEvent("a", "pending", 2, false)); len(res.TimersStarted) != 0 {
		t.Errorf("second pending for a started %v; the running timer should be kept", res.TimersStarted)
	}
	if res := ingest(newEvent("b", "success", 3, true)); len(res.TimersCancelled) != 1 {
		t.Errorf("final b cancelled %v, want [x]", res.TimersCancelled)
	}
	if res := ingest(newEvent("c", "success", 3, true)); len(res.TimersCancelled) != 0 {
		t.Errorf("final c without a timer cancelled %v", res.TimersCancelled)
	}
	ts, total, err := st.Timers(ctx, 10)
	if err != nil || total != 1 || len(ts) != 1 || ts[0].Subject != "a" {
		t.Fatalf("Timers = %+v, %d, %v; want the one of a", ts, total, err)
	}
	if got := fire(); len(got) != 0 {
		t.Fatalf("fired %+v before it was due", got)
	}
	c.add(5 * time.Minute) // a's timer is due: it started 10 minutes ago
	if due, err := st.TimersDue(ctx); err != nil || !due {
		t.Fatalf("TimersDue = %v, %v", due, err)
	}
	got := fire()
	if len(got) != 1 || got[0].Subject != "a" || got[0].Last == nil || got[0].Last.Status != "pending" {
		t.Fatalf("fired %+v, want a's timer with its last event", got)
	}
	if got := fire(); len(got) != 0 {
		t.Errorf("fired again: %+v", got)
	}
	if n := count(t, st, "timers"); n != 0 {
		t.Errorf("%d timers left", n)
	}
	ds, err := st.List(ctx, Filter{Sink: "s", Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, d := range ds {
		if d.Subject == "a" && d.Title != "" {
			ev, _ := st.eventOf(t, d.EventID)
			if ev.Source == "switchboard" && ev.Type == "expectation.missed" {
				found++
			}
		}
	}
	if found != 1 {
		t.Errorf("%d deliveries of expectation.missed for a, want 1", found)
	}
}

// Two instances firing the same due timers at once fire each exactly once.
func TestPostgresTimersOnce(t *testing.T) {
	c := &clock{t: time.Unix(1700000000, 0)}
	a := openTestPostgres(t, c)
	b := sibling(t, a, c)
	ctx := context.Background()
	const n = 300
	var evs []*event.Event
	for i := range n {
		evs = append(evs, newEvent(fmt.Sprintf("s%d", i), "pending", 1, false))
	}
	for _, ev := range evs {
		if _, err := a.Ingest(ctx, []*event.Event{ev}, expecting, nil); err != nil {
			t.Fatal(err)
		}
	}
	c.add(11 * time.Minute)
	var mu sync.Mutex
	seen := map[string]int{}
	var wg sync.WaitGroup
	for _, st := range []*Store{a, b, a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				fired, _, err := st.FireTimers(ctx, 16, missed(c.now()), expecting, nil)
				if err != nil {
					t.Error(err)
					return
				}
				if len(fired) == 0 {
					return
				}
				mu.Lock()
				for _, f := range fired {
					seen[f.Subject]++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(seen) != n {
		t.Errorf("%d timers fired, want %d", len(seen), n)
	}
	for s, k := range seen {
		if k != 1 {
			t.Errorf("timer of %s fired %d times", s, k)
		}
	}
	var missedEvents int
	if err := a.read.QueryRow(`SELECT COUNT(*) FROM events WHERE source = 'switchboard'`).Scan(&missedEvents); err != nil {
		t.Fatal(err)
	}
	if missedEvents != n {
		t.Errorf("%d expectation.missed events stored, want %d", missedEvents, n)
	}
}

func TestTraffic(t *testing.T) {
	for name, open := range backends(t) {
		t.Run(name, func(t *testing.T) { testTraffic(t, open) })
	}
}

func testTraffic(t *testing.T, open func(testing.TB, *clock) *Store) {
	c := &clock{t: time.Unix(1700000000, 0)}
	st := open(t, c)
	other := st
	if st.Dialect() == "postgres" {
		other = sibling(t, st, c) // judged on every instance's traffic
	}
	ctx := context.Background()
	mk := func(typ string) *event.Event {
		ev := &event.Event{Source: "switchboard", Type: typ, Subject: "fax", Status: "unknown",
			DedupKey: fmt.Sprintf("%s|%d", typ, c.now().UnixMilli())}
		ev.Seal("fax", c.now())
		return ev
	}
	quiet := func(s *Store) bool {
		t.Helper()
		res, err := s.Quiet(ctx, "fax", 30*time.Minute, func(time.Time) *event.Event { return mk("receiver.silent") }, expecting, nil)
		if err != nil {
			t.Fatal(err)
		}
		return res != nil
	}
	saw := func(s *Store) bool {
		t.Helper()
		res, err := s.Traffic(ctx, "fax", c.now(), func() *event.Event { return mk("receiver.resumed") }, expecting, nil)
		if err != nil {
			t.Fatal(err)
		}
		return res != nil
	}
	for _, s := range []*Store{st, other} {
		if err := s.WatchTraffic(ctx, "fax"); err != nil {
			t.Fatal(err)
		}
	}
	c.add(20 * time.Minute)
	if quiet(st) {
		t.Fatal("silent after 20 minutes of 30")
	}
	if saw(other) {
		t.Fatal("resumed without having been silent")
	}
	c.add(20 * time.Minute) // 20 minutes after the other instance's callback
	if quiet(st) {
		t.Fatal("silent although another instance took a callback 20 minutes ago")
	}
	c.add(11 * time.Minute)
	if due, err := st.QuietDue(ctx, "fax", 30*time.Minute); err != nil || !due {
		t.Fatalf("QuietDue = %v, %v", due, err)
	}
	if !quiet(st) {
		t.Fatal("not silent after 31 minutes without a callback")
	}
	if quiet(other) || quiet(st) {
		t.Fatal("silent emitted twice")
	}
	if !saw(other) {
		t.Fatal("a callback after silence did not resume")
	}
	if saw(st) {
		t.Fatal("resumed twice")
	}
	var n int
	if err := st.read.QueryRow(`SELECT COUNT(*) FROM events WHERE source = 'switchboard'`).Scan(&n); err != nil || n != 2 {
		t.Errorf("%d events of switchboard stored (%v), want silent and resumed", n, err)
	}
}

// Retention keeps the state of a subject with an open timer, so the event
// that stops the timer is routed as one with history; other subjects
// without events go.
func TestPruneKeepsTimerSubjects(t *testing.T) {
	for name, open := range backends(t) {
		t.Run(name, func(t *testing.T) {
			c := &clock{t: time.Unix(1700000000, 0)}
			st := open(t, c)
			ctx := context.Background()
			noDeliveries := func(ev *event.Event) rules.Result {
				res := expecting(ev)
				res.Matches = nil
				return res
			}
			waiting := eventAt(c, "waiting", 1)
			waiting.Status, waiting.Final = "pending", false
			for _, ev := range []*event.Event{waiting, eventAt(c, "done", 1)} {
				if _, err := st.Ingest(ctx, []*event.Event{ev}, noDeliveries, nil); err != nil {
					t.Fatal(err)
				}
			}
			c.add(8 * 24 * time.Hour)
			if _, err := st.Prune(ctx, Retention{Delivered: 7 * 24 * time.Hour, Dead: 30 * 24 * time.Hour, Batch: 10}, nil); err != nil {
				t.Fatal(err)
			}
			var subjects []string
			rows, err := st.read.Query(`SELECT subject FROM subjects ORDER BY subject`)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			for rows.Next() {
				var s string
				if err := rows.Scan(&s); err != nil {
					t.Fatal(err)
				}
				subjects = append(subjects, s)
			}
			if len(subjects) != 1 || subjects[0] != "waiting" || count(t, st, "events") != 0 {
				t.Errorf("subjects left %v, events %d; want only waiting's state", subjects, count(t, st, "events"))
			}
		})
	}
}
