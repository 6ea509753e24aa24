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

func TestThreads(t *testing.T) {
	for name, open := range backends(t) {
		t.Run(name, func(t *testing.T) {
			t.Run("claim in order", func(t *testing.T) { testThreadOrder(t, open) })
			t.Run("anchor", func(t *testing.T) { testThreadAnchor(t, open) })
			t.Run("instances open once", func(t *testing.T) { testThreadInstances(t, open) })
			t.Run("prune", func(t *testing.T) { testThreadPrune(t, open) })
		})
	}
}

// threadEvent is an event received at second i, so its deliveries sort
// after those of earlier ones.
func threadEvent(subject string, i int) *event.Event {
	ev := &event.Event{Source: "test", Type: "test", Subject: subject, Status: "pending", Code: i,
		DedupKey: fmt.Sprintf("%s|%d", subject, i)}
	ev.Seal("r", time.Date(2026, 1, 1, 0, 0, i, 0, time.UTC))
	return ev
}

// toThreads routes every event to sink "s", threaded by subject except for
// subject "none".
func toThreads() Planner {
	return asPlanner(func(ev *event.Event) []rules.Match {
		m := rules.Match{Rule: "r", Sink: "s", Title: ev.Title(), Text: ev.Text(), Thread: ev.Subject}
		if ev.Subject == "none" {
			m.Thread = ""
		}
		return []rules.Match{m}
	})
}

// refuseHandoff fails the test if intake offers it a threaded delivery.
type refuseHandoff struct {
	t       *testing.T
	offered int
}

func (h *refuseHandoff) Reserve(string) (time.Duration, bool) { h.offered++; return time.Minute, true }
func (h *refuseHandoff) Unreserve(string)                     {}
func (h *refuseHandoff) Take(ds []*Delivery) {
	for _, d := range ds {
		if d.Subject != "none" {
			h.t.Errorf("threaded delivery %s handed over", d.ID)
		}
	}
}

