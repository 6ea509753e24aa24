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

// Conformance tests with two instances on one database: what several
// Switchboard processes on one Postgres rely on. They run on SQLite too
// (two stores on one file), where the database serializes writers.

// Two instances claiming the same sink never hold the same delivery.
func testInstancesClaim(t *testing.T, open func(testing.TB, *clock) *Store) {
	c := &clock{t: time.Unix(1700000000, 0)}
	a := open(t, c)
	b := sibling(t, a, c)
	ctx := context.Background()
	const n = 120
	for i := range n {
		if _, err := a.Ingest(ctx, []*event.Event{newEvent(fmt.Sprint("s", i), "failure", 1, true)}, toSinks("x"), nil); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	claimedBy := map[string]string{}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := range 8 {
		st := []*Store{a, b}[w%2]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				ds, err := st.Claim(ctx, "x", 7, time.Minute)
				if err != nil {
					errs <- err
					return
				}
				if len(ds) == 0 {
					return
				}
				mu.Lock()
				for _, d := range ds {
					if prev, ok := claimedBy[d.ID]; ok {
						errs <- fmt.Errorf("delivery %s claimed by %s and again by %s", d.ID, prev, st.owner)
					}
					claimedBy[d.ID] = st.owner
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if len(claimedBy) != n {
		t.Errorf("claimed %d deliveries, want %d", len(claimedBy), n)
	}
	owners := map[string]int{}
	for _, o := range claimedBy {
		owners[o]++
	}
	t.Logf("claims per instance: %v", owners)
}

// The same callback arriving at two instances at once is stored once.
func testInstancesDedup(t *testing.T, open func(testing.TB, *clock) *Store) {
	c := &clock{t: time.Unix(1700000000, 0)}
	a := open(t, c)
	b := sibling(t, a, c)
	ctx := context.Background()
	const n = 40
	var stored, dups sync.Map
	var wg sync.WaitGroup
	errs := make(chan error, 2*n)
	for i := range n {
		for _, st := range []*Store{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res, err := st.Ingest(ctx, []*event.Event{newEvent(fmt.Sprint("s", i), "success", 0, true)}, toSinks("x", "y"), nil)
				if err != nil {
					errs <- err
					return
				}
				for _, ev := range res.Stored {
					if _, loaded := stored.LoadOrStore(ev.ID, true); loaded {
						errs <- fmt.Errorf("event %s stored twice", ev.ID)
					}
				}
				for _, ev := range res.Duplicates {
					dups.Store(ev.ID, true)
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := count(t, a, "events"); n != 40 {
		t.Errorf("events = %d, want 40", n)
	}
	if n := count(t, a, "deliveries"); n != 80 {
		t.Errorf("deliveries = %d, want 80", n)
	}
}

// Events of one subject arriving at two instances at once see each other
// in some order: each one's previous status is the status of exactly one
// other, and the first sees none.
func testInstancesSubject(t *testing.T, open func(testing.TB, *clock) *Store) {
	c := &clock{t: time.Unix(1700000000, 0)}
	a := open(t, c)
	b := sibling(t, a, c)
	ctx := context.Background()
	const n = 30
	prevs := make([]string, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		st := []*Store{a, b}[i%2]
		wg.Add(1)
		go func() {
			defer wg.Done()
			ev := newEvent("shared", fmt.Sprint("status-", i), i, false)
			res, err := st.Ingest(ctx, []*event.Event{ev}, toSinks(), nil)
			if err != nil {
				errs <- err
				return
			}
			prevs[i] = res.Stored[0].PreviousStatus
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, p := range prevs {
		seen[p]++
	}
	for p, k := range seen {
		if k != 1 {
			t.Errorf("previous status %q seen by %d events, want 1 (lost update between instances)", p, k)
		}
	}
	if seen[""] != 1 {
		t.Errorf("%d events saw no previous status, want 1", seen[""])
	}
}

// Callbacks whose events touch the same subjects in opposite orders, at
// two instances at once, all succeed: a deadlock between their
// transactions is retried, never answered with an error.
func testInstancesCrossed(t *testing.T, open func(testing.TB, *clock) *Store) {
	c := &clock{t: time.Unix(1700000000, 0)}
	a := open(t, c)
	b := sibling(t, a, c)
	ctx := context.Background()
	const pairs = 20
	var wg sync.WaitGroup
	errs := make(chan error, 2*pairs)
	for i := range pairs {
		for j, st := range []*Store{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				x := newEvent(fmt.Sprint("x", i), "pending", j, false)
				y := newEvent(fmt.Sprint("y", i), "pending", j, false)
				evs := []*event.Event{x, y}
				if j == 1 {
					evs = []*event.Event{y, x}
				}
				if _, err := st.Ingest(ctx, evs, toSinks("x"), nil); err != nil {
					errs <- fmt.Errorf("callback %d at instance %d: %w", i, j, err)
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := count(t, a, "deliveries"); n != 4*pairs {
		t.Errorf("deliveries = %d, want %d", n, 4*pairs)
	}
	t.Logf("batches run again after a deadlock: %d", a.w.conflicts.Load()+b.w.conflicts.Load())
}

// Text a vendor may send that not every database stores as is (NUL,
// invalid UTF-8) is accepted and delivered, not refused with 503 forever.
func testOddText(t *testing.T, open func(testing.TB, *clock) *Store) {
	st := open(t, &clock{t: time.Unix(1700000000, 0)})
	ctx := context.Background()
	ev := newEvent("sub\x00ject\xff", "failure", 1, true)
	plan := asPlanner(func(ev *event.Event) []rules.Match {
		return []rules.Match{{Rule: "r\x00", Sink: "a", Title: "t\x00itle \xc3", Text: "x\xffy"}}
	})
	res, err := st.Ingest(ctx, []*event.Event{ev}, plan, nil)
	if err != nil {
		t.Fatalf("intake: %v", err)
	}
	if len(res.Stored) != 1 || res.Deliveries != 1 {
		t.Fatalf("intake = %+v", res)
	}
	ds, err := st.Claim(ctx, "a", 10, time.Minute)
	if err != nil || len(ds) != 1 {
		t.Fatalf("claim = %v, %v", ds, err)
	}
	if err := st.Finish(ctx, Outcome{ID: ds[0].ID, Lease: ds[0].Lease, State: StateDead, Error: "bad \x00 reply \xfe"}); err != nil {
		t.Fatalf("finish: %v", err)
	}
}

// An event with more deliveries than one INSERT takes stores them all.
func TestFanOut(t *testing.T) {
	for name, open := range backends(t) {
		t.Run(name, func(t *testing.T) {
			st := open(t, &clock{t: time.Unix(1700000000, 0)})
			sinks := make([]string, 300) // several INSERTs' worth
			for i := range sinks {
				sinks[i] = fmt.Sprint("sink-", i)
			}
			res, err := st.Ingest(context.Background(), []*event.Event{newEvent("s1", "failure", 1, true)}, toSinks(sinks...), nil)
			if err != nil {
				t.Fatal(err)
			}
			if res.Deliveries != len(sinks) || len(res.Sinks) != len(sinks) {
				t.Errorf("intake = %d deliveries to %d sinks, want %d", res.Deliveries, len(res.Sinks), len(sinks))
			}
			if n := count(t, st, "deliveries"); n != len(sinks) {
				t.Errorf("deliveries = %d, want %d", n, len(sinks))
			}
			ds, err := st.Claim(context.Background(), "sink-299", 10, time.Minute)
			if err != nil || len(ds) != 1 {
				t.Errorf("claim of the last sink's delivery = %v, %v", ds, err)
			}
		})
	}
}
