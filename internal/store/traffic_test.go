package store

import (
	"context"
	"testing"
	"time"

	"github.com/switchboard/switchboard/internal/event"
)

// A callback an instance notes late, older than the last one recorded
// before the receiver was judged silent (the instance was not watching
// the receiver when it took it), neither resumes the receiver nor lets it
// be judged silent again: only a later callback resumes it.
func TestTrafficOlderCallbackDoesNotResume(t *testing.T) {
	for name, open := range backends(t) {
		t.Run(name, func(t *testing.T) {
			c := &clock{t: time.Unix(1700000000, 0)}
			testTrafficOlder(t, open(t, c), c)
		})
	}
}

func testTrafficOlder(t *testing.T, st *Store, c *clock) {
	ctx := context.Background()
	t0 := c.now()
	mk := func(typ string) func() *event.Event {
		return func() *event.Event {
			ev := &event.Event{Source: "switchboard", Type: typ, Subject: "fax", Status: "unknown", DedupKey: typ + c.now().String()}
			ev.Seal("fax", c.now())
			return ev
		}
	}
	saw := func(at time.Time) bool {
		t.Helper()
		res, err := st.Traffic(ctx, "fax", at, mk("receiver.resumed"), expecting, nil)
		if err != nil {
			t.Fatal(err)
		}
		return res != nil
	}
	if err := st.WatchTraffic(ctx, "fax"); err != nil {
		t.Fatal(err)
	}
	c.add(5 * time.Minute)
	saw(t0.Add(5 * time.Minute))
	c.add(35 * time.Minute)
	if res, err := st.Quiet(ctx, "fax", 30*time.Minute, func(time.Time) *event.Event { return mk("receiver.silent")() }, expecting, nil); err != nil || res == nil {
		t.Fatalf("Quiet = %v, %v; want silent", res, err)
	}
	if saw(t0.Add(time.Minute)) {
		t.Error("a callback older than the last recorded one resumed the receiver")
	}
	if due, err := st.QuietDue(ctx, "fax", 30*time.Minute); err != nil || due {
		t.Errorf("QuietDue = %v, %v; want false: the receiver is still marked silent", due, err)
	}
	if !saw(t0.Add(40 * time.Minute)) {
		t.Error("a new callback did not resume the receiver")
	}
}