func claimSubjects(t *testing.T, st *Store) map[string]*Delivery {
	t.Helper()
	ds, err := st.ClaimOrdered(context.Background(), "s", 10, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*Delivery{}
	for _, d := range ds {
		ev, err := event.Decode(d.EventJSON)
		if err != nil {
			t.Fatal(err)
		}
		if _, dup := out[ev.Subject]; dup {
			t.Errorf("two deliveries of thread %q claimed at once", ev.Subject)
		}
		out[ev.Subject+fmt.Sprint(ev.Code)] = d
	}
	return out
}

// A thread's deliveries are claimed one at a time, in order: a later one
// waits while an earlier one is leased or waiting for its retry.
func testThreadOrder(t *testing.T, open func(testing.TB, *clock) *Store) {
	c := &clock{t: time.Unix(1800000000, 0)}
	st := open(t, c)
	ctx := context.Background()
	h := &refuseHandoff{t: t}
	for i, subj := range []string{"fax1", "fax2", "fax1", "none", "fax1"} {
		if _, err := st.Ingest(ctx, []*event.Event{threadEvent(subj, i)}, toThreads(), h); err != nil {
			t.Fatal(err)
		}
	}
	if h.offered != 1 {
		t.Errorf("handoff offered %d deliveries, want only the un-threaded one", h.offered)
	}
	got := claimSubjects(t, st)
	if len(got) != 2 || got["fax10"] == nil || got["fax21"] == nil {
		t.Fatalf("first claim = %v, want the first of fax1 and of fax2 (the un-threaded one was handed over)", keys(got))
	}
	if got["fax10"].ThreadKey != "fax1" {
		t.Errorf("thread key = %q", got["fax10"].ThreadKey)
	}
	// Leased: the later ones of fax1 wait, also once nothing else is due.
	c.add(2 * time.Minute) // the leases expired: the same deliveries are due again, not later ones
	again := claimSubjects(t, st)
	if len(again) != 3 || again["fax10"] == nil || again["fax21"] == nil || again["none3"] == nil {
		t.Fatalf("claim after lease expiry = %v, want fax10, fax21 and (its handover lease expired too) none3", keys(again))
	}
	// fax1's first fails and waits for a retry: fax1's second still waits.
	first := again["fax10"]
	retryAt := c.now().Add(time.Hour)
	if err := st.Finish(ctx, Outcome{ID: first.ID, Lease: first.Lease, State: StatePending, NextAttemptAt: retryAt, Error: "429"},
		Outcome{ID: again["fax21"].ID, Lease: again["fax21"].Lease, State: StateDelivered},
		Outcome{ID: again["none3"].ID, Lease: again["none3"].Lease, State: StateDelivered}); err != nil {
		t.Fatal(err)
	}
	if got := claimSubjects(t, st); len(got) != 0 {
		t.Fatalf("claim while fax1's first waits for its retry = %v, want none", keys(got))
	}
	next, err := st.NextDueOrdered(ctx, "s")
	if err != nil || !next.Equal(retryAt.Truncate(time.Millisecond)) {
		t.Errorf("NextDueOrdered = %v, %v; want the retry at %v (not the blocked ones, due now)", next, err, retryAt)
	}
	if plain, _ := st.NextDue(ctx, "s"); !plain.Before(retryAt) {
		t.Errorf("NextDue = %v: the test does not see the blocked deliveries", plain)
	}
	c.add(time.Hour)
	got = claimSubjects(t, st)
	if len(got) != 1 || got["fax10"] == nil {
		t.Fatalf("claim at the retry = %v, want fax10", keys(got))
	}
	if err := st.Finish(ctx, Outcome{ID: got["fax10"].ID, Lease: got["fax10"].Lease, State: StateDelivered}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"fax12", "fax14"} {
		got = claimSubjects(t, st)
		if len(got) != 1 || got[want] == nil {
			t.Fatalf("claim = %v, want %s", keys(got), want)
		}
		if err := st.Finish(ctx, Outcome{ID: got[want].ID, Lease: got[want].Lease, State: StateDead, Error: "gone"}); err != nil {
			t.Fatal(err)
		}
	}
}

func keys(m map[string]*Delivery) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func testThreadAnchor(t *testing.T, open func(testing.TB, *clock) *Store) {
	c := &clock{t: time.Unix(1800000000, 0)}
	st := open(t, c)
	ctx := context.Background()
	until := c.now().Add(time.Minute)
	th, err := st.OpenThread(ctx, "s", "k", "d1", "o1", until)
	if err != nil || !th.Mine || th.TS != "" {
		t.Fatalf("first open = %+v, %v; want it mine", th, err)
	}
	// Another delivery finds the first message being posted.
	if th, err := st.OpenThread(ctx, "s", "k", "d2", "o2", until); err != nil || th.Mine || th.TS != "" || th.LastDelivery != "d1" {
		t.Fatalf("open while posting = %+v, %v", th, err)
	}
	if err := st.AnchorThread(ctx, "s", "k", "o2", "C1", "1.1"); err != ErrThreadLost {
		t.Errorf("anchor by a non-owner = %v, want ErrThreadLost", err)
	}
	if err := st.AnchorThread(ctx, "s", "k", "o1", "C1", "1.1"); err != nil {
		t.Fatal(err)
	}
	th, err = st.OpenThread(ctx, "s", "k", "d2", "o2", until)
	if err != nil || th.Mine || th.Channel != "C1" || th.TS != "1.1" || th.LastDelivery != "d1" {
		t.Fatalf("open after anchor = %+v, %v", th, err)
	}
	if err := st.ThreadPosted(ctx, "s", "k", "d2"); err != nil {
		t.Fatal(err)
	}
	// The parent was deleted: re-anchor once, from the ts seen.
	if err := st.ReanchorThread(ctx, "s", "k", "1.1", "C1", "2.2", "d3"); err != nil {
		t.Fatal(err)
	}
	if err := st.ReanchorThread(ctx, "s", "k", "1.1", "C1", "3.3", "d4"); err != nil {
		t.Fatal(err)
	}
	if th, ok, err := st.GetThread(ctx, "s", "k"); err != nil || !ok || th.TS != "2.2" || th.LastDelivery != "d3" {
		t.Fatalf("after re-anchor = %+v, %v, %v; want ts 2.2 by d3", th, ok, err)
	}

	// A failed first post is released: the next attempt takes it at once.
	if th, _ := st.OpenThread(ctx, "s", "j", "d1", "o1", until); !th.Mine {
		t.Fatal("not mine")
	}
	if err := st.ReleaseThread(ctx, "s", "j", "o1"); err != nil {
		t.Fatal(err)
	}
	if th, _ := st.OpenThread(ctx, "s", "j", "d2", "o2", until); !th.Mine {
		t.Errorf("open after release: not mine")
	}
	// An attempt that died while posting: a retry of the same delivery
	// takes over at once, another delivery once the owner's time is up.
	if th, _ := st.OpenThread(ctx, "s", "j", "d2", "o3", until); !th.Mine {
		t.Errorf("retry of the same delivery: not mine")
	}
	if th, _ := st.OpenThread(ctx, "s", "j", "d4", "o4", until); th.Mine {
		t.Errorf("another delivery took over before the owner's time ran out")
	}
	c.add(2 * time.Minute)
	if th, _ := st.OpenThread(ctx, "s", "j", "d4", "o4", c.now().Add(time.Minute)); !th.Mine {
		t.Errorf("another delivery did not take over after the owner's time")
	}
	if err := st.AnchorThread(ctx, "s", "j", "o3", "C1", "9.9"); err != ErrThreadLost {
		t.Errorf("anchor by the owner taken over = %v, want ErrThreadLost", err)
	}
}

// Instances opening one thread at once: exactly one posts its first
// message.
func testThreadInstances(t *testing.T, open func(testing.TB, *clock) *Store) {
	c := &clock{t: time.Unix(1800000000, 0)}
	a := open(t, c)
	b := sibling(t, a, c)
	ctx := context.Background()
	for round := range 5 {
		key := fmt.Sprint("k", round)
		var wg sync.WaitGroup
		var mu sync.Mutex
		mine := 0
		for i := range 6 {
			st := []*Store{a, b}[i%2]
			wg.Add(1)
			go func() {
				defer wg.Done()
				th, err := st.OpenThread(ctx, "s", key, fmt.Sprint("d", i), fmt.Sprint("o", i), c.now().Add(time.Minute))
				if err != nil {
					t.Error(err)
					return
				}
				if th.Mine {
					mu.Lock()
					mine++
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if mine != 1 {
			t.Fatalf("round %d: %d attempts own the first message, want 1", round, mine)
		}
	}
}

// Anchors go with retention.delivered, unless a delivery waits for them.
func testThreadPrune(t *testing.T, open func(testing.TB, *clock) *Store) {
	c := &clock{t: time.Unix(1800000000, 0)}
	st := open(t, c)
	ctx := context.Background()
	for _, key := range []string{"fax1", "old"} {
		if th, err := st.OpenThread(ctx, "s", key, "d", "o", c.now()); err != nil || !th.Mine {
			t.Fatal(th, err)
		}
		if err := st.AnchorThread(ctx, "s", key, "o", "C1", "1.1"); err != nil {
			t.Fatal(err)
		}
	}
	// A pending delivery of thread fax1 keeps its anchor.
	if _, err := st.Ingest(ctx, []*event.Event{threadEvent("fax1", 1)}, toThreads(), nil); err != nil {
		t.Fatal(err)
	}
	c.add(8 * 24 * time.Hour)
	p, err := st.Prune(ctx, Retention{Delivered: 7 * 24 * time.Hour, Dead: 30 * 24 * time.Hour}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if p.Threads != 1 {
		t.Errorf("pruned %d threads, want 1", p.Threads)
	}
	if _, ok, _ := st.GetThread(ctx, "s", "old"); ok {
		t.Error("idle thread kept")
	}
	if _, ok, _ := st.GetThread(ctx, "s", "fax1"); !ok {
		t.Error("thread with a pending delivery pruned")
	}
}
