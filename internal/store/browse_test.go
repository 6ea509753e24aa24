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

func TestBrowse(t *testing.T) {
	for name, open := range backends(t) {
		t.Run(name, func(t *testing.T) {
			t.Run("keyset pages", func(t *testing.T) { testPages(t, open) })
			t.Run("counts, until, retry matching", func(t *testing.T) { testCountsRetryMatching(t, open) })
			t.Run("timeline", func(t *testing.T) { testTimeline(t, open) })
		})
	}
}

// receivedAt is an event of subject received at, so delivery ids sort by it.
func receivedAt(subject, status string, code int, at time.Time) *event.Event {
	ev := &event.Event{Source: "test", Type: "test", Subject: subject, Status: status, Code: code,
		DedupKey: fmt.Sprintf("%s|%d", subject, code)}
	ev.Seal("r", at)
	return ev
}

// Paging by the last id walks the whole log newest first, each delivery
// once, and a page after the newest id holds only newer deliveries.
func testPages(t *testing.T, open func(testing.TB, *clock) *Store) {
	c := &clock{t: time.Unix(1700000000, 0)}
	st := open(t, c)
	ctx := context.Background()
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	const n = 7
	for i := range n {
		if _, err := st.Ingest(ctx, []*event.Event{receivedAt(fmt.Sprint("s", i), "failure", i, base.Add(time.Duration(i)*time.Second))}, toSinks("a"), nil); err != nil {
			t.Fatal(err)
		}
	}
	var seen []string
	before := ""
	for page := 0; ; page++ {
		ds, err := st.Page(ctx, Filter{Limit: 3}, before, "")
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range ds {
			seen = append(seen, d.Subject)
		}
		if len(ds) < 3 {
			break
		}
		before = ds[len(ds)-1].ID
		if page > n {
			t.Fatal("paging does not end")
		}
	}
	if want := []string{"s6", "s5", "s4", "s3", "s2", "s1", "s0"}; !slices.Equal(seen, want) {
		t.Fatalf("pages walked %v, want %v", seen, want)
	}
	all, _ := st.Page(ctx, Filter{}, "", "")
	newer, err := st.Page(ctx, Filter{}, "", all[2].ID)
	if err != nil || len(newer) != 2 || newer[0].Subject != "s6" || newer[1].Subject != "s5" {
		t.Fatalf("after %s: %+v, %v; want s6, s5", all[2].Subject, newer, err)
	}
	// More new deliveries than a page (the live log polling after a
	// burst): the pages after an id follow on from it, none skipped.
	seen, after := nil, all[n-1].ID
	for page := 0; page <= n; page++ {
		ds, err := st.Page(ctx, Filter{Limit: 3}, "", after)
		if err != nil {
			t.Fatal(err)
		}
		if len(ds) == 0 {
			break
		}
		var subjects []string
		for _, d := range ds {
			subjects = append(subjects, d.Subject)
		}
		seen = append(subjects, seen...) // each page newest first, above the last
		after = ds[0].ID
	}
	if want := []string{"s6", "s5", "s4", "s3", "s2", "s1"}; !slices.Equal(seen, want) {
		t.Fatalf("pages after s0 walked %v, want %v", seen, want)
	}
}

// Counts per state follow the filter (but its state); RetryMatching
// re-queues only the dead deliveries the filter matches.
func testCountsRetryMatching(t *testing.T, open func(testing.TB, *clock) *Store) {
	c := &clock{t: time.Unix(1700000000, 0)}
	st := open(t, c)
	ctx := context.Background()
	plan := asPlanner(func(ev *event.Event) []rules.Match {
		return []rules.Match{{Rule: "r1", Sink: "a", Title: "t", Text: "x"}, {Rule: "r2", Sink: "a", Title: "t", Text: "x"}}
	})
	for i, s := range []string{"s1", "s2"} {
		if _, err := st.Ingest(ctx, []*event.Event{newEvent(s, "failure", i, true)}, plan, nil); err != nil {
			t.Fatal(err)
		}
	}
	created := c.now()
	c.add(time.Hour)
	ds, err := st.Claim(ctx, "a", 10, time.Minute)
	if err != nil || len(ds) != 4 {
		t.Fatalf("claim: %d, %v", len(ds), err)
	}
	for _, d := range ds {
		state := StateDead
		if d.Rule == "r1" && d.EventID == newEvent("s1", "failure", 0, true).ID {
			state = StateDelivered
		}
		if err := st.Finish(ctx, Outcome{ID: d.ID, Lease: d.Lease, State: state, Started: c.now()}); err != nil {
			t.Fatal(err)
		}
	}
	counts, err := st.CountStates(ctx, Filter{State: StateDelivered})
	if err != nil || counts[StateDead] != 3 || counts[StateDelivered] != 1 {
		t.Fatalf("counts = %v, %v; want 3 dead, 1 delivered", counts, err)
	}
	if counts, _ := st.CountStates(ctx, Filter{Subject: "s2"}); counts[StateDead]+counts[StateDelivered] != 2 {
		t.Errorf("counts of subject s2 = %v, want its 2 deliveries", counts)
	}
	if counts, _ := st.CountStates(ctx, Filter{Until: created}); len(counts) != 0 {
		t.Errorf("counts until before the first delivery = %v, want none", counts)
	}
	if counts, _ := st.CountStates(ctx, Filter{Until: created.Add(time.Millisecond)}); counts[StateDead]+counts[StateDelivered] != 4 {
		t.Errorf("counts until just after = %v, want all 4", counts)
	}
	n, err := st.RetryMatching(ctx, Filter{Rule: "r2", Subject: "s2", State: StateDelivered})
	if err != nil || n != 1 {
		t.Fatalf("retry rule r2, subject s2 = %d, %v; want 1", n, err)
	}
	dead, _ := st.List(ctx, Filter{State: StateDead})
	pending, _ := st.List(ctx, Filter{State: StatePending})
	if len(dead) != 2 || len(pending) != 1 || pending[0].Rule != "r2" || pending[0].Subject != "s2" {
		t.Errorf("after retry: %d dead, pending %+v; want 2 dead and r2/s2 pending", len(dead), pending)
	}
}

// A subject's timeline lists its events in the order they were received,
// each with its own deliveries, and nothing of other subjects or sources.
func testTimeline(t *testing.T, open func(testing.TB, *clock) *Store) {
	c := &clock{t: time.Unix(1700000000, 0)}
	st := open(t, c)
	ctx := context.Background()
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	// Ingested out of order: the timeline sorts by reception.
	for _, ev := range []*event.Event{
		receivedAt("fax1", "failure", 2, base.Add(2*time.Second)),
		receivedAt("fax1", "pending", 1, base.Add(time.Second)),
		receivedAt("other", "success", 3, base),
	} {
		if _, err := st.Ingest(ctx, []*event.Event{ev}, toSinks("a", "b"), nil); err != nil {
			t.Fatal(err)
		}
	}
	evs, err := st.Timeline(ctx, []string{"test"}, "fax1")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range evs {
		got = append(got, fmt.Sprintf("%s:%d", e.Status, len(e.Deliveries)))
		for _, d := range e.Deliveries {
			if d.EventID != e.ID {
				t.Errorf("event %s lists delivery %s of event %s", e.ID, d.ID, d.EventID)
			}
		}
	}
	if want := []string{"pending:2", "failure:2"}; !slices.Equal(got, want) {
		t.Errorf("timeline = %v, want %v", got, want)
	}
	if evs, _ := st.Timeline(ctx, []string{"interfax"}, "fax1"); len(evs) != 0 {
		t.Errorf("timeline of another source = %d events, want none", len(evs))
	}
}
