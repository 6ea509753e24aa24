package store

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/switchboard/switchboard/internal/event"
	"github.com/switchboard/switchboard/rules"
)

func TestOperations(t *testing.T) {
	for name, open := range backends(t) {
		t.Run(name, func(t *testing.T) {
			t.Run("prune", func(t *testing.T) { testPrune(t, open) })
			t.Run("prune batches", func(t *testing.T) { testPruneBatches(t, open) })
			t.Run("stats", func(t *testing.T) { testStats(t, open) })
			t.Run("attempts bounded", func(t *testing.T) { testAttemptsBounded(t, open) })
			t.Run("retry dead", func(t *testing.T) { testRetryDeadFiltered(t, open) })
			t.Run("list", func(t *testing.T) { testListFilters(t, open) })
		})
	}
}

// eventAt is an event received at the clock's time.
func eventAt(c *clock, subject string, code int) *event.Event {
	ev := &event.Event{Source: "test", Type: "test", Subject: subject, Status: "failure", Code: code, Final: true,
		DedupKey: fmt.Sprintf("%s|%d", subject, code)}
	ev.Seal("r", c.now())
	return ev
}

// finishAll claims every due delivery of sink and records state for it.
func finishAll(t testing.TB, st *Store, c *clock, sink, state string) int {
	t.Helper()
	ctx := context.Background()
	ds, err := st.Claim(ctx, sink, 10000, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range ds {
		o := Outcome{ID: d.ID, Lease: d.Lease, State: state, Started: c.now(), Duration: 5 * time.Millisecond}
		if state != StateDelivered {
			o.Status, o.Error = 500, "status 500"
		}
		if state == StatePending {
			o.NextAttemptAt = c.now()
		}
		if err := st.Finish(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	return len(ds)
}

// Finished deliveries older than their window go with their attempts, then
// the events left without deliveries and their subjects; pending ones and
// anything newer stay.
func testPrune(t *testing.T, open func(testing.TB, *clock) *Store) {
	c := &clock{t: time.Unix(1700000000, 0)}
	st := open(t, c)
	ctx := context.Background()
	day := 24 * time.Hour
	ingest := func(subject string, sinks ...string) {
		t.Helper()
		if _, err := st.Ingest(ctx, []*event.Event{eventAt(c, subject, 1)}, toSinks(sinks...), nil); err != nil {
			t.Fatal(err)
		}
	}
	// Day 0: old-ok delivered to a; old-dead dead on b; old-none matched
	// nothing; old-pending stays pending on c (a sink that is down).
	ingest("old-ok", "a")
	ingest("old-dead", "b")
	ingest("old-none")
	ingest("old-pending", "c")
	// A throttled rule: the first match is delivered, the second suppressed.
	throttled := asPlanner(func(ev *event.Event) []rules.Match {
		return []rules.Match{{Rule: "t", Sink: "d", ThrottleKey: "k", Window: time.Hour}}
	})
	for _, subject := range []string{"old-thr1", "old-thr2"} {
		if _, err := st.Ingest(ctx, []*event.Event{eventAt(c, subject, 1)}, throttled, nil); err != nil {
			t.Fatal(err)
		}
	}
	finishAll(t, st, c, "a", StateDelivered)
	finishAll(t, st, c, "b", StateDead)
	finishAll(t, st, c, "d", StateDelivered)
	// Sink c leaves the configuration: its delivery is held, never pruned.
	if held, _, err := st.MatchSinks(ctx, []string{"a", "b", "d"}); err != nil || held != 1 {
		t.Fatalf("hold c: %d, %v", held, err)
	}
	// Day 5: new-ok delivered.
	c.add(5 * day)
	ingest("new-ok", "a")
	finishAll(t, st, c, "a", StateDelivered)

	c.add(3 * day) // day 8
	r := Retention{Delivered: 7 * day, Dead: 30 * day}
	var reported Pruned
	got, err := st.Prune(ctx, r, func(p Pruned) { reported.add(p) })
	if err != nil {
		t.Fatal(err)
	}
	want := Pruned{Delivered: 3, Attempts: 2, Events: 4, Subjects: 4, Throttles: 1}
	if got != want || reported != want {
		t.Fatalf("day 8: pruned %+v (reported %+v), want %+v", got, reported, want)
	}
	if n := count(t, st, "events"); n != 3 { // old-dead, old-pending, new-ok
		t.Errorf("events left = %d, want 3", n)
	}
	var subjects []string
	rows, _ := st.read.Query(`SELECT subject FROM subjects ORDER BY subject`)
	for rows.Next() {
		var s string
		rows.Scan(&s)
		subjects = append(subjects, s)
	}
	rows.Close()
	if fmt.Sprint(subjects) != "[new-ok old-dead old-pending]" {
		t.Errorf("subjects left = %v", subjects)
	}

	// Day 31: the dead one and new-ok go too; the held one never does.
	c.add(23 * day)
	got, err = st.Prune(ctx, r, nil)
	if err != nil {
		t.Fatal(err)
	}
	want = Pruned{Delivered: 1, Dead: 1, Attempts: 2, Events: 2, Subjects: 2}
	if got != want {
		t.Fatalf("day 31: pruned %+v, want %+v", got, want)
	}
	if n := count(t, st, "deliveries WHERE state = 'no_sink'"); n != 1 {
		t.Errorf("held deliveries left = %d, want 1", n)
	}
	if n := count(t, st, "events"); n != 1 {
		t.Errorf("events left = %d, want 1 (the pending delivery's)", n)
	}
}

// Many rows are pruned in several batches, each reported.
func testPruneBatches(t *testing.T, open func(testing.TB, *clock) *Store) {
	c := &clock{t: time.Unix(1700000000, 0)}
	st := open(t, c)
	ctx := context.Background()
	const n = 23
	for i := range n {
		if _, err := st.Ingest(ctx, []*event.Event{eventAt(c, fmt.Sprint("s", i), 1)}, toSinks("a"), nil); err != nil {
			t.Fatal(err)
		}
	}
	// Events that matched nothing, and a retried dead delivery.
	for i := range n {
		if _, err := st.Ingest(ctx, []*event.Event{eventAt(c, fmt.Sprint("none", i), 1)}, toSinks(), nil); err != nil {
			t.Fatal(err)
		}
	}
	finishAll(t, st, c, "a", StateDelivered)
	c.add(2 * time.Hour)
	batches := 0
	got, err := st.Prune(ctx, Retention{Delivered: time.Hour, Dead: time.Hour, Batch: 5}, func(Pruned) { batches++ })
	if err != nil {
		t.Fatal(err)
	}
	if got.Delivered != n || got.Events != 2*n || got.Subjects != 2*n || got.Attempts != n {
		t.Errorf("pruned %+v", got)
	}
	if batches < 2*n/5 {
		t.Errorf("%d batches, want at least %d", batches, 2*n/5)
	}
	for _, table := range []string{"deliveries", "attempts", "events", "subjects"} {
		if left := count(t, st, table); left != 0 {
			t.Errorf("%s: %d rows left", table, left)
		}
	}
}

func testStats(t *testing.T, open func(testing.TB, *clock) *Store) {
	c := &clock{t: time.Unix(1700000000, 0)}
	st := open(t, c)
	ctx := context.Background()
	if got, err := st.Stats(ctx); err != nil || len(got) != 0 {
		t.Fatalf("empty store: %+v, %v", got, err)
	}
	for i := range 3 {
		if _, err := st.Ingest(ctx, []*event.Event{eventAt(c, fmt.Sprint("s", i), 1)}, toSinks("a", "b"), nil); err != nil {
			t.Fatal(err)
		}
	}
	first := c.now()
	c.add(time.Minute)
	finishAll(t, st, c, "b", StateDead)
	if _, err := st.Ingest(ctx, []*event.Event{eventAt(c, "s9", 1)}, toSinks("c"), nil); err != nil {
		t.Fatal(err)
	}
	finishAll(t, st, c, "c", StateDelivered)
	c.add(time.Minute)
	got, err := st.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []QueueStat{
		{Sink: "a", State: StatePending, Count: 3, OldestDue: first},
		{Sink: "a", State: StateDead},
		{Sink: "a", State: StateNoSink},
		{Sink: "b", State: StatePending},
		{Sink: "b", State: StateDead, Count: 3},
		{Sink: "b", State: StateNoSink},
		{Sink: "c", State: StatePending},
		{Sink: "c", State: StateDead},
		{Sink: "c", State: StateNoSink},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("stats\n got %+v\nwant %+v", got, want)
	}
}

// A delivery retried again and again keeps its last maxAttemptsKept
// attempts.
func testAttemptsBounded(t *testing.T, open func(testing.TB, *clock) *Store) {
	c := &clock{t: time.Unix(1700000000, 0)}
	st := open(t, c)
	ctx := context.Background()
	if _, err := st.Ingest(ctx, []*event.Event{eventAt(c, "s", 1)}, toSinks("a"), nil); err != nil {
		t.Fatal(err)
	}
	for range maxAttemptsKept + 5 {
		if finishAll(t, st, c, "a", StatePending) != 1 {
			t.Fatal("nothing claimed")
		}
	}
	ds, _ := st.List(ctx, Filter{})
	_, atts, err := st.Get(ctx, ds[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(atts) != maxAttemptsKept || atts[0].N != 6 || atts[len(atts)-1].N != maxAttemptsKept+5 {
		t.Errorf("kept %d attempts, %d..%d", len(atts), atts[0].N, atts[len(atts)-1].N)
	}
	if atts[0].Duration != 5*time.Millisecond || atts[0].Status != 500 || atts[0].Error != "status 500" {
		t.Errorf("attempt = %+v", atts[0])
	}
}

func testRetryDeadFiltered(t *testing.T, open func(testing.TB, *clock) *Store) {
	c := &clock{t: time.Unix(1700000000, 0)}
	st := open(t, c)
	ctx := context.Background()
	ingest := func(subject string) {
		if _, err := st.Ingest(ctx, []*event.Event{eventAt(c, subject, 1)}, toSinks("a", "b"), nil); err != nil {
			t.Fatal(err)
		}
	}
	ingest("early")
	c.add(time.Hour)
	since := c.now()
	ingest("late")
	finishAll(t, st, c, "a", StateDead)
	finishAll(t, st, c, "b", StateDead)

	if n, err := st.RetryDead(ctx, "a", since); err != nil || n != 1 {
		t.Fatalf("retry dead a since = %d, %v; want 1", n, err)
	}
	if n, err := st.RetryDead(ctx, "", time.Time{}); err != nil || n != 3 {
		t.Fatalf("retry all dead = %d, %v; want 3", n, err)
	}
	if n, _ := st.RetryDead(ctx, "", time.Time{}); n != 0 {
		t.Fatalf("second retry = %d, want 0", n)
	}
	ds, _ := st.List(ctx, Filter{State: StatePending})
	if len(ds) != 4 {
		t.Fatalf("pending after retry = %d", len(ds))
	}
	for _, d := range ds {
		if d.Attempts != 0 || d.NextAttemptAt.IsZero() {
			t.Errorf("re-queued %+v", d)
		}
	}
}

func testListFilters(t *testing.T, open func(testing.TB, *clock) *Store) {
	c := &clock{t: time.Unix(1700000000, 0)}
	st := open(t, c)
	ctx := context.Background()
	if _, err := st.Ingest(ctx, []*event.Event{eventAt(c, "664598111", 1)}, toSinks("a", "b"), nil); err != nil {
		t.Fatal(err)
	}
	c.add(time.Minute)
	if _, err := st.Ingest(ctx, []*event.Event{eventAt(c, "other", 1)}, toSinks("a"), nil); err != nil {
		t.Fatal(err)
	}
	finishAll(t, st, c, "b", StateDead)
	for _, tc := range []struct {
		name string
		f    Filter
		want int
	}{
		{"all", Filter{}, 3},
		{"subject", Filter{Subject: "664598111"}, 2},
		{"dead", Filter{State: StateDead}, 1},
		{"sink", Filter{Sink: "a"}, 2},
		{"rule", Filter{Rule: "nope"}, 0},
		{"since", Filter{Since: c.now()}, 1},
		{"limit", Filter{Limit: 1}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ds, err := st.List(ctx, tc.f)
			if err != nil || len(ds) != tc.want {
				t.Fatalf("got %d, %v; want %d", len(ds), err, tc.want)
			}
			for _, d := range ds {
				if d.Subject == "" {
					t.Errorf("no subject: %+v", d)
				}
				if d.State != StatePending && !d.NextAttemptAt.IsZero() {
					t.Errorf("%s delivery has a next attempt: %+v", d.State, d)
				}
			}
		})
	}
	ds, _ := st.List(ctx, Filter{})
	if ds[0].Subject != "other" {
		t.Errorf("not newest first: %+v", ds[0])
	}
}
