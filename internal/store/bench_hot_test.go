package store

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard/switchboard/internal/event"
	"github.com/switchboard/switchboard/rules"
)

// takeAll is a Handoff that accepts every delivery and collects them.
type takeAll struct {
	mu sync.Mutex
	ds []*Delivery
}

func (h *takeAll) Reserve(string) (time.Duration, bool) { return time.Minute, true }
func (h *takeAll) Unreserve(string)                     {}
func (h *takeAll) Take(ds []*Delivery) {
	h.mu.Lock()
	h.ds = append(h.ds, ds...)
	h.mu.Unlock()
}

// BenchmarkHotPath is the store's share of one callback on the hot path:
// its intake with one delivery handed over, and the outcome of that
// delivery recorded, from 64 concurrent callers as the server and the
// ledger make them. ns/op is the writer's cost per callback.
func BenchmarkHotPath(b *testing.B) {
	st, err := Open(context.Background(), filepath.Join(b.TempDir(), "hot.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	plan := func(ev *event.Event) rules.Result {
		return rules.Result{Matches: []rules.Match{{Rule: "all", Sink: "api", Title: ev.Title(), Text: ev.Text()}}, Matched: []string{"all"}}
	}
	var n atomic.Int64
	b.SetParallelism(32)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		h := &takeAll{}
		for pb.Next() {
			i := n.Add(1)
			ev := &event.Event{Source: "interfax", Type: "fax.outbound", Subject: fmt.Sprint(1000000 + i), Status: "success", Final: true,
				Description: "OK", DedupKey: fmt.Sprint(i), Data: map[string]any{"DestinationFax": "0012125551234", "PagesSent": 2}}
			ev.Seal("interfax", time.Now())
			if _, err := st.Ingest(ctx, []*event.Event{ev}, plan, h); err != nil {
				b.Error(err)
				return
			}
			h.mu.Lock()
			d := h.ds[len(h.ds)-1]
			h.mu.Unlock()
			if err := st.Finish(ctx, Outcome{ID: d.ID, Lease: d.Lease, State: StateDelivered, Started: time.Now()}); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
