package store

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/switchboard/switchboard/internal/event"
)

func TestSilences(t *testing.T) {
	for name, open := range backends(t) {
		t.Run(name, func(t *testing.T) { testSilences(t, open) })
	}
}

func testSilences(t *testing.T, open func(testing.TB, *clock) *Store) {
	c := &clock{t: time.Unix(1700000000, 0)}
	st := open(t, c)
	other := st
	if st.Dialect() == "postgres" {
		other = sibling(t, st, c) // added on one instance, applied on another
	}
	ctx := context.Background()
	if _, err := st.AddSilence(ctx, Silence{Match: `subject + 1`, Comment: "x"}, time.Hour); err == nil {
		t.Fatal("a matcher that does not compile to a bool was stored")
	}
	sl, err := st.AddSilence(ctx, Silence{Match: `code == 7`, Sink: "b", Comment: "known", CreatedBy: "ops"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	states := func(s *Store, subject string, code int) map[string]string {
		t.Helper()
		if err := s.RefreshSilences(ctx); err != nil {
			t.Fatal(err)
		}
		ev := newEvent(subject, "failure", code, true)
		res, err := s.Ingest(ctx, []*event.Event{ev}, toSinks("a", "b"), nil)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		ds, err := s.List(ctx, Filter{EventID: ev.ID, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range ds {
			out[d.Sink] = d.State
		}
		if res.Silenced != countState(out, StateSilenced) {
			t.Errorf("IngestResult.Silenced = %d, stored %v", res.Silenced, out)
		}
		return out
	}
	if got := states(other, "s1", 7); got["a"] != StatePending || got["b"] != StateSilenced {
		t.Errorf("matching event: %v, want a pending and b silenced", got)
	}
	if got := states(other, "s2", 8); got["a"] != StatePending || got["b"] != StatePending {
		t.Errorf("event the silence does not match: %v, want both pending", got)
	}
	sls, err := st.Silences(ctx, false)
	if err != nil || len(sls) != 1 || sls[0].ID != sl.ID || sls[0].Comment != "known" || sls[0].CreatedBy != "ops" || !sls[0].Active {
		t.Fatalf("Silences = %+v, %v", sls, err)
	}
	// Retried by hand, a silenced delivery is pending again.
	ds, err := st.List(ctx, Filter{State: StateSilenced, Limit: 10})
	if err != nil || len(ds) != 1 {
		t.Fatalf("silenced deliveries: %v, %v", ds, err)
	}
	if n, err := st.Retry(ctx, ds[0].ID); err != nil || n != 1 {
		t.Errorf("Retry of a silenced delivery = %d, %v", n, err)
	}
	if err := st.ExpireSilence(ctx, sl.ID); err != nil {
		t.Fatal(err)
	}
	if err := st.ExpireSilence(ctx, sl.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("expiring an ended silence: %v, want ErrNotFound", err)
	}
	if got := states(other, "s3", 7); got["b"] != StatePending {
		t.Errorf("after expiry: %v, want b pending", got)
	}
	// One that ends on its own stops applying at its end, even before the
	// next refresh.
	if _, err := st.AddSilence(ctx, Silence{Match: `true`, Comment: "all"}, time.Minute); err != nil {
		t.Fatal(err)
	}
	if got := states(other, "s4", 1); got["a"] != StateSilenced || got["b"] != StateSilenced {
		t.Errorf("silence of every event: %v", got)
	}
	c.add(2 * time.Minute)
	ev := newEvent("s5", "failure", 1, true)
	if res, err := other.Ingest(ctx, []*event.Event{ev}, toSinks("a"), nil); err != nil || res.Silenced != 0 {
		t.Errorf("after the silence ended: %+v, %v", res, err)
	}
	if sls, _ := st.Silences(ctx, false); len(sls) != 0 {
		t.Errorf("silences in force after the end: %+v", sls)
	}
	if sls, _ := st.Silences(ctx, true); len(sls) != 2 {
		t.Errorf("every silence: %d, want 2", len(sls))
	}
}

func countState(m map[string]string, state string) int {
	n := 0
	for _, s := range m {
		if s == state {
			n++
		}
	}
	return n
}
