package store

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/switchboard/switchboard/internal/event"
	"github.com/switchboard/switchboard/rules"
)

// clock is a settable test clock.
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

func openTestSQLite(t testing.TB, c *clock) *Store {
	t.Helper()
	st, err := Open(context.Background(), filepath.Join(t.TempDir(), "sb.db"), WithClock(c.now))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// backends lists the stores every conformance test runs against.
func backends(t *testing.T) map[string]func(testing.TB, *clock) *Store {
	return map[string]func(testing.TB, *clock) *Store{"sqlite": openTestSQLite, "postgres": openTestPostgres}
}

func newEvent(subject, status string, code int, final bool) *event.Event {
	ev := &event.Event{Source: "test", Type: "test", Subject: subject, Status: status, Code: code, Final: final,
		DedupKey: fmt.Sprintf("%s|%d", subject, code)}
	ev.Seal("r", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	return ev
}

func toSinks(sinks ...string) Planner {
	return asPlanner(func(ev *event.Event) []rules.Match {
		var out []rules.Match
		for _, s := range sinks {
			out = append(out, rules.Match{Rule: "r", Sink: s, Title: ev.Title(), Text: ev.Text()})
		}
		return out
	})
}

func count(t testing.TB, st *Store, table string) int {
	t.Helper()
	var n int
	if err := st.read.QueryRow(`SELECT COUNT(*) FROM ` + table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestStore(t *testing.T) {
	for name, open := range backends(t) {
		t.Run(name, func(t *testing.T) {
			t.Run("dedup", func(t *testing.T) { testDedup(t, open) })
			t.Run("atomic", func(t *testing.T) { testAtomic(t, open) })
			t.Run("subject state", func(t *testing.T) { testSubjectState(t, open) })
			t.Run("claim and finish", func(t *testing.T) { testClaimFinish(t, open) })
			t.Run("lease expiry", func(t *testing.T) { testLeaseExpiry(t, open) })
			t.Run("retry dead", func(t *testing.T) { testRetryDead(t, open) })
			t.Run("group commit", func(t *testing.T) { testGroupCommit(t, open) })
			t.Run("odd text", func(t *testing.T) { testOddText(t, open) })
			t.Run("instances claim", func(t *testing.T) { testInstancesClaim(t, open) })
			t.Run("instances dedup", func(t *testing.T) { testInstancesDedup(t, open) })
			t.Run("instances subject", func(t *testing.T) { testInstancesSubject(t, open) })
			t.Run("instances crossed", func(t *testing.T) { testInstancesCrossed(t, open) })
		})
	}
}

func testDedup(t *testing.T, open func(testing.TB, *clock) *Store) {
	st := open(t, &clock{t: time.Unix(1700000000, 0)})
	ctx := context.Background()
	res, err := st.Ingest(ctx, []*event.Event{newEvent("s1", "failure", 263, true)}, toSinks("a", "b"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Stored) != 1 || res.Deliveries != 2 || len(res.Sinks) != 2 {
		t.Fatalf("first intake = %+v", res)
	}
	res, err = st.Ingest(ctx, []*event.Event{newEvent("s1", "failure", 263, true)}, toSinks("a", "b"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Stored) != 0 || len(res.Duplicates) != 1 || res.Deliveries != 0 {
		t.Fatalf("repeated intake = %+v", res)
	}
	if n := count(t, st, "events"); n != 1 {
		t.Errorf("events = %d, want 1", n)
	}
	if n := count(t, st, "deliveries"); n != 2 {
		t.Errorf("deliveries = %d, want 2", n)
	}
}

// A failure between the event insert and its deliveries leaves neither.
func testAtomic(t *testing.T, open func(testing.TB, *clock) *Store) {
	st := open(t, &clock{t: time.Unix(1700000000, 0)})
	ctx := context.Background()
	boom := errors.New("injected fault")
	calls := 0
	st.hookEv = func(*event.Event) error {
		calls++
		if calls == 2 { // the second event of the callback
			return boom
		}
		return nil
	}
	_, err := st.Ingest(ctx, []*event.Event{newEvent("s1", "success", 0, true), newEvent("s2", "success", 0, true)}, toSinks("a"), nil)
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want the injected fault", err)
	}
	for _, table := range []string{"events", "deliveries"} {
		if n := count(t, st, table); n != 0 {
			t.Errorf("%s = %d after a failed intake, want 0", table, n)
		}
	}
	// A concurrent intake sharing the transaction is not affected.
	st.hookEv = nil
	if _, err := st.Ingest(ctx, []*event.Event{newEvent("s3", "success", 0, true)}, toSinks("a"), nil); err != nil {
		t.Fatal(err)
	}
	if n := count(t, st, "deliveries"); n != 1 {
		t.Errorf("deliveries = %d, want 1", n)
	}
}

func testSubjectState(t *testing.T, open func(testing.TB, *clock) *Store) {
	st := open(t, &clock{t: time.Unix(1700000000, 0)})
	ctx := context.Background()
	steps := []struct {
		status    string
		code      int
		final     bool
		wantPrev  string
		wantStale bool
	}{
		{"pending", 290, false, "", false},
		{"pending", 203, false, "pending", false},
		{"success", 200, true, "pending", false},
		{"pending", 203, false, "success", true}, // 203 arriving after 200 (different key: same code twice is a dup)
	}
	for i, s := range steps {
		ev := newEvent("ref", s.status, s.code, s.final)
		if i == 3 {
			ev.DedupKey = "late-203"
			ev.Seal("r", ev.ReceivedAt)
		}
		res, err := st.Ingest(ctx, []*event.Event{ev}, toSinks(), nil)
		if err != nil {
			t.Fatal(err)
		}
		got := res.Stored[0]
		if got.PreviousStatus != s.wantPrev || got.Stale != s.wantStale {
			t.Errorf("step %d (%d): previous=%q stale=%v, want %q %v", i, s.code, got.PreviousStatus, got.Stale, s.wantPrev, s.wantStale)
		}
	}
	// The stale event did not overwrite the final state.
	ev := newEvent("ref", "failure", 999, true)
	res, err := st.Ingest(ctx, []*event.Event{ev}, toSinks(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Stored[0].PreviousStatus != "success" {
		t.Errorf("previous after stale = %q, want success", res.Stored[0].PreviousStatus)
	}
}

func testClaimFinish(t *testing.T, open func(testing.TB, *clock) *Store) {
	c := &clock{t: time.Unix(1700000000, 0)}
	st := open(t, c)
	ctx := context.Background()
	if _, err := st.Ingest(ctx, []*event.Event{newEvent("s1", "failure", 1, true)}, toSinks("a", "b"), nil); err != nil {
		t.Fatal(err)
	}
	ds, err := st.Claim(ctx, "a", 10, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 1 || ds[0].Sink != "a" || ds[0].Attempts != 1 || len(ds[0].EventJSON) == 0 {
		t.Fatalf("claimed %+v", ds)
	}
	ev, err := event.Decode(ds[0].EventJSON)
	if err != nil || ev.Subject != "s1" {
		t.Fatalf("event = %+v, %v", ev, err)
	}
	// Leased: not claimable again.
	if again, _ := st.Claim(ctx, "a", 10, time.Minute); len(again) != 0 {
		t.Fatalf("claimed a leased delivery again")
	}
	retryAt := c.now().Add(30 * time.Second)
	if err := st.Finish(ctx, Outcome{ID: ds[0].ID, Lease: ds[0].Lease, State: StatePending, NextAttemptAt: retryAt, Status: 503, Error: "status 503", Started: c.now()}); err != nil {
		t.Fatal(err)
	}
	if got, _ := st.Claim(ctx, "a", 10, time.Minute); len(got) != 0 {
		t.Fatalf("claimed before the retry time")
	}
	if next, _ := st.NextDue(ctx, "a"); !next.Equal(retryAt.Truncate(time.Millisecond)) {
		t.Errorf("next due = %v, want %v", next, retryAt)
	}
	c.add(31 * time.Second)
	ds2, err := st.Claim(ctx, "a", 10, time.Minute)
	if err != nil || len(ds2) != 1 || ds2[0].Attempts != 2 || ds2[0].ID != ds[0].ID {
		t.Fatalf("retry claim = %+v, %v", ds2, err)
	}
	if err := st.Finish(ctx, Outcome{ID: ds2[0].ID, Lease: ds2[0].Lease, State: StateDelivered, Status: 200, Started: c.now()}); err != nil {
		t.Fatal(err)
	}
	d, atts, err := st.Get(ctx, ds[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if d.State != StateDelivered || d.Attempts != 2 || len(atts) != 2 || atts[0].Status != 503 || atts[1].Status != 200 {
		t.Errorf("log = %+v attempts %+v", d, atts)
	}
}

// A worker that dies leaves its lease; after it expires another claims it.
func testLeaseExpiry(t *testing.T, open func(testing.TB, *clock) *Store) {
	c := &clock{t: time.Unix(1700000000, 0)}
	st := open(t, c)
	ctx := context.Background()
	if _, err := st.Ingest(ctx, []*event.Event{newEvent("s1", "failure", 1, true)}, toSinks("a"), nil); err != nil {
		t.Fatal(err)
	}
	first, err := st.Claim(ctx, "a", 1, 40*time.Second)
	if err != nil || len(first) != 1 {
		t.Fatalf("claim: %v %v", first, err)
	}
	c.add(39 * time.Second)
	if got, _ := st.Claim(ctx, "a", 1, 40*time.Second); len(got) != 0 {
		t.Fatal("claimed before the lease expired")
	}
	c.add(2 * time.Second)
	st.owner = "other-instance"
	second, err := st.Claim(ctx, "a", 1, 40*time.Second)
	if err != nil || len(second) != 1 || second[0].ID != first[0].ID || second[0].Attempts != 2 {
		t.Fatalf("re-claim after expiry = %+v, %v", second, err)
	}
}

func testRetryDead(t *testing.T, open func(testing.TB, *clock) *Store) {
	c := &clock{t: time.Unix(1700000000, 0)}
	st := open(t, c)
	ctx := context.Background()
	if _, err := st.Ingest(ctx, []*event.Event{newEvent("s1", "failure", 1, true)}, toSinks("a"), nil); err != nil {
		t.Fatal(err)
	}
	ds, _ := st.Claim(ctx, "a", 1, time.Minute)
	if err := st.Finish(ctx, Outcome{ID: ds[0].ID, Lease: ds[0].Lease, State: StateDead, Status: 404, Error: "permanent"}); err != nil {
		t.Fatal(err)
	}
	dead, err := st.List(ctx, Filter{State: StateDead})
	if err != nil || len(dead) != 1 {
		t.Fatalf("dead = %v, %v", dead, err)
	}
	if n, err := st.Retry(ctx, ds[0].ID, "msg_unknown"); err != nil || n != 1 {
		t.Fatalf("retry = %d, %v", n, err)
	}
	again, _ := st.Claim(ctx, "a", 1, time.Minute)
	if len(again) != 1 || again[0].Attempts != 1 {
		t.Fatalf("re-queued delivery claim = %+v", again)
	}
}

// Concurrent intakes share commits and each gets its own result.
func testGroupCommit(t *testing.T, open func(testing.TB, *clock) *Store) {
	st := open(t, &clock{t: time.Unix(1700000000, 0)})
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for i := 0; i < 200; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := st.Ingest(ctx, []*event.Event{newEvent(fmt.Sprint("s", i), "success", 0, true)}, toSinks("a"), nil)
			if err == nil && len(res.Stored) != 1 {
				err = fmt.Errorf("intake %d stored %d", i, len(res.Stored))
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := count(t, st, "deliveries"); n != 200 {
		t.Errorf("deliveries = %d, want 200", n)
	}
}

func TestReleaseLeases(t *testing.T) {
	c := &clock{t: time.Unix(1700000000, 0)}
	st := openTestSQLite(t, c)
	ctx := context.Background()
	if _, err := st.Ingest(ctx, []*event.Event{newEvent("s1", "failure", 1, true)}, toSinks("a"), nil); err != nil {
		t.Fatal(err)
	}
	st.owner = "crashed"
	if ds, _ := st.Claim(ctx, "a", 1, time.Hour); len(ds) != 1 {
		t.Fatal("claim failed")
	}
	st.owner = "restarted"
	if n, err := st.ReleaseLeases(ctx); err != nil || n != 1 {
		t.Fatalf("released %d, %v", n, err)
	}
	if ds, _ := st.Claim(ctx, "a", 1, time.Hour); len(ds) != 1 || ds[0].Attempts != 2 {
		t.Fatalf("not claimable at once after release: %+v", ds)
	}
}

// asPlanner makes a Planner of a func that lists an event's matches.
func asPlanner(f func(ev *event.Event) []rules.Match) Planner {
	return func(ev *event.Event) rules.Result { return rules.Result{Matches: f(ev)} }
}
