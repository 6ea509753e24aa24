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

func TestSubjectHints(t *testing.T) {
	for name, open := range backends(t) {
		t.Run(name, func(t *testing.T) {
			t.Run("one subject, concurrent callbacks", func(t *testing.T) { testHintsConcurrent(t, open) })
			t.Run("two events of one subject in one callback", func(t *testing.T) { testHintsOneCallback(t, open) })
			t.Run("after a restart", func(t *testing.T) { testHintsRestart(t, open) })
		})
	}
}

// statusPlan routes every event to one delivery whose text records the
// state the event was routed for, so a test sees which plan was stored.
func statusPlan(ev *event.Event) rules.Result {
	return rules.Result{Matches: []rules.Match{{Rule: "r", Sink: "a", Title: "t",
		Text: fmt.Sprintf("prev=%s stale=%v", ev.PreviousStatus, ev.Stale)}}}
}

// checkChain checks, in commit order, that each event of subject saw the
// status of the one before it, that its delivery was planned for that
// state, and that the hint equals the stored subject state.
func checkChain(t *testing.T, st *Store, subject string) {
	t.Helper()
	rows, err := st.read.Query(st.d.q(`SELECT e.status, e.body, d.text FROM events e JOIN deliveries d ON d.event_id = e.id
		WHERE e.subject = ? ORDER BY d.created_at, d.id`), subject)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	// created_at ties within a commit: order by the events' own chain.
	type stored struct{ status, prev, text string }
	var evs []stored
	for rows.Next() {
		var s stored
		var body string
		if err := rows.Scan(&s.status, &body, &s.text); err != nil {
			t.Fatal(err)
		}
		ev, err := event.Decode([]byte(body))
		if err != nil {
			t.Fatal(err)
		}
		s.prev = ev.PreviousStatus
		if want := fmt.Sprintf("prev=%s stale=%v", ev.PreviousStatus, ev.Stale); s.text != want {
			t.Errorf("event %s stored with previous %q but its delivery was planned for %q", s.status, ev.PreviousStatus, s.text)
		}
		evs = append(evs, s)
	}
	// Every status but the first was some other event's previous status,
	// and each previous status names an event: the events form one chain.
	prevs := map[string]int{}
	for _, s := range evs {
		prevs[s.prev]++
	}
	if prevs[""] != 1 {
		t.Errorf("%d events saw no previous status, want 1 (the first): %+v", prevs[""], evs)
	}
	for _, s := range evs {
		if s.prev != "" && prevs[s.prev] != 1 {
			t.Errorf("previous status %q seen by %d events, want 1: %+v", s.prev, prevs[s.prev], evs)
		}
	}
	var status string
	var final int
	if err := st.read.QueryRow(st.d.q(`SELECT status, final FROM subjects WHERE source = ? AND subject = ?`), "test", subject).Scan(&status, &final); err != nil {
		t.Fatal(err)
	}
	// With several writers (Postgres) commits end concurrently and the
	// hint may lag: it is only a guess there.
	if hs, hf := st.hints.get("test", subject); st.d.writers <= 1 && (hs != status || hf != (final != 0)) {
		t.Errorf("hint = %q final %v, stored = %q final %d", hs, hf, status, final)
	}
}

// Many callbacks about one transaction at once, with distinct statuses,
// end in commit batches that hold several of them: each sees the one
// committed before it, as if routed one by one.
func testHintsConcurrent(t *testing.T, open func(testing.TB, *clock) *Store) {
	st := open(t, &clock{t: time.Unix(1700000000, 0)})
	const n = 40
	var wg sync.WaitGroup
	replanned := 0
	var mu sync.Mutex
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ev := newEvent("tx", fmt.Sprint("status-", i), i, false)
			res, err := st.Ingest(context.Background(), []*event.Event{ev}, statusPlan, nil)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			replanned += res.Replanned
			mu.Unlock()
		}()
	}
	wg.Wait()
	checkChain(t, st, "tx")
	if replanned == 0 {
		t.Errorf("no event was routed again, though %d raced for one subject", n)
	}
}

// Two events of one subject in one callback: the second sees the first.
func testHintsOneCallback(t *testing.T, open func(testing.TB, *clock) *Store) {
	st := open(t, &clock{t: time.Unix(1700000000, 0)})
	a, b := newEvent("tx", "pending", 1, false), newEvent("tx", "success", 2, true)
	res, err := st.Ingest(context.Background(), []*event.Event{a, b}, statusPlan, nil)
	if err != nil {
		t.Fatal(err)
	}
	// The second was routed for the state the first leaves: no second
	// routing in the writer.
	if a.PreviousStatus != "" || b.PreviousStatus != "pending" || b.Stale || res.Replanned != 0 {
		t.Errorf("previous %q, %q stale %v, replanned %d; want \"\", \"pending\", false, 0", a.PreviousStatus, b.PreviousStatus, b.Stale, res.Replanned)
	}
	checkChain(t, st, "tx")
}

// A restarted store remembers no subject: its first event of an old
// subject is routed again for the stored state, and the hint learns it.
func testHintsRestart(t *testing.T, open func(testing.TB, *clock) *Store) {
	c := &clock{t: time.Unix(1700000000, 0)}
	st := open(t, c)
	if _, err := st.Ingest(context.Background(), []*event.Event{newEvent("tx", "success", 1, true)}, statusPlan, nil); err != nil {
		t.Fatal(err)
	}
	st.hints = subjectHints{} // as a new process on the same database
	late := newEvent("tx", "pending", 2, false)
	res, err := st.Ingest(context.Background(), []*event.Event{late}, statusPlan, nil)
	if err != nil {
		t.Fatal(err)
	}
	if late.PreviousStatus != "success" || !late.Stale || res.Replanned != 1 {
		t.Errorf("late event: previous %q stale %v replanned %d; want success, true, 1", late.PreviousStatus, late.Stale, res.Replanned)
	}
	checkChain(t, st, "tx")
}
