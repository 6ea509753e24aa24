package store

import (
	"context"
	"testing"
	"time"

	"github.com/switchboard/switchboard/internal/event"
)

func TestMatchSinks(t *testing.T) {
	for name, open := range backends(t) {
		t.Run(name, func(t *testing.T) { testMatchSinks(t, open) })
	}
}

func testMatchSinks(t *testing.T, open func(testing.TB, *clock) *Store) {
	c := &clock{t: time.Unix(1700000000, 0)}
	st := open(t, c)
	ctx := context.Background()
	if _, err := st.Ingest(ctx, []*event.Event{newEvent("s1", "failure", 1, true)}, toSinks("a", "b"), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Ingest(ctx, []*event.Event{newEvent("s2", "failure", 1, true)}, toSinks("b"), nil); err != nil {
		t.Fatal(err)
	}
	states := func() map[string]int {
		t.Helper()
		ds, err := st.List(ctx, Filter{})
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]int{}
		for _, d := range ds {
			out[d.Sink+":"+d.State]++
		}
		return out
	}
	check := func(what string, held, resumed, wantHeld, wantResumed int, want map[string]int) {
		t.Helper()
		if held != wantHeld || resumed != wantResumed {
			t.Errorf("%s: held %d resumed %d, want %d and %d", what, held, resumed, wantHeld, wantResumed)
		}
		got := states()
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s: states = %v, want %v", what, got, want)
				return
			}
		}
	}

	held, resumed, err := st.MatchSinks(ctx, []string{"b"})
	if err != nil {
		t.Fatal(err)
	}
	check("sink a removed", held, resumed, 1, 0, map[string]int{"a:no_sink": 1, "b:pending": 2})
	// A held delivery is never claimed.
	if ds, err := st.Claim(ctx, "a", 10, time.Minute); err != nil || len(ds) != 0 {
		t.Errorf("claimed %d held deliveries (%v)", len(ds), err)
	}
	held, resumed, err = st.MatchSinks(ctx, []string{"b"})
	if err != nil {
		t.Fatal(err)
	}
	check("same sinks again", held, resumed, 0, 0, map[string]int{"a:no_sink": 1})

	c.add(time.Hour)
	held, resumed, err = st.MatchSinks(ctx, []string{"a", "b"})
	if err != nil {
		t.Fatal(err)
	}
	check("sink a back", held, resumed, 0, 1, map[string]int{"a:pending": 1, "b:pending": 2})
	ds, err := st.Claim(ctx, "a", 10, time.Minute)
	if err != nil || len(ds) != 1 {
		t.Fatalf("claimed %d resumed deliveries (%v), want 1 due at once", len(ds), err)
	}

	held, _, err = st.MatchSinks(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	check("no sinks at all", held, 0, 3, 0, map[string]int{"a:no_sink": 1, "b:no_sink": 2})
}

// An attempt in flight when its sink leaves the configuration: a retry
// outcome keeps the delivery held as no_sink, a success is recorded.
func TestMatchSinksInFlight(t *testing.T) {
	for name, open := range backends(t) {
		t.Run(name, func(t *testing.T) {
			st := open(t, &clock{t: time.Unix(1700000000, 0)})
			ctx := context.Background()
			if _, err := st.Ingest(ctx, []*event.Event{newEvent("s1", "failure", 1, true), newEvent("s2", "failure", 1, true)}, toSinks("gone"), nil); err != nil {
				t.Fatal(err)
			}
			ds, err := st.Claim(ctx, "gone", 10, time.Minute)
			if err != nil || len(ds) != 2 {
				t.Fatalf("claim: %v %v", ds, err)
			}
			if held, _, err := st.MatchSinks(ctx, []string{"other"}); err != nil || held != 2 {
				t.Fatalf("held %d, %v", held, err)
			}
			if err := st.Finish(ctx,
				Outcome{ID: ds[0].ID, Lease: ds[0].Lease, State: StatePending, NextAttemptAt: st.now().Add(time.Second), Status: 503, Error: "503"},
				Outcome{ID: ds[1].ID, Lease: ds[1].Lease, State: StateDelivered, Status: 200}); err != nil {
				t.Fatal(err)
			}
			for i, want := range []string{StateNoSink, StateDelivered} {
				d, _, err := st.Get(ctx, ds[i].ID)
				if err != nil || d.State != want {
					t.Errorf("delivery %d: %v %v, want %s", i, d, err, want)
				}
			}
		})
	}
}
