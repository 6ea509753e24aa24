package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"testing"
	"time"

	"github.com/switchboard/switchboard/internal/event"
)

// The events of one callback (a Telesign array: "sent", then "delivered"
// for one reference_id) share their received time to the millisecond.
// Their thread's messages still go out in the callback's order, so the
// thread ends on the last status, and update_parent leaves the parent
// showing it.
func TestThreadOrderWithinCallback(t *testing.T) {
	for name, open := range backends(t) {
		t.Run(name, func(t *testing.T) {
			st := open(t, &clock{t: time.Unix(1800000000, 0)})
			ctx := context.Background()
			at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			mk := func(code int) *event.Event {
				ev := &event.Event{Source: "test", Type: "test", Subject: "sms1", Status: "pending", Code: code,
					DedupKey: fmt.Sprintf("sms1|%d", code)}
				ev.Seal("r", at)
				return ev
			}
			// Pick a pair whose hashes sort against the callback's order, as
			// half of all pairs do.
			var first, second *event.Event
			for c := 1; second == nil; c++ {
				a, b := mk(0), mk(c)
				ha := sha256.Sum256([]byte(a.ID + "\x00r\x00s"))
				hb := sha256.Sum256([]byte(b.ID + "\x00r\x00s"))
				if bytes.Compare(hb[:], ha[:]) < 0 {
					first, second = a, b
				}
			}
			if _, err := st.Ingest(ctx, []*event.Event{first, second}, toThreads(), nil); err != nil {
				t.Fatal(err)
			}
			for i, want := range []*event.Event{first, second} {
				got := claimSubjects(t, st)
				d := got[want.Subject+fmt.Sprint(want.Code)]
				if len(got) != 1 || d == nil {
					t.Fatalf("claim %d = %v, want the callback's event %d (code %d)", i+1, keys(got), i+1, want.Code)
				}
				if err := st.Finish(ctx, Outcome{ID: d.ID, Lease: d.Lease, State: StateDelivered}); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}
