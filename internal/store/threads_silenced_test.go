package store

import (
	"context"
	"testing"
	"time"

	"github.com/switchboard/switchboard/internal/event"
)

// A threaded message a silence held back keeps its thread key: retried by
// hand, it is claimed as a message of its thread (and posted as a reply),
// not as a message of its own in the channel.
func TestThreadSilencedRetry(t *testing.T) {
	for name, open := range backends(t) {
		t.Run(name, func(t *testing.T) {
			c := &clock{t: time.Unix(1800000000, 0)}
			st := open(t, c)
			ctx := context.Background()
			if _, err := st.AddSilence(ctx, Silence{Match: `code == 1`, Comment: "maintenance"}, time.Hour); err != nil {
				t.Fatal(err)
			}
			if err := st.RefreshSilences(ctx); err != nil {
				t.Fatal(err)
			}
			var silenced string
			for i := range 3 {
				ev := threadEvent("fax1", i)
				if _, err := st.Ingest(ctx, []*event.Event{ev}, toThreads(), nil); err != nil {
					t.Fatal(err)
				}
				if i == 1 {
					ds, err := st.List(ctx, Filter{EventID: ev.ID, Limit: 1})
					if err != nil || len(ds) != 1 || ds[0].State != StateSilenced {
						t.Fatalf("the event the silence matches: %v, %v", ds, err)
					}
					silenced = ds[0].ID
				}
			}
			for _, want := range []string{"fax10", "fax12"} {
				got := claimSubjects(t, st)
				if len(got) != 1 || got[want] == nil {
					t.Fatalf("claim = %v, want %s (the silenced one waits for nothing and blocks nothing)", keys(got), want)
				}
				if err := st.Finish(ctx, Outcome{ID: got[want].ID, Lease: got[want].Lease, State: StateDelivered}); err != nil {
					t.Fatal(err)
				}
			}
			if n, err := st.Retry(ctx, silenced); err != nil || n != 1 {
				t.Fatalf("retry the silenced one: %d, %v", n, err)
			}
			got := claimSubjects(t, st)
			if len(got) != 1 || got["fax11"] == nil {
				t.Fatalf("claim after the retry = %v, want fax11", keys(got))
			}
			if key := got["fax11"].ThreadKey; key != "fax1" {
				t.Errorf("the retried silenced delivery has thread key %q, want %q: it would post to the channel on its own", key, "fax1")
			}
		})
	}
}
