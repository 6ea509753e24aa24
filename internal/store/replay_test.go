package store

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/switchboard/switchboard/internal/event"
)

// A bulk retry re-queues each delivery that was dead when it started once:
// one a worker sends and fails again while the later batches run (the sink
// still refuses everything) stays dead, not re-queued and sent again by
// the next batch, and the retry ends.
func TestRetryMatchingOnce(t *testing.T) {
	for name, open := range backends(t) {
		t.Run(name, func(t *testing.T) {
			c := &clock{t: time.Unix(1700000000, 0)}
			st := open(t, c)
			ctx := context.Background()
			const dead = 6
			var evs []*event.Event
			for i := range dead {
				evs = append(evs, newEvent(fmt.Sprint("s", i), "failure", i, true))
			}
			if _, err := st.Ingest(ctx, evs, toSinks("a"), nil); err != nil {
				t.Fatal(err)
			}
			fail := func() int {
				ds, err := st.Claim(ctx, "a", 100, time.Minute)
				if err != nil {
					t.Fatal(err)
				}
				for _, d := range ds {
					if err := st.Finish(ctx, Outcome{ID: d.ID, Lease: d.Lease, State: StateDead, Error: "404", Started: c.now()}); err != nil {
						t.Fatal(err)
					}
				}
				return len(ds)
			}
			if n := fail(); n != dead {
				t.Fatalf("%d deliveries made dead, want %d", n, dead)
			}
			old := retryBatch
			retryBatch = 2
			t.Cleanup(func() { retryBatch = old })
			sent, batches := 0, 0
			st.hookRetried = func() {
				batches++
				if batches > 3*dead {
					return // the retry loops: let it end, the count below fails
				}
				c.add(time.Millisecond)
				sent += fail() // a worker sends them at once, and the sink refuses again
				c.add(time.Millisecond)
			}
			n, err := st.RetryMatching(ctx, Filter{Sink: "a"})
			if err != nil {
				t.Fatal(err)
			}
			if n != dead || sent != dead {
				t.Errorf("retry re-queued %d and the worker sent %d, want each of the %d dead once", n, sent, dead)
			}
		})
	}
}
